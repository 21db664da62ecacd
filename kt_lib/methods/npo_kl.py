"""NPO+KL: negative preference optimisation against the original model, plus the two KL terms."""

from kt_lib import losses as L
from kt_lib.methods.base import WithReference, kl_terms, need, register


@register
class NPOKL(WithReference):
    name = "npo_kl"
    description = "NPO(beta, ref = original model) + the two KL terms"
    settings = ("beta", "alpha_coarse", "alpha_fine", "reference")

    def loss(self, x, cfg):
        ref = need(x, "ref_fine_logits", self.name)
        return {
            "npo": L.npo(x.fine_logits, ref, x.fine_labels, beta=cfg.beta),
            **kl_terms(x, cfg, self.name),
        }
