"""ME+GD: maximum entropy on the breeds, cross-entropy on the groups."""

from kt_lib import losses as L
from kt_lib.methods.base import Method, register


@register
class MEGD(Method):
    name = "me_gd"
    description = "maximum entropy on fine + CE(coarse)"

    def loss(self, x, cfg):
        return {
            "entropy": L.entropy_to_uniform(x.fine_logits),
            "ce_coarse": L.ce(x.coarse_logits, x.coarse_labels),
        }
