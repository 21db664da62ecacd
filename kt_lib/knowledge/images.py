"""Reading real photos: any file PIL decodes becomes a loaded 8-bit RGB image, and a file that does not
decode is reported by `_readable` instead of stopping a run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB: greyscale, CMYK and palette convert; 16-bit and float greyscale are
    scaled to 8 bits (not clipped to white); transparency is composited onto white."""
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or (a.size and a.max() > 255):
            a = a / 257.0
        im = Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(
            Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba
        ).convert("RGB")
    return im.convert("RGB")


def open_rgb(path: str | os.PathLike, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file to a loaded 8-bit RGB image (`draft`: decode JPEGs at reduced size).

    Raises whatever the decoder raises for an empty, truncated or non-image file, and PIL's
    `DecompressionBombError` for an image over `Image.MAX_IMAGE_PIXELS` x 2."""
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", draft)
        im.load()
        if im.width <= 0 or im.height <= 0:
            raise ValueError(f"image {path} has no pixels")
        out = to_rgb(im)
        return out.copy() if out is im else out


def decode_error(path: Path) -> str | None:
    """Why `path` does not decode ('UnidentifiedImageError: ...'), or None when it does (decoded at
    reduced size for JPEG, to catch empty, truncated, oversized and non-image files)."""
    try:
        open_rgb(path, draft=(64, 64))
        return None
    except Exception as err:  # noqa: BLE001 - any decoder error means "skip this file"
        return f"{type(err).__name__}: {err}"


def _readable(path: Path) -> bool:
    return decode_error(path) is None


class ToRGB:
    """PIL image -> RGB (grayscale, CMYK and palette photos break 3-channel models)."""

    def __call__(self, im: Image.Image) -> Image.Image:
        return to_rgb(im)

    def __repr__(self) -> str:
        return "ToRGB()"
