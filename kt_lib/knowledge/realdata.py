"""Real photos behind the embedded world's dataset API (layouts and licences: ``data/README.md``): manifests
are deterministic train/test lists of the images that decode, labelled by the taxonomy's leaves."""

from __future__ import annotations

import json
import os
import random
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from kt_lib.cachefile import write_bytes
from kt_lib.knowledge.taxonomy import Taxonomy, normalize

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
WNID = re.compile(r"^[nvasr]\d{8}$")
LAYOUTS = ("imagenet", "stanford-dogs", "folders", "manifest")
LAYOUT = """expected one of (details and licences: data/README.md):
  ImageNet train : <root>/n02085620/*.JPEG  (ILSVRC2012 train, https://image-net.org, registration needed)
  Stanford Dogs  : <root>/Images/n02085620-Chihuahua/*.jpg  (http://vision.stanford.edu/aditya86/ImageNetDogs/)
  named folders  : <root>/<class name>/*.jpg  (names must be concepts of the taxonomy)"""


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB (16-bit and float greyscale scaled, not clipped; transparency on white)."""
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or (a.size and a.max() > 255):
            a = a / 257.0
        im = Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def open_rgb(path: str | os.PathLike, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file to 8-bit RGB (`draft`: JPEGs at reduced size); raises what the decoder raises."""
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", draft)
        im.load()
        if im.width <= 0 or im.height <= 0:
            raise ValueError(f"image {path} has no pixels")
        out = to_rgb(im)
        return out.copy() if out is im else out


def decode_error(path: Path) -> str | None:
    """Why `path` does not decode ('UnidentifiedImageError: ...'), or None when it does."""
    try:
        open_rgb(path, draft=(64, 64))
        return None
    except Exception as err:  # noqa: BLE001 - any decoder error means "skip this file"
        return f"{type(err).__name__}: {err}"


class Manifest(list):
    """A list of ``{"path", "fine", "coarse", "split", "name"}`` dicts; ``skipped`` files, ``stats`` dict."""


def _tax(taxonomy: Taxonomy | str) -> Taxonomy:
    return taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)


def class_folders(
    root: str | os.PathLike, taxonomy: Taxonomy | str, layout: str | None = None
) -> dict[str, Path]:
    """Leaf name -> image folder (wnid folders of other classes skipped, unknown names an error); ``layout``:
    imagenet | stanford-dogs | folders, None: detect."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    root, tax = Path(root), _tax(taxonomy)
    stanford = layout == "stanford-dogs" or (layout is None and (root / "Images").is_dir())
    base = root / "Images" if stanford else root
    dirs = sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    if not dirs:
        raise FileNotFoundError(f"no class folders under {base}; {LAYOUT}")
    want_wnid = {"imagenet": True, "stanford-dogs": True, "folders": False}.get(layout or "")
    odd = [d.name for d in dirs if bool(WNID.match(d.name.split("-", 1)[0])) != want_wnid]
    if want_wnid is not None and odd:
        raise ValueError(
            f"layout {layout!r} expects {'wnid' if want_wnid else 'class-name'} folders under "
            f"{base}, but found {odd[:5]}; pick the layout that matches the folders; {LAYOUT}"
        )
    by_wnid = {c.wnid: c.name for c in tax.leaves() if c.wnid}
    found, unknown = {}, []
    for d in dirs:
        key = d.name.split("-", 1)[0]
        if WNID.match(key):
            if key in by_wnid:
                found[by_wnid[key]] = d
        elif d.name in tax and tax.lookup(d.name).is_leaf:
            found[tax.lookup(d.name).name] = d
        else:
            unknown.append(d.name)
    if unknown:
        raise ValueError(
            f"{len(unknown)} folder names under {base} are not leaves of taxonomy {tax.name!r}: "
            f"{unknown[:20]}; rename them to concept names/aliases or wnids, or use another taxonomy"
        )
    if not found:
        raise FileNotFoundError(
            f"none of the {len(dirs)} folders under {base} is a class of taxonomy "
            f"{tax.name!r} (its wnids look like {list(by_wnid)[:3]}); {LAYOUT}"
        )
    return found


def build_manifest(
    root: str | os.PathLike,
    taxonomy: Taxonomy | str,
    train_per_class: int = 200,
    test_per_class: int = 50,
    seed: int = 0,
    verbose: bool = True,
    layout: str | None = None,
) -> Manifest:
    """Deterministic per-class split of verified images: shuffled with ``seed``, the first ``test_per_class``
    readable ones are test (whatever ``train_per_class``), the next ``train_per_class`` train."""
    if train_per_class < 0 or test_per_class < 0 or train_per_class + test_per_class == 0:
        raise ValueError("train_per_class and test_per_class must be >= 0 and not both 0")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist; {LAYOUT}")
    tax = _tax(taxonomy)
    fine, f2c = tax.fine_names, tax.fine_to_coarse
    out, skipped, short, folders = Manifest(), [], {}, class_folders(root, tax, layout)
    missing = [n for n in fine if n not in folders]
    want = train_per_class + test_per_class
    for name, folder in sorted(folders.items(), key=lambda kv: fine.index(kv[0])):
        files = sorted(
            p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()
        )
        random.Random(f"{seed}:{name}").shuffle(files)
        good = []
        for p in files:
            if len(good) == want:
                break
            (good if decode_error(p) is None else skipped).append(p)
        n_test = test_per_class if len(good) == want else round(len(good) * test_per_class / want)
        if len(good) < want:
            short[name] = len(good)
        i = fine.index(name)
        for j, p in enumerate(good):
            split = "test" if j < n_test else "train"
            out.append(dict(path=str(p.resolve()), fine=i, coarse=f2c[i], split=split, name=name))
    if skipped and not out:
        raise ValueError(
            f"none of the {len(skipped)} image files under {root} could be decoded (e.g. {skipped[0]}: "
            f"{decode_error(skipped[0])}); check that they are images, not HTML pages or partial downloads "
            "(`file <path>` says what a file holds), then download or convert them again"
        )
    out.skipped = [str(p) for p in skipped]
    out.stats = dict(classes=len(folders), images=len(out), skipped=len(skipped))
    out.stats.update(short_classes=short, missing_classes=missing)
    if verbose and (skipped or short or missing):
        few = f"; {len(short)} classes have fewer than {want} images: {short}" if short else ""
        no = f"; {len(missing)} taxonomy classes have no folder: {missing[:10]}" if missing else ""
        msg = f"build_manifest({root}): skipped {len(skipped)} unreadable/empty images{few}{no}"
        warnings.warn(msg, stacklevel=2)
    return out


def save_manifest(manifest: Iterable[dict], path: str | os.PathLike) -> Path:
    """Write JSONL atomically."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in manifest)
    return write_bytes(path, text.encode("utf-8"), hint="choose another manifest path")


