"""The prompts an unlearning run scores images against: `clip_logits`, the `PromptBank` (every template's
prompts tokenised once) and the original model's logits, per template or against the template-averaged head
(`reference="ensemble"`, the official trainer's)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kt_lib.textenc import encode_text, trim_tokens
from kt_lib.zeroshot import autocast, encode_images, model_device


def clip_logits(model, images, text_fine, text_coarse):
    """(fine, coarse) logits `[B, n_fine]`, `[B, n_coarse]` of `images` against normalised prompt features."""
    img = F.normalize(model.encode_image(images), dim=-1)
    scale = model.logit_scale.exp()
    return scale * img @ text_fine.T, scale * img @ text_coarse.T


class PromptBank:
    """Tokenised fine and coarse prompts for each template, trimmed to the shortest exact context;
    `features` encodes a template's fine and coarse prompts in one text-tower pass."""

    def __init__(self, tokenizer, fine_names, coarse_names, templates, device):
        self.joint = [
            trim_tokens(tokenizer([t.format(c) for c in [*fine_names, *coarse_names]])).to(device)
            for t in templates
        ]
        self.n_fine = len(fine_names)
        # views of the joint tokens, per template
        self.fine = [j[: self.n_fine] for j in self.joint]
        self.coarse = [j[self.n_fine :] for j in self.joint]

    def features(self, model, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised (fine, coarse) prompt features of template `t`."""
        feats = F.normalize(encode_text(model, self.joint[t]), dim=-1)
        return feats[: self.n_fine], feats[self.n_fine :]


@torch.no_grad()
def reference_logits(model, images: torch.Tensor, bank: PromptBank, batch_size: int = 256):
    """The original model's [T, N, C] fine and coarse logits, computed once."""
    img = encode_images(model, images, batch_size)
    with autocast(model_device(model)):
        scale = model.logit_scale.exp()
        per_template = [bank.features(model, t) for t in range(len(bank.joint))]
        logits = [[scale * img @ f.T for f in feats] for feats in per_template]
    return tuple(torch.stack([t[k].float() for t in logits]) for k in (0, 1))


@torch.no_grad()
def ensemble_reference(model, images, bank: PromptBank, batch_size: int = 256):
    """The original model's logits against its template-averaged head, as [T, N, C] views (the same for
    every t) indexed like per-template references."""
    with autocast(model_device(model)):
        feats = [bank.features(model, t) for t in range(len(bank.joint))]
        heads = [F.normalize(torch.stack([f[k] for f in feats]).mean(0), dim=-1) for k in (0, 1)]
        out = [
            clip_logits(model, images[i : i + batch_size], *heads)
            for i in range(0, len(images), batch_size)
        ]
    T = len(bank.joint)
    return tuple(torch.cat([o[k] for o in out]).float().expand(T, -1, -1) for k in (0, 1))
