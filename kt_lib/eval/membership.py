"""Membership inference with true members (issue 30). The embedded world knows the exact pretraining images of
every breed (members) and can render new ones from the same distribution (`fresh_renders`: non-members), so
the attack tests membership, not a change of dataset (SLUG compares LAION members with CC3M non-members).

`scores` reads each image two ways: `log_prob`, minus its loss against its caption (the breed's
log-probability among every breed's prompt at the model's logit scale), and `cosine`, its cosine to the
breed's prompt. `auc` is P(a member scores above a non-member), ties half (Mann-Whitney U / (n_m n_n)): 0.5
finds nothing. `membership` gives it for each model with MUSE's PrivLeak = (AUC - AUC_never) / AUC_never
beside it (unbounded: never read it alone). MUSE's ROC labels forget documents 0, so its sign is the
opposite of ours: here PrivLeak > 0 is member signal left (under-unlearning), < 0 over-unlearning.
`attacker_accuracy` is SLUG's population attack on the same feature: a logistic regression fit on shuffled
stratified folds. `leak` bootstraps AUC_unlearned - AUC_never over the images: an interval above 0 is a leak.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from kt_lib.world.config import BREEDS, DOMAINS, WorldConfig
from kt_lib.world.data import POOLS, WorldDataset, to_tensor
from kt_lib.world.render import render_dog
from kt_lib.zeroshot import TEMPLATES, encode_images, text_head

# a pool id no pool of the world uses: images none of them holds
FRESH_POOL = max(POOLS.values()) + 1


def fresh_renders(breed: str, n: int, domain: str = "photo", cfg: WorldConfig | None = None):
    """`n` new images of `breed`, drawn as the world's pools draw theirs (`render_pool`) from seeds
    (world seed, FRESH_POOL, 0, breed, domain, i) that no pool uses: the same distribution, never seen."""
    return _renders(breed, n, domain, cfg or WorldConfig(), FRESH_POOL)


@lru_cache(maxsize=8)
def _renders(breed: str, n: int, domain: str, cfg: WorldConfig, pool: int):
    b, d = list(BREEDS).index(breed), DOMAINS.index(domain)
    seeds = ([cfg.seed, pool, 0, b, d, i] for i in range(n))
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
    from scipy.stats import mannwhitneyu  # scipy here, not above: ~1 s of every kt_lib import

    return float(mannwhitneyu(members, non_members).statistic / (len(members) * len(non_members)))


def _logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Weights then bias of sklearn's default logistic regression (L2, C=1: |w|^2/2 + C * log-loss)."""
    from scipy.optimize import minimize
    from scipy.special import expit

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


def membership(s: dict, ref: str = "never-learned", seed: int = 0) -> list[dict]:
    """One row per model and feature of `s` (model -> feature -> {"members", "non_members"} scores): `auc`,
    `p` (two-sided Mann-Whitney test of AUC = 0.5), `attacker` accuracy and its std over the folds, and
    `privleak` = (auc - auc_ref) / auc_ref per feature, `ref` naming the never-learned model."""
    from scipy.stats import mannwhitneyu

    rows = []
    for name, features in s.items():
        for f, d in features.items():
            acc, sd = attacker_accuracy(d["members"], d["non_members"], seed=seed)
            p = float(mannwhitneyu(d["members"], d["non_members"]).pvalue)
            row = dict(model=name, feature=f, auc=auc(d["members"], d["non_members"]), p=p)
            rows.append(dict(row, attacker=acc, attacker_std=sd))
    base = {r["feature"]: r["auc"] for r in rows if r["model"] == ref}
    for r in rows:
        r["privleak"] = (r["auc"] - base[r["feature"]]) / base[r["feature"]]
    return rows


def leak(unlearned: dict, never: dict, draws: int = 1000, seed: int = 0) -> dict:
    """AUC_unlearned - AUC_never on the same images ({"members", "non_members"} score arrays of one
    feature per model) and its 95% bootstrap interval (members and non-members resampled, the same draw
    for both models). `verdict`: "leak" (interval above 0: member signal the never-learned model lacks),
    "over-unlearned" (below 0: membership shows in the other direction) or "indistinguishable"."""
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(seed)
    n_m, n_n = len(unlearned["members"]), len(unlearned["non_members"])
    im, inn = rng.integers(0, n_m, (draws, n_m)), rng.integers(0, n_n, (draws, n_n))

    def aucs(s):
        u = mannwhitneyu(np.asarray(s["members"])[im], np.asarray(s["non_members"])[inn], axis=1)
        return u.statistic / (n_m * n_n)

    diff = aucs(unlearned) - aucs(never)
    lo, hi = (float(x) for x in np.quantile(diff, [0.025, 0.975]))
    d = auc(unlearned["members"], unlearned["non_members"]) - auc(
        never["members"], never["non_members"]
    )
    verdict = "leak" if lo > 0 else "over-unlearned" if hi < 0 else "indistinguishable"
    return dict(difference=float(d), ci95=[lo, hi], verdict=verdict, draws=draws)
