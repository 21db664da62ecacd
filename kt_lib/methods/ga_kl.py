"""GA+KL: gradient ascent plus the paper's two KL terms on the forget images (coarse, non-target fine)."""

from kt_lib import losses as L
from kt_lib.methods.base import GOALS, WithReference, forget_term, kl_terms, register


@register
class GAKL(WithReference):
    name = "ga_kl"
    description = "-CE + alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine)"
    bounded = False
    goals = GOALS
    settings = ("alpha_coarse", "alpha_fine", "reference")

    def loss(self, x, cfg):
        return {**forget_term(L.ga, x, cfg, "ga"), **kl_terms(x, cfg, self.name)}
