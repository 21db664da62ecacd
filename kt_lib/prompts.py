"""The prompts an unlearning run scores images against: CLIP logits, the tokenised prompt bank, and the
original model's logits cached once.

`clip_logits` is `logit_scale.exp() * cos(image, prompt)` against all fine and coarse prompts; `PromptBank`
tokenises every template's prompts once (trimmed); `reference_logits` replaces a second model forward per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kt_lib.textenc import encode_text, trim_tokens
from kt_lib.zeroshot import autocast, model_device


def clip_logits(model, images, text_fine, text_coarse, image_features=None):
    """(fine, coarse) logits `[B, n_fine]`, `[B, n_coarse]` of `images` against normalised prompt features
    (pass `image_features` instead of images to reuse normalised image features)."""
    img = (
        image_features
        if image_features is not None
        else F.normalize(model.encode_image(images), dim=-1)
    )
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
    device = model_device(model)
    fine, coarse = [], []
    with autocast(device):
        feats = torch.cat(
            [
                F.normalize(model.encode_image(images[i : i + batch_size].to(device)), dim=-1)
                for i in range(0, len(images), batch_size)
            ]
        )
        for t in range(len(bank.fine)):
            tf, tc = bank.features(model, t)
            f, c = clip_logits(model, None, tf, tc, image_features=feats)
            fine.append(f.float())
            coarse.append(c.float())
    return torch.stack(fine), torch.stack(coarse)
