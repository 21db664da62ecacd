"""Public datasets relabelled through a taxonomy (Oxford-IIIT Pet, the zero-shot sets) and the tensor cache
that every real-data source reads through."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from kt_lib.cachefile import cache_dir as default_cache
from kt_lib.cachefile import load_or_build
from kt_lib.knowledge.realdata import _TaxonomyAPI, to_rgb
from kt_lib.knowledge.taxonomy import Taxonomy


class TaxonomyDataset(Dataset, _TaxonomyAPI):
    """Wrap a ``(image, label)`` dataset whose ``class_names`` are taxonomy concepts -> ``(img, fine, coarse)``."""

    def __init__(
        self, base: Dataset, class_names: list[str] | dict[int, str], taxonomy: Taxonomy | str
    ):
        self.base = base
        self._set_taxonomy(taxonomy)
        names, tax = class_names, self.taxonomy
        names = names if isinstance(names, dict) else dict(enumerate(names))
        unknown = [n for n in names.values() if n not in tax or not tax.lookup(n).is_leaf]
        if unknown:
            raise ValueError(f"classes {unknown} are not leaves of taxonomy {tax.name!r}")
        self.label_map = {y: self.fine_names.index(tax.lookup(n).name) for y, n in names.items()}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        img, y = self.base[i]
        return img, self.label_map[y], self.fine_to_coarse[self.label_map[y]]


def _compose(transform: Callable | None) -> Callable:
    """RGB first: grayscale, CMYK and palette photos break 3-channel models."""
    return T.Compose([T.Lambda(to_rgb), transform or T.ToTensor()])


def oxford_pet(
    root: str | os.PathLike,
    split: str = "trainval",
    transform: Callable | None = None,
    download: bool = False,
    taxonomy: Taxonomy | str = "oxford_pet",
) -> TaxonomyDataset:
    """Oxford-IIIT Pet (torchvision) relabelled through ``oxford_pet.json``."""
    from torchvision.datasets import OxfordIIITPet

    try:
        base = OxfordIIITPet(root, split=split, transform=_compose(transform), download=download)
    except RuntimeError as exc:
        raise FileNotFoundError(
            f"Oxford-IIIT Pet not found under {root}/oxford-iiit-pet/{{images,annotations}}; "
            "pass download=True (about 800 MB) or see data/README.md"
        ) from exc
    # torchvision lists only the classes present in the split file, so index names by raw label instead
    names = {
        y: " ".join(w.title() for w in Path(p).stem.rsplit("_", 1)[0].split("_"))
        for p, y in zip(getattr(base, "_images", []), getattr(base, "_labels", []))
    } or base.classes
    return TaxonomyDataset(base, names, taxonomy)


ZERO_SHOT = ("stanford_cars", "food101", "flowers102", "caltech101", "cifar100")


def zero_shot_dataset(
    name: str,
    root: str | os.PathLike,
    split: str = "test",
    transform: Callable | None = None,
    download: bool = False,
) -> tuple[Dataset, list[str]]:
    """``(dataset of (RGB image, label), class_names)`` for one of ``ZERO_SHOT``; ``download`` is explicit."""
    from torchvision import datasets as D

    if name not in ZERO_SHOT:
        raise ValueError(f"unknown zero-shot dataset {name!r}; use one of {', '.join(ZERO_SHOT)}")
    if name == "stanford_cars" and download:
        raise ValueError(
            "StanfordCars cannot be downloaded any more (torchvision: 'The original URL is broken');"
            " fetch it manually, e.g. the Kaggle mirror (pytorch/vision#7545), into "
            f"{root}/stanford_cars/ as described in data/README.md"
        )
    tf, kw = _compose(transform), dict(download=download)
    make = {
        "stanford_cars": lambda: D.StanfordCars(root, split=split, transform=tf, download=False),
        "food101": lambda: D.Food101(root, split=split, transform=tf, **kw),
        "flowers102": lambda: D.Flowers102(root, split=split, transform=tf, **kw),
        # Caltech101 has no official split (the whole set is returned); its names live in `categories`
        "caltech101": lambda: D.Caltech101(root, target_type="category", transform=tf, **kw),
        "cifar100": lambda: D.CIFAR100(root, train=split == "train", transform=tf, **kw),
    }
    try:
        ds = make[name]()
    except RuntimeError as exc:
        raise FileNotFoundError(
            f"{name} not found under {root} ({exc}); see data/README.md for the layout, "
            "or pass download=True where the dataset supports it"
        ) from exc
    names = ds.categories if name == "caltech101" else ds.classes
    return ds, [c.replace("_", " ") for c in names]


def cached_tensors(
    dataset: Dataset,
    name: str,
    preprocess: Callable | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, torch.Tensor]:
    """``{"images", "labels", "skipped"}`` tensors cached under ``cache_dir`` (default ``$KT_CACHE``) by ``name``,
    ``repr(preprocess)`` and ``len(dataset)`` (whose transform should pass PIL images on to ``preprocess``);
    unreadable items are skipped and counted in one warning."""
    cache_dir = default_cache() if cache_dir is None else cache_dir
    key = hashlib.sha256(f"{name}|{preprocess!r}|{len(dataset)}".encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{key}.ktc"
    return load_or_build(
        path, "tensors", TENSORS_FORMAT, lambda: _tensors(dataset, preprocess), _encode, _decode
    )


TENSORS_FORMAT = 1


def _tensors(dataset: Dataset, preprocess: Callable | None) -> dict[str, torch.Tensor]:
    images, labels, skipped = [], [], []
    for i in range(len(dataset)):
        try:
            item = dataset[i]
            img = preprocess(item[0]) if preprocess is not None else item[0]
            img = img if torch.is_tensor(img) else T.functional.to_tensor(img)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            skipped.append((i, f"{err.__class__.__name__}: {err}"))
            continue
        images.append(img)
        labels.append([int(y) for y in item[1:]])
    if skipped:
        warnings.warn(
            f"cached_tensors: skipped {len(skipped)} of {len(dataset)} unreadable items "
            f"(first: item {skipped[0][0]}, {skipped[0][1]})",
            stacklevel=3,
        )
    if not images:
        raise RuntimeError(f"none of the {len(dataset)} items could be read; check the dataset")
    return {
        "images": torch.stack(images),
        "labels": torch.tensor(labels, dtype=torch.long),
        "skipped": torch.tensor([i for i, _ in skipped], dtype=torch.long),
    }


def _encode(data: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save(data, buf)
    return buf.getvalue()


def _decode(payload: bytes) -> dict[str, torch.Tensor]:
    data = torch.load(io.BytesIO(payload), weights_only=True)
    if not isinstance(data, dict) or len(data.get("images", ())) != len(data.get("labels", ())):
        raise ValueError("images and labels of unequal lengths")
    return data
