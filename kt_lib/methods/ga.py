"""Gradient ascent: maximise the forget images' cross-entropy. Unbounded, so it collapses the model."""

from kt_lib import losses as L
from kt_lib.methods.base import GOALS, Method, forget_term, register


@register
class GA(Method):
    name = "ga"
    description = "gradient ascent: -CE on the forget level"
    bounded = False
    goals = GOALS

    def loss(self, x, cfg):
        return forget_term(L.ga, x, cfg, "ga")
