"""Forget quality: TOFU's KS test transposed to CLIP (issue 30). Per image of the forgotten breed,
`truth_ratio` compares the breed's prompt with `perturbed` labels (its nearest breeds, `confusable`, fixed
once from the never-learned model) in held-out wordings (`PARAPHRASES`, never seen in pretraining).
`ks_verdict` runs `ks_2samp` on the unlearned and never-learned models' ratios over the same images:
p > 0.05 passes (the two cannot be told apart). p shrinks with n for the same distance D, so both come with
n. TOFU's code averages over perturbed answers geometrically, its paper arithmetically: `mean` picks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kt_lib.textenc import encode_text
from kt_lib.zeroshot import PARAPHRASES, TEMPLATES, encode_images, model_device, text_head

DEFINITION = {
    "geometric": "log R = mean over wordings and perturbed labels of tau*(cos(x, wrong) - cos(x, breed))",
    "arithmetic": "log R = mean over wordings of log mean_k exp(tau*(cos(x, wrong_k) - cos(x, breed)))",
}


@torch.no_grad()
def confusable(
    model, tokenizer, images, breed: str, names, k: int = 5, templates=TEMPLATES["photo"]
):
    """The `k` breeds other than `breed` that `model` gives `images` the most zero-shot probability on
    average: the perturbed labels. Take them from the never-learned model's image side: its text side holds
    nothing of a breed it never saw (the breed's token rows are zero)."""
    names = list(names)
    cos = encode_images(model, images) @ text_head(model, tokenizer, names, templates)
    mean = torch.softmax(model.logit_scale.exp() * cos, 1).mean(0)
    mean[names.index(breed)] = -1
    return [names[i] for i in mean.argsort(descending=True)[:k].tolist()]


@torch.no_grad()
def truth_ratio(
    model, tokenizer, images, breed: str, perturbed, templates=PARAPHRASES, mean="geometric"
) -> np.ndarray:
    """Per image x, log R: how much likelier the `perturbed` labels are than `breed` in each wording of
    `templates` (the candidates' softmax normaliser cancels; tau = the model's logit scale), averaged over
    wordings in log space. `mean="geometric"` (TOFU's code) averages the log-ratios over the perturbed
    labels; "arithmetic" (TOFU's paper) the ratios themselves. Low: the model tells the breed apart."""
    if mean not in DEFINITION:
        raise ValueError(f"mean must be one of {', '.join(DEFINITION)}, got {mean!r}")
    prompts = [t.format(c) for t in templates for c in [breed, *perturbed]]
    text = encode_text(model, tokenizer(prompts).to(model_device(model)), normalize=True).float()
    cos = torch.einsum(
        "nd,tkd->ntk", encode_images(model, images), text.view(len(templates), -1, text.shape[-1])
    )
    gaps = model.logit_scale.exp() * (cos[..., 1:] - cos[..., :1])  # [images, wordings, perturbed]
    if mean == "arithmetic":
        return (torch.logsumexp(gaps, 2) - math.log(len(perturbed))).mean(1).cpu().numpy()
    return gaps.mean((1, 2)).cpu().numpy()


def ks_verdict(a, b) -> dict:
    """`ks_2samp` of the unlearned (`a`) and never-learned (`b`) truth ratios: p (passes above 0.05), D, n
    and each model's median log R."""
    from scipy.stats import ks_2samp  # here: scipy.stats costs ~1 s of every kt_lib import

    test = ks_2samp(a, b)
    return dict(
        p=float(test.pvalue),
        D=float(test.statistic),
        n=len(a),
        passed=bool(test.pvalue > 0.05),
        median_unlearned=float(np.median(a)),
        median_never=float(np.median(b)),
    )
