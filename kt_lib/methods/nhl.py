"""Negative hinge loss: push the target's logit `margin` below the best other class, and stop there."""

from kt_lib import losses as L
from kt_lib.methods.base import GOALS, Method, forget_term, register


@register
class NHL(Method):
    name = "nhl"
    description = "negative hinge loss: target pushed margin below the best other class"
    goals = GOALS
    settings = ("margin",)

    def loss(self, x, cfg):
        return forget_term(L.nhl, x, cfg, "nhl", margin=cfg.margin)
