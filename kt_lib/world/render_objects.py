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

    if shape == "round":
        circ(cx, cy, 0.22 * s, c1)
        d.rectangle([cx - 1, cy - 0.3 * s, cx + 2, cy - 0.2 * s], fill=c2)
    elif shape == "oval":
        d.ellipse([cx - 0.26 * s, cy - 0.16 * s, cx + 0.26 * s, cy + 0.16 * s], fill=c1)
    elif shape == "crescent":
        d.pieslice([cx - 0.3 * s, cy - 0.3 * s, cx + 0.3 * s, cy + 0.3 * s], 20, 160, fill=c1)
        d.pieslice(
            [cx - 0.3 * s, cy - 0.42 * s, cx + 0.3 * s, cy + 0.12 * s], 20, 160, fill=(0, 0, 0, 0)
        )
    elif shape == "cluster":
        for i, j in [
            (0, 0),
            (-1, 0),
            (1, 0),
            (-0.5, 1),
            (0.5, 1),
            (0, 2),
            (-1.5, -0.2),
            (1.5, -0.2),
        ]:
            circ(cx + i * 0.09 * s, cy - 0.1 * s + j * 0.09 * s, 0.055 * s, c1)
        d.line([(cx, cy - 0.2 * s), (cx + 0.05 * s, cy - 0.3 * s)], fill=c2, width=2)
    elif shape == "heart":
        d.polygon(
            [(cx - 0.2 * s, cy - 0.12 * s), (cx + 0.2 * s, cy - 0.12 * s), (cx, cy + 0.25 * s)],
            fill=c1,
        )
        d.rectangle([cx - 0.16 * s, cy - 0.2 * s, cx + 0.16 * s, cy - 0.12 * s], fill=c2)
    elif shape == "pear":
        circ(cx, cy + 0.1 * s, 0.18 * s, c1)
        circ(cx, cy - 0.08 * s, 0.11 * s, c1)
        d.line([(cx, cy - 0.18 * s), (cx + 0.03 * s, cy - 0.28 * s)], fill=c2, width=2)
    elif shape == "pair":
        d.line(
            [(cx - 0.12 * s, cy + 0.1 * s), (cx, cy - 0.25 * s), (cx + 0.12 * s, cy + 0.1 * s)],
            fill=c2,
            width=2,
        )
        circ(cx - 0.12 * s, cy + 0.12 * s, 0.09 * s, c1)
        circ(cx + 0.12 * s, cy + 0.12 * s, 0.09 * s, c1)
    elif shape.startswith("petals"):
        n = int(shape[6:])
        d.line([(cx, cy), (cx, cy + 0.4 * s)], fill=(50, 130, 50), width=2)
        for a in np.linspace(0, 2 * np.pi, n, endpoint=False):
            circ(
                cx + 0.13 * s * np.cos(a),
                cy - 0.05 * s + 0.13 * s * np.sin(a),
                (0.09 if n < 8 else 0.06) * s,
                c1,
            )
        circ(cx, cy - 0.05 * s, 0.07 * s, c2)
    elif shape == "cup":
        d.line([(cx, cy), (cx, cy + 0.4 * s)], fill=c2, width=2)
        d.chord([cx - 0.15 * s, cy - 0.25 * s, cx + 0.15 * s, cy + 0.05 * s], 0, 180, fill=c1)
        d.polygon(
            [
                (cx - 0.15 * s, cy - 0.1 * s),
                (cx - 0.1 * s, cy - 0.25 * s),
                (cx, cy - 0.12 * s),
                (cx + 0.1 * s, cy - 0.25 * s),
                (cx + 0.15 * s, cy - 0.1 * s),
            ],
            fill=c1,
        )
    elif shape == "spike":
        d.line([(cx, cy - 0.1 * s), (cx, cy + 0.4 * s)], fill=c2, width=2)
        for k in range(7):
            circ(cx + (k % 2 - 0.5) * 0.05 * s, cy - 0.3 * s + k * 0.05 * s, 0.04 * s, c1)
    elif shape in ("car", "bus", "truck"):
        w, h = {"car": (0.5, 0.12), "bus": (0.6, 0.25), "truck": (0.6, 0.2)}[shape]
        d.rectangle([cx - w / 2 * s, cy - h * s, cx + w / 2 * s, cy + 0.05 * s], fill=c1)
        if shape == "car":
            d.rectangle([cx - 0.13 * s, cy - 0.22 * s, cx + 0.13 * s, cy - 0.12 * s], fill=c1)
        elif shape == "bus":
            for k in range(4):
                d.rectangle(
                    [
                        cx + (-0.25 + k * 0.13) * s,
                        cy - 0.2 * s,
                        cx + (-0.17 + k * 0.13) * s,
                        cy - 0.12 * s,
                    ],
                    fill=(200, 220, 240),
                )
        else:
            d.rectangle([cx + 0.15 * s, cy - 0.3 * s, cx + 0.3 * s, cy - 0.2 * s], fill=c1)
        for x in (cx - w / 3 * s, cx + w / 3 * s):
            circ(x, cy + 0.06 * s, 0.06 * s, c2)
    elif shape == "bicycle":
        for x in (cx - 0.17 * s, cx + 0.17 * s):
            d.ellipse(
                [x - 0.12 * s, cy - 0.02 * s, x + 0.12 * s, cy + 0.22 * s], outline=c2, width=2
            )
        d.line(
            [
                (cx - 0.17 * s, cy + 0.1 * s),
                (cx, cy - 0.08 * s),
                (cx + 0.17 * s, cy + 0.1 * s),
                (cx - 0.05 * s, cy + 0.1 * s),
                (cx, cy - 0.08 * s),
            ],
            fill=c1,
            width=3,
        )
    elif shape == "boat":
        d.polygon(
            [
                (cx - 0.3 * s, cy),
                (cx + 0.3 * s, cy),
                (cx + 0.2 * s, cy + 0.12 * s),
                (cx - 0.2 * s, cy + 0.12 * s),
            ],
            fill=c2,
        )
        d.polygon(
            [(cx, cy - 0.35 * s), (cx, cy - 0.02 * s), (cx + 0.22 * s, cy - 0.02 * s)], fill=c1
        )
    elif shape == "airplane":
        d.ellipse([cx - 0.35 * s, cy - 0.06 * s, cx + 0.35 * s, cy + 0.06 * s], fill=c1)
        d.polygon([(cx - 0.05 * s, cy), (cx + 0.1 * s, cy), (cx - 0.12 * s, cy + 0.3 * s)], fill=c2)
        d.polygon([(cx - 0.05 * s, cy), (cx + 0.1 * s, cy), (cx - 0.12 * s, cy - 0.3 * s)], fill=c2)
        d.polygon(
            [(cx - 0.35 * s, cy), (cx - 0.28 * s, cy), (cx - 0.38 * s, cy - 0.15 * s)], fill=c2
        )
    return layer


def render_object(rng: np.random.Generator, family: str, cls: str, cfg: WorldConfig) -> np.ndarray:
    """One uint8 image of a zero-shot family object (always the photo domain)."""
    bg = _background(rng, cfg.render_size, "photo")
    return _finish(rng, bg, _object_layer(rng, family, cls, cfg), cfg, "photo")
