"""How would an auditor check? Membership inference with true members, and TOFU's forget quality (issue 30).

**Membership inference.** The embedded world knows the exact pretraining images of every breed (members) and
can render new ones from the same distribution (`fresh_renders`: non-members), so the attack tests
membership, not a change of dataset (SLUG compares LAION members with CC3M non-members). `scores` reads each
image two ways: `log_prob`, minus its loss against its caption (the breed's log-probability among every
breed's prompt at the model's logit scale), and `cosine`, its cosine to the breed's prompt. `auc` is
P(a member scores above a non-member), ties half (Mann-Whitney U / (n_m n_n)): 0.5 finds nothing.
`membership` gives it for each model with MUSE's PrivLeak = (AUC - AUC_never) / AUC_never beside it
(unbounded: never read it alone). MUSE's ROC labels forget documents 0, so its sign is the opposite of
ours: here PrivLeak > 0 is member signal left (under-unlearning), < 0 over-unlearning. `attacker_accuracy`
is SLUG's population attack on the same feature: a logistic regression fit on shuffled stratified folds.

**Forget quality** (TOFU's KS test on CLIP). Per image of the forgotten breed, `truth_ratio` compares the
breed's prompt with `perturbed` labels (its nearest breeds, `confusable`, fixed once from the never-learned
model) in held-out wordings (`PARAPHRASES`, never seen in pretraining). `forget_quality` runs `ks_2samp` on
the unlearned and never-learned models' ratios over the same images: p > 0.05 passes (the two cannot be told
apart). p shrinks with n for the same distance D, so both come with n.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import ks_2samp, mannwhitneyu

from kt_lib.textenc import encode_text
from kt_lib.world.config import BREEDS, DOMAINS, WorldConfig
from kt_lib.world.data import POOLS, WorldDataset, to_tensor
from kt_lib.world.render import render_dog
from kt_lib.zeroshot import PARAPHRASES, TEMPLATES, encode_images, model_device, text_head

FRESH_POOL = (
    max(POOLS.values()) + 1
)  # a pool id no pool of the world uses: images none of them holds
DEFINITION = {
    "geometric": "log R = mean over wordings and perturbed labels of tau*(cos(x, wrong) - cos(x, breed))",
    "arithmetic": "log R = mean over wordings of log mean_k exp(tau*(cos(x, wrong_k) - cos(x, breed)))",
}


def fresh_renders(breed: str, n: int, domain: str = "photo", cfg: WorldConfig | None = None):
    """`n` new images of `breed`, drawn as the world's pools draw theirs (`render_pool`) from seeds
    (world seed, FRESH_POOL, 0, breed, domain, i) that no pool uses: the same distribution, never seen."""
    cfg = cfg or WorldConfig()
    b, d = list(BREEDS).index(breed), DOMAINS.index(domain)
    seeds = ([cfg.seed, FRESH_POOL, 0, b, d, i] for i in range(n))
    return to_tensor(
        np.stack([render_dog(np.random.default_rng(s), breed, cfg, domain) for s in seeds])
    )


def member_sets(breed: str, domain: str = "photo", cfg: WorldConfig | None = None):
    """(members, non-members): the breed's own pretraining images and as many fresh renders."""
    members = WorldDataset("pretrain", domain, cfg, breeds=[breed]).images
    return members, fresh_renders(breed, len(members), domain, cfg)


@torch.no_grad()
def scores(model, tokenizer, images, breed: str, names, templates=TEMPLATES["photo"]) -> dict:
    """Per image: `log_prob` (minus the loss against its caption: log softmax over every name's prompt,
    template-averaged, at the model's logit scale) and `cosine` (to the breed's prompt), numpy arrays."""
    cos = encode_images(model, images) @ text_head(model, tokenizer, list(names), templates)
    log_prob = torch.log_softmax(model.logit_scale.exp() * cos, 1)
    i = list(names).index(breed)
    return {"log_prob": log_prob[:, i].cpu().numpy(), "cosine": cos[:, i].cpu().numpy()}


