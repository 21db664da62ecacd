"""SalUn: the relabel loss, updating only the weights most salient for forgetting (:func:`saliency_mask`);
after every step :func:`enforce_mask_` puts the others back (Adam's momentum moves zero-gradient weights)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kt_lib.losses import ga
from kt_lib.methods.base import register, snapshot
from kt_lib.methods.relabel import Relabel
from kt_lib.prompts import clip_logits

__all__ = ["SalUn", "saliency_mask", "forget_saliency_mask", "enforce_mask_"]
FRACTION = 0.5  # the default share of weights that may move (UnlearnConfig.salun_fraction)


def saliency_mask(grads: dict[str, Tensor], fraction: float) -> dict[str, Tensor]:
    """True for the top ``fraction`` of the non-zero ``|grad|`` over all parameters jointly (ties kept);
    weights the loss cannot reach are never salient."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if not grads:
        raise ValueError("saliency_mask got no gradients")
    dev = next(iter(grads.values())).device
    flat = torch.cat([g.detach().abs().flatten().float().to(dev) for g in grads.values()])
    flat = flat[flat > 0]
    n = flat.numel()
    if n == 0:
        raise ValueError("saliency_mask got only zero gradients: the loss reaches no weight")
    k = min(n, max(1, math.ceil(fraction * n)))
    threshold = flat.kthvalue(n - k + 1).values  # k-th largest
    return {
        name: (g.detach().abs().float() >= threshold.to(g.device)) & (g != 0)
        for name, g in grads.items()
    }


@torch.no_grad()
def enforce_mask_(model: nn.Module, mask: dict[str, Tensor], reference_state: dict[str, Tensor]):
    """In place: every parameter entry whose mask is False gets its ``reference_state`` value back."""
    params = dict(model.named_parameters())
    unknown = sorted(set(mask) - set(params))
    if unknown:
        raise KeyError(f"mask names not among the model's parameters: {unknown[:5]}")
    for name, m in mask.items():
        param = params[name]
        if m.shape != param.shape:
            raise ValueError(
                f"mask {name!r} has shape {tuple(m.shape)}, parameter {tuple(param.shape)}"
            )
        ref = reference_state[name].to(device=param.device, dtype=param.dtype)
        param.data.copy_(torch.where(m.to(param.device), param.data, ref))


def forget_saliency_mask(model, images, fine_labels, bank, batch_size: int, fraction: float):
    """SalUn's mask: the top `fraction` of |grad of -CE(fine)| over the forget set (template 0)."""
    model.zero_grad(set_to_none=True)
    for i in range(0, len(images), batch_size):
        tf, tc = bank.features(model, 0)
        fine_logits, _ = clip_logits(model, images[i : i + batch_size], tf, tc)
        batch_labels = fine_labels[i : i + batch_size]
        (ga(fine_logits.float(), batch_labels) * len(fine_logits) / len(images)).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return saliency_mask(grads, fraction)


@register
class SalUn(Relabel):
    name = "salun"
    description = "relabel loss, updates restricted to salient weights"
    settings = ("salun_fraction",)
    compact_vocabulary = False  # the mask covers full shapes, so the full token embedding stays

    def prepare(self, run):
        run.theta0 = snapshot(run.model, device=None)
        args = (run.images, run.fine_labels, run.bank, run.cfg.batch_size, run.cfg.salun_fraction)
        run.mask = forget_saliency_mask(run.model, *args)

    def after_step(self, run):
        enforce_mask_(run.model, run.mask, run.theta0)
