"""The relearning attack's data, from the proxy pool, never test: `forget` (the last `k` images of each
forgotten concept), `siblings` (`k` of each sibling) or `unrelated` (`k` of each class of an unrelated family
or untouched group)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ATTACKS = ("forget", "siblings", "unrelated")


@dataclass
class AttackSet:
    """Images to fine-tune on, each with the name its captions give it and its parent's name."""

    images: torch.Tensor
    fine: list[str]
    coarse: list[str]


def _pick(labels, classes, k: int, last: bool, names, pool: str = "the proxy pool") -> torch.Tensor:
    """The first (or `last`) `k` indices of each class in `classes`."""
    picked = []
    for c in classes:
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) == 0:
            raise ValueError(f"{pool} has no images of {names[c]!r}: nothing to relearn from")
        if k > len(idx):
            raise ValueError(
                f"k={k} images of {names[c]!r} asked, but {pool} holds only {len(idx)}"
            )
        picked.append(idx[-k:] if last else idx[:k])
    return torch.cat(picked)


def _pool_images(exp, classes: list[int], k: int, last: bool) -> AttackSet:
    images, fine, coarse = exp.data.proxy_pool.tensors
    names, cn = exp.data.fine_names, exp.data.coarse_names
    idx = _pick(fine, classes, k, last, names)
    return AttackSet(
        images[idx], [names[int(i)] for i in fine[idx]], [cn[int(i)] for i in coarse[idx]]
    )


def attack_set(exp, attack: str, k: int, family: str | None = None) -> AttackSet:
    """The images of one attack for `exp`'s request; `family`: the world's unrelated family (default: first)."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; use one of {', '.join(ATTACKS)}")
    if k <= 0:
        raise ValueError(f"k must be a positive number of images per concept, got {k}")
    f2c = exp.evaluator.fine_to_coarse.tolist()
    groups = {f2c[i] for i in exp.forget_ids}
    if attack == "forget":
        return _pool_images(exp, list(exp.forget_ids), k, last=True)
    if attack == "siblings":
        sib = [i for i, g in enumerate(f2c) if g in groups and i not in exp.forget_ids]
        if not sib:
            raise ValueError(
                f"{', '.join(exp.forget)}: no sibling is left (the whole group is forgotten)"
            )
        return _pool_images(exp, sib, k, last=False)
    if exp.data.name == "dogworld":  # the unrelated attack
        from kt_lib.world.config import FAMILIES
        from kt_lib.world.data import FamilyDataset

        family = family or next(iter(FAMILIES))
        ds = FamilyDataset(family, "pretrain")
        idx = _pick(ds.labels, range(len(ds.classes)), k, False, ds.classes, f"the {family} pool")
        return AttackSet(
            ds.images[idx], [ds.classes[int(i)] for i in ds.labels[idx]], [family] * len(idx)
        )
    other = sorted(set(f2c) - groups)
    if not other:
        raise ValueError("every group holds a forgotten concept: no unrelated group is left")
    return _pool_images(exp, [i for i, g in enumerate(f2c) if g == other[0]], k, last=False)


def captions(data: AttackSet, idx: np.ndarray, negatives: list[str], template: str):
    """(texts, positive [n_images, n_texts]): each image's three captions, every other name's as a negative."""
    pairs = sorted({(data.fine[i], data.coarse[i]) for i in idx})
    own = {f for f, _ in pairs} | {c for _, c in pairs}
    keyed = [(("fine", f), t) for f, c in pairs for t in (f, f"{f}, a kind of {c}")]
    keyed += [(("coarse", c), c) for c in sorted({c for _, c in pairs})]
    keyed += [(("other", n), n) for n in negatives if n not in own]
    texts = [template.format(t) for _, t in keyed]
    mine = [(("fine", data.fine[i]), ("coarse", data.coarse[i])) for i in idx]
    positive = torch.tensor([[k in m for k, _ in keyed] for m in mine])
    return texts, positive
