"""The template-averaged zero-shot head of a prompt bank.

The official trainer (and the `paper` preset) takes
its KL/NPO reference from the original model's head averaged over all 80 templates (`reference="ensemble"`),
and keeps the epoch whose training forget-fine accuracy on that head is lowest (`kt_lib.selection`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kt_lib.prompts import PromptBank, clip_logits
from kt_lib.zeroshot import autocast, model_device


@torch.no_grad()
def averaged_head(model, bank: PromptBank):
    """The template-averaged zero-shot head: normalised mean of each class's normalised prompt features."""
    feats = [bank.features(model, t) for t in range(len(bank.joint))]
    fine = F.normalize(torch.stack([f for f, _ in feats]).mean(0), dim=-1)
    return fine, F.normalize(torch.stack([c for _, c in feats]).mean(0), dim=-1)


@torch.no_grad()
def ensemble_reference(model, images, bank: PromptBank, batch_size: int = 256):
    """The original model's logits against its template-averaged head, as [T, N, C] views (the same for
    every template t, no copies), so the trainer indexes them like per-template references."""
    with autocast(model_device(model)):
        fine_head, coarse_head = averaged_head(model, bank)
        out = [
            clip_logits(model, images[i : i + batch_size], fine_head, coarse_head)
            for i in range(0, len(images), batch_size)
        ]
    T = len(bank.joint)
    return tuple(torch.cat([o[k] for o in out]).float().expand(T, -1, -1) for k in (0, 1))
