"""Relabel: cross-entropy towards a fixed random other breed for each forget image."""

from kt_lib import losses as L
from kt_lib.methods.base import Method, need, register


@register
class Relabel(Method):
    name = "relabel"
    description = "CE towards a fixed random other fine label"

    def loss(self, x, cfg):
        return {"ce_other": L.ce(x.fine_logits, need(x, "other_labels", self.name))}
