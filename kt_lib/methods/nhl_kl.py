"""NHL+KL, the paper's method: the bounded hinge plus KL over coarse labels and over the non-target breeds."""

from kt_lib import losses as L
from kt_lib.methods.base import GOALS, WithReference, forget_term, kl_terms, register


@register
class NHLKL(WithReference):
    name = "nhl_kl"
    description = "NHL + alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine) (the paper's)"
    goals = GOALS
    settings = ("margin", "alpha_coarse", "alpha_fine", "reference")

    def loss(self, x, cfg):
        return {
            **forget_term(L.nhl, x, cfg, "nhl", margin=cfg.margin),
            **kl_terms(x, cfg, self.name),
        }
