"""The world's pools as cached uint8 arrays and Datasets: `pretrain`, `proxy` (exemplars an unlearner may
use) and `test`, disjoint by construction (each image's random stream is seeded by its pool's id)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from kt_lib.cachefile import cache_dir, load_or_build
from kt_lib.world.config import (
    BREEDS,
    DOMAINS,
    FAMILIES,
    WorldConfig,
    WorldTaxonomy,
    family_classes,
)
from kt_lib.world.render import render_dog, render_object

POOLS = {"pretrain": 1, "proxy": 2, "test": 3}
POOL_KEYS = ("images", "fine", "domain", "family", "label")
POOL_FORMAT = 1  # bump when the arrays of a pool change meaning: old caches are then re-rendered
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; use one of {', '.join(POOLS)}")


def _counts(cfg: WorldConfig, pool: str) -> tuple[dict[str, int], int]:
    if pool == "pretrain":
        return {
            "photo": cfg.pretrain_per_class,
            "drawing": round(cfg.pretrain_per_class * cfg.drawing_fraction),
        }, cfg.family_per_class
    if pool == "proxy":
        return {"photo": cfg.proxy_per_class, "drawing": cfg.proxy_drawing_per_class}, 0
    return {"photo": cfg.test_per_class, "drawing": cfg.test_per_class}, cfg.family_test_per_class


def render_pool(cfg: WorldConfig, pool: str) -> dict[str, np.ndarray]:
    """Render every image of a pool (deterministic; about 0.8 ms per image on one core)."""
    _check_pool(pool)
    per_domain, per_family = _counts(cfg, pool)
    images, rows = [], []  # rows: (fine, domain, family, label), -1 where not applicable
    for d_id, dom in enumerate(DOMAINS):
        for b_id, breed in enumerate(BREEDS):
            for i in range(per_domain[dom]):
                rng = np.random.default_rng([cfg.seed, POOLS[pool], 0, b_id, d_id, i])
                images.append(render_dog(rng, breed, cfg, dom))
                rows.append((b_id, d_id, -1, -1))
    for f_id, fam in enumerate(FAMILIES):
        for c_id, cls in enumerate(FAMILIES[fam]):
            for i in range(per_family):
                rng = np.random.default_rng([cfg.seed, POOLS[pool], 1 + f_id, c_id, 0, i])
                images.append(render_object(rng, fam, cls, cfg))
                rows.append((-1, 0, f_id, c_id))
    cols = dict(zip(POOL_KEYS[1:], np.array(rows).T))
    types = dict(fine=np.int16, domain=np.int8, family=np.int8, label=np.int16)
    return dict(images=np.stack(images), **{k: cols[k].astype(t) for k, t in types.items()})


def pool_path(cfg: WorldConfig, pool: str) -> Path:
    """The cache file of a pool (a validated container around an .npz; see `kt_lib.cachefile`)."""
    _check_pool(pool)
    return cache_dir() / f"world-{cfg.digest()}-{pool}.ktc"


def _encode(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _decode(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload)) as z:
        arrays = {k: z[k] for k in z.files}
    if set(arrays) != set(POOL_KEYS) or len({len(a) for a in arrays.values()}) != 1:
        raise ValueError(f"arrays {sorted(arrays)} of unequal lengths, expected {POOL_KEYS}")
    return arrays


def load_pool(cfg: WorldConfig, pool: str) -> dict[str, np.ndarray]:
    """A pool's arrays, from a valid cache, else rendered and cached (`kt_lib.cachefile.load_or_build`)."""
    path = pool_path(cfg, pool)
    return load_or_build(
        path, "world-pool", POOL_FORMAT, lambda: render_pool(cfg, pool), _encode, _decode
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> CLIP-normalised float [N, 3, H, W]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (CLIP_MEAN, CLIP_STD))
    return (x - mean) / std


class WorldDataset(Dataset):
    """Dog images of one pool and domain, `(image, fine, coarse)`; `breeds`: only those (global labels);
    `per_class`: the first n of each breed."""

    def __init__(
        self,
        pool: str = "test",
        domain: str = "photo",
        cfg: WorldConfig | None = None,
        breeds: list[str] | None = None,
        per_class: int | None = None,
    ):
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
        tax = WorldTaxonomy()
        arrays = load_pool(cfg or WorldConfig(), pool)
        keep = (arrays["fine"] >= 0) & (arrays["domain"] == DOMAINS.index(domain))
        if breeds is not None:
            keep &= np.isin(arrays["fine"], [tax.fine_index(b) for b in breeds])
        idx = np.flatnonzero(keep)
        if per_class is not None:
            if per_class <= 0:
                raise ValueError(f"per_class must be positive, got {per_class}")
            fine = arrays["fine"][idx]
            idx = np.concatenate([idx[fine == c][:per_class] for c in np.unique(fine)])
        self.images = to_tensor(arrays["images"][idx])
        self.fine = torch.from_numpy(arrays["fine"][idx].astype(np.int64))
        self.coarse = torch.tensor(tax.fine_to_coarse)[self.fine]

    def __len__(self) -> int:
        return len(self.fine)

    def __getitem__(self, i):
        return self.images[i], int(self.fine[i]), int(self.coarse[i])


class FamilyDataset(Dataset):
    """Images of one unrelated zero-shot family (fruit, flower, vehicle): `(image, label)`."""

    def __init__(self, family: str, pool: str = "test", cfg: WorldConfig | None = None):
        self.classes = family_classes(family)
        arrays = load_pool(cfg or WorldConfig(), pool)
        idx = np.flatnonzero(arrays["family"] == list(FAMILIES).index(family))
        if len(idx) == 0:
            raise ValueError(
                f"pool {pool!r} has no {family} images (only 'pretrain' and 'test' do)"
            )
        self.images = to_tensor(arrays["images"][idx])
        self.labels = torch.from_numpy(arrays["label"][idx].astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])
