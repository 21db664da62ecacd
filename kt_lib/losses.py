"""Loss terms for knowledge-tracing unlearning of CLIP, as pure tensor functions of CLIP logits ``[B, C]``
(forget images against all C class prompts) and ``labels`` ``[B]``. Logits are often negative, so columns
are removed by ``masked_fill(-inf)`` or gathering, never by a 0/1 mask; bf16/fp16 inputs are upcast to
float32; reference logits are detached.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _f32(x: Tensor) -> Tensor:
    """Upcast half/bfloat16 to float32 (differentiably)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check(logits: Tensor, labels: Tensor | None = None, ref: Tensor | None = None) -> None:
    if logits.dim() != 2:
        raise ValueError(f"logits must be [B, C], got shape {tuple(logits.shape)}")
    if labels is not None and labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must be [B]={logits.shape[0]}, got shape {tuple(labels.shape)}")
    if ref is not None and ref.shape != logits.shape:
        raise ValueError(f"shape mismatch: now {tuple(logits.shape)} vs ref {tuple(ref.shape)}")


def kl_div(logits_now: Tensor, logits_ref: Tensor) -> Tensor:
    """KL(p_ref || p_now) between the softmaxes of two logit matrices, ``ref`` detached. WARNING: reduced
    by ``sum / numel`` (all B*C elements), NOT ``batchmean``: the value is ``batchmean_KL / C``, so the
    alphas are C times batchmean ones. The paper's convention: do not "fix" it without rescaling them."""
    _check(logits_now, ref=logits_ref)
    log_now = F.log_softmax(_f32(logits_now), dim=-1)
    log_ref = F.log_softmax(_f32(logits_ref.detach()), dim=-1)
    return F.kl_div(log_now, log_ref, reduction="sum", log_target=True) / logits_now.numel()


def _drop_target(logits: Tensor, labels: Tensor) -> Tensor:
    """[B, C] -> [B, C-1]: each row without its target column, by a gather (a boolean mask would sync)."""
    b, c = logits.shape
    cols = torch.arange(c - 1, device=logits.device).expand(b, c - 1)
    return logits.gather(1, cols + (cols >= labels.long().unsqueeze(1)).long())


def kl_fine_nontarget(fine_now: Tensor, fine_ref: Tensor, labels: Tensor) -> Tensor:
    """:func:`kl_div` over each row's C-1 non-target columns (renormalised; numel = B*(C-1)): keeps the
    shape of the confusion among the other classes while leaving the target free."""
    _check(fine_now, labels, fine_ref)
    if fine_now.shape[-1] < 2:
        raise ValueError("kl_fine_nontarget needs at least 2 classes")
    return kl_div(_drop_target(fine_now, labels), _drop_target(fine_ref, labels))


def nontarget_max(logits: Tensor, labels: Tensor) -> Tensor:
    """``max_{y' != y} logits[i, y']`` per row, [B]; the target is masked with -inf, never zeroed."""
    _check(logits, labels)
    if logits.shape[-1] < 2:
        raise ValueError("nontarget_max needs at least 2 classes")
    target = F.one_hot(labels.long(), logits.shape[-1]).bool()
    return logits.masked_fill(target, float("-inf")).max(dim=-1).values


def nhl(logits: Tensor, labels: Tensor, margin: float = 2.0) -> Tensor:
    """Negative hinge loss ``mean(clamp(margin + s_y - max_{y'!=y} s_y', min=0))``: bounded below by 0,
    so forgetting stops once the target is ``margin`` below the best other logit (unlike :func:`ga`)."""
    _check(logits, labels)
    logits = _f32(logits)
    s_y = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return torch.clamp(margin + s_y - nontarget_max(logits, labels), min=0).mean()


def ce(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy, computed in float32 for low-precision inputs."""
    _check(logits, labels)
    return F.cross_entropy(_f32(logits), labels.long())


def ga(logits: Tensor, labels: Tensor) -> Tensor:
    """Gradient ascent: ``-CE``. Unbounded below (-> -inf as the target logit -> -inf)."""
    return -ce(logits, labels)


def npo(logits: Tensor, ref_logits: Tensor, labels: Tensor, beta: float = 0.5) -> Tensor:
    """Negative preference optimisation, ``mean(-logsigmoid(beta * (CE_now - CE_ref))) * 2 / beta``
    against the original model's (detached) ``ref_logits``; ``2 * log(2) / beta`` at CE_now == CE_ref."""
    _check(logits, labels, ref_logits)
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    ce_now = F.cross_entropy(_f32(logits), labels.long(), reduction="none")
    ce_ref = F.cross_entropy(_f32(ref_logits.detach()), labels.long(), reduction="none")
    return (-F.logsigmoid(beta * (ce_now - ce_ref))).mean() * 2 / beta


def entropy_to_uniform(logits: Tensor) -> Tensor:
    """KL(softmax(logits) || uniform) = log C - H(p), averaged over the batch (ME+GD's forget term)."""
    _check(logits)
    logp = F.log_softmax(_f32(logits), dim=-1)
    return ((logp.exp() * logp).sum(-1) + math.log(logits.shape[-1])).mean()


def random_other_labels(
    labels: Tensor, num_classes: int, generator: torch.Generator | None = None
) -> Tensor:
    """A label drawn uniformly from the ``num_classes - 1`` classes other than each true label (a random
    offset in ``[1, num_classes)``, drawn on the generator's device)."""
    if num_classes < 2:
        raise ValueError(f"need num_classes >= 2 to draw a different label, got {num_classes}")
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.unique().tolist()}")
    device = generator.device if generator is not None else labels.device
    offset = torch.randint(1, num_classes, labels.shape, generator=generator, device=device)
    return (labels.long() + offset.to(labels.device)) % num_classes
