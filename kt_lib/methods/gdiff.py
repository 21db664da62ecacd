"""Gradient difference: ascend on the breed, descend on its group, on the same forget images."""

from kt_lib import losses as L
from kt_lib.methods.base import Method, register


@register
class GDiff(Method):
    name = "gdiff"
    description = "gradient difference: -CE(fine) + CE(coarse) on the same images"
    bounded = False

    def loss(self, x, cfg):
        return {
            "ga": L.ga(x.fine_logits, x.fine_labels),
            "ce_coarse": L.ce(x.coarse_logits, x.coarse_labels),
        }