def auc(members, non_members) -> float:
    """P(a member's score > a non-member's), ties counted half: the members' Mann-Whitney U / (n_m n_n)."""
    return float(mannwhitneyu(members, non_members).statistic / (len(members) * len(non_members)))


def _logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Weights then bias of sklearn's default logistic regression (L2, C=1: |w|^2/2 + C * log-loss)."""
    X, s = np.column_stack([x, np.ones(len(x))]), 2 * y - 1

    def objective(w):
        z = s * (X @ w)
        grad = -c * X.T @ (s * expit(-z)) + np.r_[w[:-1], 0]
        return c * np.logaddexp(0, -z).sum() + w[:-1] @ w[:-1] / 2, grad

    return minimize(objective, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def attacker_accuracy(
    members, non_members, splits=10, test_size=0.1, seed=0
) -> tuple[float, float]:
    """SLUG's attack: features clipped to +-100, a logistic regression fit on the rest of each stratified
    shuffle and scored on its `test_size` (per class, rounded up); (mean, std) of the accuracy over `splits`."""
    x = np.clip(np.concatenate([members, non_members]), -100, 100).reshape(-1, 1)
    y = np.r_[np.ones(len(members)), np.zeros(len(non_members))]
    rng, accuracies = np.random.default_rng(seed), []
    for _ in range(splits):
        test = np.zeros(len(y), dtype=bool)
        for label in (0, 1):
            idx = rng.permutation(np.flatnonzero(y == label))
            test[idx[: math.ceil(test_size * len(idx))]] = True
        w = _logistic(x[~test], y[~test])
        accuracies.append(np.mean((x[test] @ w[:-1] + w[-1] > 0) == y[test]))
    return float(np.mean(accuracies)), float(np.std(accuracies))


def membership(
    models: dict,
    tokenizer,
    members,
    non_members,
    breed: str,
    names,
    reference="never-learned",
    seed=0,
) -> pd.DataFrame:
    """One row per model (name -> model) and feature: `auc`, `p` (two-sided Mann-Whitney test of
    AUC = 0.5), `attacker` accuracy and its std over the folds, `n` images per set, and where `reference`
    is among the models, `privleak` = (auc - auc_reference) / auc_reference on the same feature."""
    if len(members) != len(non_members):
        raise ValueError(
            f"need as many non-members as members, got {len(non_members)} and {len(members)}"
        )
    rows = []
    for name, model in models.items():
        m, n = (scores(model, tokenizer, x, breed, names) for x in (members, non_members))
        for feature in m:
            acc, sd = attacker_accuracy(m[feature], n[feature], seed=seed)
            p = mannwhitneyu(m[feature], n[feature]).pvalue
            row = dict(model=name, feature=feature, auc=auc(m[feature], n[feature]), p=float(p))
            rows.append(dict(row, attacker=acc, attacker_std=sd, n=len(members)))
    out = pd.DataFrame(rows)
    if reference in models:
        ref = out.feature.map(out[out.model == reference].set_index("feature").auc)
        out["privleak"] = (out.auc - ref) / ref
    return out


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


def forget_quality(
    unlearned,
    never,
    tokenizer,
    images,
    breed: str,
    perturbed,
    templates=PARAPHRASES,
    mean="geometric",
) -> dict:
    """TOFU's forget quality: `ks_2samp` of the unlearned and never-learned models' `truth_ratio` on the
    same `n` images; p (passes above 0.05), the KS distance D, each model's median log R, the definition."""
    a, b = (
        truth_ratio(m, tokenizer, images, breed, perturbed, templates, mean)
        for m in (unlearned, never)
    )
    test = ks_2samp(a, b)
    return dict(
        p=float(test.pvalue),
        D=float(test.statistic),
        n=len(a),
        passed=bool(test.pvalue > 0.05),
        median_unlearned=float(np.median(a)),
        median_never=float(np.median(b)),
        statistic=f"{DEFINITION[mean]} ({mean} mean, {len(templates)} wordings, {len(perturbed)} perturbed)",
    )
