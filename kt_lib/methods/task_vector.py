"""Task vector: fine-tune towards the forget set (+CE), then step the same distance the other way."""

from __future__ import annotations

import torch
from torch import Tensor

from kt_lib import losses as L
from kt_lib.methods.base import Method, register, snapshot

LAMBDA = 1.0  # the default scale of the negation (UnlearnConfig.task_vector_lambda)


@register
class TaskVector(Method):
    name = "task_vector"
    description = "fine-tune towards the forget set (+CE), then negate the task vector"
    settings = ("task_vector_lambda",)

    def loss(self, x, cfg):
        return {"ce_fine": L.ce(x.fine_logits, x.fine_labels)}

    def prepare(self, run):
        run.theta0 = snapshot(run.model, device=None)

    def finish(self, run):
        theta = negate_task_vector(run.theta0, run.model.state_dict(), run.cfg.task_vector_lambda)
        run.model.load_state_dict(theta)


@torch.no_grad()
def negate_task_vector(
    theta0: dict[str, Tensor], theta_ft: dict[str, Tensor], lam: float
) -> dict[str, Tensor]:
    """A new state dict: ``theta0 - lam * (theta_ft - theta0)`` for floating tensors, computed in float32
    (float64 if given) and cast back, so bf16 weights keep the small task vector; others copied."""
    if set(theta0) != set(theta_ft):
        diff = sorted(set(theta0) ^ set(theta_ft))
        raise ValueError(f"state dicts have different keys, e.g. {diff[:5]}")

    def negate(t0: Tensor, ft: Tensor) -> Tensor:
        if not t0.is_floating_point():
            return t0.clone()
        a = t0.to(torch.promote_types(t0.dtype, torch.float32))
        return (a - lam * (ft.to(a) - a)).to(t0.dtype)

    return {name: negate(t0, theta_ft[name]) for name, t0 in theta0.items()}