def load_manifest(path: str | os.PathLike) -> list[dict]:
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"no manifest {path}; create one with build_manifest() + save_manifest()"
        )
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class _TaxonomyAPI:
    def _set_taxonomy(self, taxonomy: Taxonomy | str) -> None:
        self.taxonomy = _tax(taxonomy)
        self.fine_names, self.coarse_names = self.taxonomy.fine_names, self.taxonomy.coarse_names
        self.fine_to_coarse = self.taxonomy.fine_to_coarse


class ManifestDataset(Dataset, _TaxonomyAPI):
    """Images of one split of a manifest: ``(image_tensor, fine, coarse)``."""

    def __init__(
        self,
        manifest: list[dict] | str | os.PathLike,
        taxonomy: Taxonomy | str,
        transform: Callable | None = None,
        split: str | None = "train",
    ):
        rows = (
            load_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else list(manifest)
        )
        self._set_taxonomy(taxonomy)
        names = dict(enumerate(normalize(n) for n in self.fine_names))
        bad = sorted({r["name"] for r in rows if names.get(r["fine"]) != normalize(r["name"])})
        if bad:
            raise ValueError(
                f"manifest labels {bad[:10]} do not match taxonomy {self.taxonomy.name!r}; "
                "rebuild the manifest with this taxonomy"
            )
        self.rows = [r for r in rows if split is None or r["split"] == split]
        self.transform = transform or T.ToTensor()
        self.failures: list[str] = []

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        for k in range(len(self.rows)):  # a file broken since the build: warn, use the next image
            r = self.rows[(i + k) % len(self.rows)]
            try:
                img = open_rgb(r["path"])
            except Exception as err:  # noqa: BLE001 - any decoder error: skip this file, count it
                if r["path"] not in self.failures:
                    self.failures.append(r["path"])
                    warnings.warn(
                        f"unreadable image {r['path']} ({err.__class__.__name__}; changed since the "
                        f"manifest was built?); using the next one ({len(self.failures)} so far)",
                        stacklevel=2,
                    )
                continue
            return self.transform(img), r["fine"], r["coarse"]
        raise RuntimeError("no image of this dataset can be read; rebuild the manifest")
