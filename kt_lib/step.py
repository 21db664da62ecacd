"""The unlearning step: one batch of forget images, the method's loss terms, backward, the optimiser step.

This is the whole algorithm; `kt_lib.unlearn.unlearn` runs it in a loop, `kt bench step` times it and
notebook 04 walks through it. `set_trainable` picks the towers a run updates.
"""

from __future__ import annotations

import math

import torch

from kt_lib.methods import LossConfig, LossInputs, compute_loss
from kt_lib.prompts import clip_logits
from kt_lib.zeroshot import autocast


def unlearn_step(
    model,
    optimizer,
    images,
    fine_labels,
    coarse_labels,
    prompts,
    *,
    method="nhl_kl",  # a name or a kt_lib.methods.Method
    loss_cfg: LossConfig | None = None,
    reference=(None, None),
    other_labels=None,
    on_loss=None,
) -> dict[str, float]:
    """One unlearning step on a batch of forget images; returns the loss terms as floats. `on_loss(parts)`
    (a progress display) gets them before the update, with "forget_accuracy": the batch's fine accuracy
    from the step's own logits.

    `prompts(model) -> (fine, coarse)` gives normalised prompt features (called inside the step, so a
    trained text tower gets its gradient); `reference` holds the original model's (fine, coarse) logits on
    these images. A non-finite loss is returned without touching the weights: the caller decides."""
    with autocast(images.device):  # bf16 on CUDA, fp32 on CPU
        text_fine, text_coarse = prompts(model)
        fine_logits, coarse_logits = clip_logits(model, images, text_fine, text_coarse)
    logits = (fine_logits.float(), coarse_logits.float())
    inputs = LossInputs(*logits, fine_labels, coarse_labels, *reference, other_labels)
    loss, parts = compute_loss(method, inputs, loss_cfg or LossConfig())  # the one host sync
    if not math.isfinite(parts["loss"]):
        return parts
    if on_loss is not None:
        accuracy = (logits[0].argmax(-1) == fine_labels).float().mean()
        on_loss(dict(parts, forget_accuracy=float(accuracy)))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, math.log(100))  # CLIP's cap on the logit scale
    return parts


def set_trainable(model, towers: str) -> list[torch.nn.Parameter]:
    """Freeze every parameter outside `towers` ("both" | "image" | "text"); returns the trainable ones."""
    text = ("transformer.", "token_embedding", "positional_embedding", "ln_final")
    prefixes = {"text": (*text, "text_projection", "text."), "image": ("visual.",), "both": ("",)}
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes[towers]))
    return [p for p in model.parameters() if p.requires_grad]
