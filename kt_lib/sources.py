"""Where an experiment's images come from: the embedded world, or a real-data manifest. A `DataSource`
holds the label names, the proxy pool exemplars are drawn from, the test sets and the taxonomy that compiles
requests; notebooks, `kt unlearn` and sweeps switch with one parameter (`data_source`)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from kt_lib.eval.evaluator import EvalSet, Evaluator, FamilySet
from kt_lib.knowledge.taxonomy import Taxonomy
from kt_lib.zeroshot import TEMPLATES


@dataclass
class DataSource:
    """``proxy_pool``: ``(images, fine, coarse)`` of every class, where exemplars are drawn from."""

    name: str
    taxonomy: Taxonomy
    fine_names: list[str]
    coarse_names: list[str]
    proxy_pool: TensorDataset
    evaluator: Evaluator

    def compile_forget(self, names) -> list[str]:
        return self.taxonomy.request(names).forget


def data_source(
    data_root: str | os.PathLike | None,
    preprocess,
    taxonomy: str = "imgnetdogs",
    eval_per_class: int | None = None,
    train_per_class: int = 200,
    test_per_class: int = 50,
) -> DataSource:
    """The DATA_ROOT switch: None -> the embedded world; a folder (relative to the working directory) -> a
    real-data layout (data/README.md) read with the model's `preprocess`."""
    if data_root is None:
        return world_source(eval_per_class=eval_per_class)
    from kt_lib.knowledge.realdata import build_manifest

    root = Path(data_root).expanduser().absolute()
    test = test_per_class if eval_per_class is None else min(test_per_class, eval_per_class)
    manifest = build_manifest(root, taxonomy, train_per_class=train_per_class, test_per_class=test)
    tag = hashlib.sha256(f"{root.resolve()}|{train_per_class}|{test}".encode()).hexdigest()[:8]
    return manifest_source(manifest, taxonomy, preprocess, name=f"{root.name}-{taxonomy}-{tag}")


def world_source(world=None, eval_per_class: int | None = None) -> DataSource:
    """The embedded world: proxy pool = the world's proxy photos; test = photo (in domain) and drawing (OOD)."""
    from kt_lib.world.config import WorldConfig, WorldTaxonomy
    from kt_lib.world.data import WorldDataset

    world, tax = world or WorldConfig(), WorldTaxonomy()
    proxy = WorldDataset("proxy", "photo", world)
    pool = TensorDataset(proxy.images, proxy.fine, proxy.coarse)
    evaluator = world_evaluator(world, per_class=eval_per_class)
    return DataSource("dogworld", Taxonomy.from_world(), tax.fine, tax.coarse, pool, evaluator)


def world_evaluator(world=None, per_class: int | None = None, families=None) -> Evaluator:
    """The embedded world's test sets: photo (in domain) and drawing (OOD) with fine and coarse labels,
    and the zero-shot families (default: all)."""
    from kt_lib.world.config import FAMILIES, WorldConfig, WorldTaxonomy
    from kt_lib.world.data import FamilyDataset, WorldDataset

    world, tax = world or WorldConfig(), WorldTaxonomy()
    domains = {}
    for dom in ("photo", "drawing"):
        ds = WorldDataset("test", dom, world, per_class=per_class)
        domains[dom] = EvalSet(ds.images, ds.fine, ds.coarse, TEMPLATES[dom])
    fams = {}
    for f in FAMILIES if families is None else families:
        ds = FamilyDataset(f, "test", world)
        fams[f] = FamilySet(ds.images, ds.labels, ds.classes)
    return Evaluator(tax.fine, tax.coarse, tax.fine_to_coarse, domains, fams)


def manifest_source(
    manifest, taxonomy: Taxonomy | str, preprocess, name: str = "real", ood: dict | None = None
) -> DataSource:
    """A real dataset from a manifest: train split = proxy pool, test split = in-domain test set; `ood` maps
    a domain name to another manifest."""
    from kt_lib.knowledge.datasets import cached_tensors
    from kt_lib.knowledge.realdata import ManifestDataset

    taxonomy = Taxonomy.load(taxonomy) if isinstance(taxonomy, str) else taxonomy

    def tensors(rows, split, tag):
        ds = ManifestDataset(rows, taxonomy, transform=lambda im: im, split=split)
        if len(ds) == 0:
            raise ValueError(
                f"the {split!r} split of {tag} is empty; build the manifest with images for it"
            )
        data = cached_tensors(ds, f"{tag}-{split}", preprocess)
        return data["images"], data["labels"][:, 0], data["labels"][:, 1]

    pool = TensorDataset(*tensors(manifest, "train", name))
    domains = {"photo": EvalSet(*tensors(manifest, "test", name), TEMPLATES["photo"])}
    for dom, rows in (ood or {}).items():
        domains[dom] = EvalSet(*tensors(rows, "test", f"{name}-{dom}"), TEMPLATES["photo"])
    fine, coarse = taxonomy.fine_names, taxonomy.coarse_names
    evaluator = Evaluator(fine, coarse, taxonomy.fine_to_coarse, domains)
    return DataSource(name, taxonomy, fine, coarse, pool, evaluator)


def first_per_class(
    pool: TensorDataset, classes: list[int], samples_per_class: int
) -> TensorDataset:
    """The first `samples_per_class` pool images of each class in `classes` (pool order is deterministic)."""
    images, fine, coarse = pool.tensors
    counts = [int((fine == c).sum()) for c in classes]
    if min(counts, default=0) == 0:
        raise ValueError(
            f"the proxy pool has no images of classes {[c for c, n in zip(classes, counts) if n == 0]}"
        )
    if samples_per_class <= 0 or samples_per_class > max(counts):
        raise ValueError(
            f"samples_per_class must lie in [1, {max(counts)}] (the proxy pool's size), got {samples_per_class}"
        )
    idx = torch.cat([torch.nonzero(fine == c).flatten()[:samples_per_class] for c in classes])
    return TensorDataset(images[idx], fine[idx], coarse[idx])
