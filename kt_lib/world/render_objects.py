"""Drawing the zero-shot families (fruit, flowers, vehicles): one uint8 photo of an object, on the same
backgrounds and finish as the dogs of `kt_lib.world.render`."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kt_lib.world.config import FAMILIES, WorldConfig
from kt_lib.world.render import _background, _finish


def _object_layer(rng, family: str, cls: str, cfg: WorldConfig) -> Image.Image:
    R = cfg.render_size
    shape, c1, c2 = FAMILIES[family][cls]
    jit = rng.uniform(-15, 15, size=3)
    c1 = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(c1, jit))
    s = rng.uniform(0.8, 1.05) * R
    layer = Image.new("RGBA", (R, R), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = R / 2, R / 2

    def circ(x, y, r, fill):
        d.ellipse([x - r, y - r, x + r, y + r], fill=fill)

    def pts(*ab):  # points given in units of s from the centre
        return [(cx + a * s, cy + b * s) for a, b in ab]

    if shape == "round":
        circ(cx, cy, 0.22 * s, c1)
        d.rectangle([cx - 1, cy - 0.3 * s, cx + 2, cy - 0.2 * s], fill=c2)
    elif shape == "oval":
        d.ellipse(pts((-0.26, -0.16), (0.26, 0.16)), fill=c1)
    elif shape == "crescent":
        d.pieslice(pts((-0.3, -0.3), (0.3, 0.3)), 20, 160, fill=c1)
        d.pieslice(pts((-0.3, -0.42), (0.3, 0.12)), 20, 160, fill=(0, 0, 0, 0))
    elif shape == "cluster":
        for i, j in (
            (0, 0),
            (-1, 0),
            (1, 0),
            (-0.5, 1),
            (0.5, 1),
            (0, 2),
            (-1.5, -0.2),
            (1.5, -0.2),
        ):
            circ(cx + i * 0.09 * s, cy - 0.1 * s + j * 0.09 * s, 0.055 * s, c1)
        d.line(pts((0, -0.2), (0.05, -0.3)), fill=c2, width=2)
    elif shape == "heart":
        d.polygon(pts((-0.2, -0.12), (0.2, -0.12), (0, 0.25)), fill=c1)
        d.rectangle(pts((-0.16, -0.2), (0.16, -0.12)), fill=c2)
    elif shape == "pear":
        circ(cx, cy + 0.1 * s, 0.18 * s, c1)
        circ(cx, cy - 0.08 * s, 0.11 * s, c1)
        d.line(pts((0, -0.18), (0.03, -0.28)), fill=c2, width=2)
    elif shape == "pair":
        d.line(pts((-0.12, 0.1), (0, -0.25), (0.12, 0.1)), fill=c2, width=2)
        circ(cx - 0.12 * s, cy + 0.12 * s, 0.09 * s, c1)
        circ(cx + 0.12 * s, cy + 0.12 * s, 0.09 * s, c1)
    elif shape.startswith("petals"):
        n = int(shape[6:])
        d.line(pts((0, 0), (0, 0.4)), fill=(50, 130, 50), width=2)
        for a in np.linspace(0, 2 * np.pi, n, endpoint=False):
            r = (0.09 if n < 8 else 0.06) * s
            circ(cx + 0.13 * s * np.cos(a), cy - 0.05 * s + 0.13 * s * np.sin(a), r, c1)
        circ(cx, cy - 0.05 * s, 0.07 * s, c2)
    elif shape == "cup":
        d.line(pts((0, 0), (0, 0.4)), fill=c2, width=2)
        d.chord(pts((-0.15, -0.25), (0.15, 0.05)), 0, 180, fill=c1)
        d.polygon(
            pts((-0.15, -0.1), (-0.1, -0.25), (0, -0.12), (0.1, -0.25), (0.15, -0.1)), fill=c1
        )
    elif shape == "spike":
        d.line(pts((0, -0.1), (0, 0.4)), fill=c2, width=2)
        for k in range(7):
            circ(cx + (k % 2 - 0.5) * 0.05 * s, cy - 0.3 * s + k * 0.05 * s, 0.04 * s, c1)
    elif shape in ("car", "bus", "truck"):
        w, h = {"car": (0.5, 0.12), "bus": (0.6, 0.25), "truck": (0.6, 0.2)}[shape]
        d.rectangle(pts((-w / 2, -h), (w / 2, 0.05)), fill=c1)
        if shape == "car":
            d.rectangle(pts((-0.13, -0.22), (0.13, -0.12)), fill=c1)
        elif shape == "bus":
            for k in range(4):
                window = pts((-0.25 + k * 0.13, -0.2), (-0.17 + k * 0.13, -0.12))
                d.rectangle(window, fill=(200, 220, 240))
        else:
            d.rectangle(pts((0.15, -0.3), (0.3, -0.2)), fill=c1)
        for x in (cx - w / 3 * s, cx + w / 3 * s):
            circ(x, cy + 0.06 * s, 0.06 * s, c2)
    elif shape == "bicycle":
        for x in (cx - 0.17 * s, cx + 0.17 * s):
            wheel = [x - 0.12 * s, cy - 0.02 * s, x + 0.12 * s, cy + 0.22 * s]
            d.ellipse(wheel, outline=c2, width=2)
        frame = pts((-0.17, 0.1), (0, -0.08), (0.17, 0.1), (-0.05, 0.1), (0, -0.08))
        d.line(frame, fill=c1, width=3)
    elif shape == "boat":
        d.polygon(pts((-0.3, 0), (0.3, 0), (0.2, 0.12), (-0.2, 0.12)), fill=c2)
        d.polygon(pts((0, -0.35), (0, -0.02), (0.22, -0.02)), fill=c1)
    elif shape == "airplane":
        d.ellipse(pts((-0.35, -0.06), (0.35, 0.06)), fill=c1)
        d.polygon(pts((-0.05, 0), (0.1, 0), (-0.12, 0.3)), fill=c2)
        d.polygon(pts((-0.05, 0), (0.1, 0), (-0.12, -0.3)), fill=c2)
        d.polygon(pts((-0.35, 0), (-0.28, 0), (-0.38, -0.15)), fill=c2)
    return layer


def render_object(rng: np.random.Generator, family: str, cls: str, cfg: WorldConfig) -> np.ndarray:
    """One uint8 image of a zero-shot family object (always the photo domain)."""
    bg = _background(rng, cfg.render_size, "photo")
    return _finish(rng, bg, _object_layer(rng, family, cls, cfg), cfg, "photo")
