"""Draw one image of the embedded world: a dog of a breed (photo or drawing domain) or a family object.

Every image is a pure function of (world seed, pool, class, domain, index): `render_dog` and
`render_object` take a numpy Generator built from those numbers, so the same arguments give the same
pixels on every machine. Images are drawn at `render_size` and downsampled to `image_size`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kt_lib.world.config import BREEDS, GROUPS, WorldConfig

# (floor, sky): grass under sky, indoor floor and wall, sand and sea
SCENES = (
    ((120, 170, 90), (170, 200, 230)),
    ((150, 120, 100), (215, 200, 180)),
    ((210, 190, 140), (120, 170, 210)),
)
OUTLINE = (25, 25, 30)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # RGB -> grey (ITU-R BT.601)


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b))


def breed_colours(breed: str, pull: float) -> tuple[tuple, tuple]:
    group, primary, _, secondary, _ = BREEDS[breed]
    return _mix(primary, GROUPS[group]["base"], pull), secondary


def _background(rng: np.random.Generator, size: int, domain: str) -> Image.Image:
    if domain == "drawing":
        tint = rng.integers(232, 252, size=3)
        img = Image.new("RGB", (size, size), tuple(int(t) for t in tint))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(4, 9))):  # pencil strokes
            x0, y0 = rng.uniform(0, size, 2)
            dx, dy = rng.uniform(-size / 3, size / 3, 2)
            g = int(rng.integers(170, 215))
            draw.line([(x0, y0), (x0 + dx, y0 + dy)], fill=(g, g, g), width=1)
        return img
    floor, sky = SCENES[int(rng.integers(len(SCENES)))]
    jitter = rng.uniform(-25, 25, size=(2, 3))
    horizon = rng.uniform(0.45, 0.75) * size
    rows = np.arange(size)[:, None]
    t = np.clip((rows - horizon + 6) / 12, 0, 1)  # soft horizon
    col = (1 - t)[..., None] * (np.array(sky) + jitter[0]) + t[..., None] * (
        np.array(floor) + jitter[1]
    )
    arr = np.broadcast_to(col, (size, size, 3)).copy()
    blot = rng.normal(0, 1, size=(size // 8, size // 8, 1))  # blotchy texture
    arr += np.kron(blot, np.ones((8, 8, 1))) * 10
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _dog_layer(rng, breed: str, cfg: WorldConfig, domain: str) -> Image.Image:
    """The dog on a transparent canvas, facing right, centred."""
    R = cfg.render_size
    group, _, pattern, _, size = BREEDS[breed]
    g = GROUPS[group]
    primary, secondary = breed_colours(breed, cfg.palette_pull)
    jit = rng.uniform(-12, 12, size=3)
    primary = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(primary, jit))
    secondary = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(secondary, jit))
    tan = _mix(primary, (185, 120, 60), 0.6)
    if (
        domain == "drawing"
    ):  # pastel pencil colours (the "gray" and "hatch" styles then drop the colour)
        primary, secondary, tan = (_mix(c, (255, 255, 255), 0.3) for c in (primary, secondary, tan))
    outline = OUTLINE if domain == "drawing" else None
    width = 1 if domain == "drawing" else 0

    s = size * rng.uniform(0.85, 1.05) * R
    layer = Image.new("RGBA", (R, R), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = R / 2, R / 2 - 0.02 * R
    bw, bh = g["body"][0] * s, g["body"][1] * s
    legs, head, snout = g["legs"] * s, g["head"] * s, g["snout"] * s
    belly = secondary if pattern in ("bicolor", "tricolor") else primary

    def ell(x0, y0, x1, y1, fill):
        d.ellipse([x0, y0, x1, y1], fill=fill, outline=outline, width=width)

    def dot(x, y, r, fill):
        ell(x - r, y - r, x + r, y + r, fill)

    # tail (behind the body)
    tx, ty = cx - bw / 2 + 0.02 * s, cy - bh * 0.2
    tail, lw = g["tail"], max(2, int(0.035 * s))
    if tail == "down":
        d.line([(tx, ty), (tx - 0.10 * s, ty + 0.16 * s)], fill=primary, width=lw + 1)
    elif tail == "up":
        d.line([(tx, ty), (tx - 0.05 * s, ty - 0.17 * s)], fill=primary, width=lw)
    elif tail == "straight":
        d.line([(tx, ty), (tx - 0.18 * s, ty - 0.02 * s)], fill=primary, width=lw)
    elif tail == "curl":
        r = 0.08 * s
        d.ellipse([tx - r, ty - 2 * r, tx + r, ty], outline=primary, width=lw + 2)
    elif tail == "plume":
        plume = ((0, -0.02), (-0.20, 0.08), (-0.16, 0.13), (0, 0.05))
        d.polygon([(tx + a * s, ty + b * s) for a, b in plume], fill=primary, outline=outline)
    elif tail == "pom":
        d.line([(tx, ty), (tx - 0.06 * s, ty - 0.14 * s)], fill=primary, width=max(1, lw - 1))
        dot(tx - 0.06 * s, ty - 0.14 * s, 0.05 * s, primary)
    # legs
    lthick = max(2, int((0.07 if g["fluff"] > 0.5 else 0.05) * s))
    for fx in (-0.38, -0.22, 0.22, 0.38):
        x = cx + fx * bw
        leg = [x - lthick / 2, cy, x + lthick / 2, cy + bh / 2 + legs]
        d.rectangle(leg, fill=belly, outline=outline, width=width)
    # body, with a fluffy outline for fluffy groups
    if g["fluff"] > 0:
        fr = 0.02 * s + 0.03 * s * g["fluff"]
        for a in np.linspace(0, 2 * np.pi, 14, endpoint=False):
            px, py = cx + 0.5 * bw * np.cos(a), cy + 0.5 * bh * np.sin(a)
            dot(px, py, fr, primary)
    ell(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, primary)
    if pattern in ("bicolor", "tricolor"):
        d.chord([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 10, 170, fill=secondary)
    elif pattern == "saddle":
        saddle = [cx - bw * 0.42, cy - bh / 2, cx + bw * 0.3, cy + bh * 0.3]
        d.chord(saddle, 190, 350, fill=secondary)
    elif pattern == "spots":
        for _ in range(5):
            px, py = cx + rng.uniform(-0.4, 0.4) * bw, cy + rng.uniform(-0.3, 0.3) * bh
            r = 0.035 * s
            d.ellipse([px - r, py - r, px + r, py + r], fill=secondary)
    # head, snout, ears
    hx, hy = cx + bw / 2 - 0.02 * s, cy - bh / 2 - 0.02 * s
    head_fill = tan if pattern == "tricolor" else primary
    face = secondary if pattern == "mask" else head_fill
    ear = g["ear"]
    if ear in ("long", "floppy"):
        el = head * (1.3 if ear == "long" else 0.8)
        ell(hx - head * 0.55, hy - head * 0.2, hx - head * 0.1, hy - head * 0.2 + el, primary)
    ell(hx - head / 2, hy - head / 2, hx + head / 2, hy + head / 2, head_fill)
    if snout > 0:
        muzzle = [hx + head * 0.3, hy, hx + head * 0.3 + snout, hy + head * 0.45]
        d.rectangle(muzzle, fill=face, outline=outline, width=width)
    if pattern == "mask":
        ell(hx - head * 0.05, hy - head * 0.35, hx + head / 2, hy + head * 0.4, face)
    if ear in ("pointed", "big_pointed"):
        eh = head * (0.6 if ear == "pointed" else 1.0)
        tip = (hx - head * 0.25, hy - head * 0.3 - eh)
        ear_pts = [(hx - head * 0.4, hy - head * 0.25), tip, (hx - head * 0.05, hy - head * 0.35)]
        d.polygon(ear_pts, fill=primary, outline=outline)
    elif ear == "round":
        dot(hx - head * 0.55, hy - head * 0.45, head * 0.33, primary)
    ex, ey, er = hx + head * 0.15, hy - head * 0.15, max(1, 0.012 * s)  # eye
    d.ellipse([ex - er, ey - er, ex + er, ey + er], fill=(15, 15, 15))
    if domain == "drawing" and cfg.drawing_style == "hatch":
        layer = _hatch(layer)
    return layer


def _hatch(layer: Image.Image) -> Image.Image:
    """Pencil shading: white paper inside the outline; the darker the coat, the denser the hatching
    (none / sparse / dense / cross-hatched). Outlines and the eye stay black."""
    arr = np.asarray(layer).copy()
    lum = arr[..., :3].astype(np.float32) @ LUMA
    y, x = np.mgrid[: arr.shape[0], : arr.shape[1]]
    sparse, dense, cross = (x + y) % 8 < 2, (x + y) % 6 < 2, ((x + y) % 6 < 2) | ((x - y) % 6 < 2)
    ink = np.where(lum > 205, False, np.where(lum > 170, sparse, np.where(lum > 140, dense, cross)))
    grey = np.where(lum < 60, 25, np.where(ink, 70, 248)).astype(np.uint8)
    arr[..., :3] = grey[..., None]
    return Image.fromarray(arr, "RGBA")


def _finish(rng, bg: Image.Image, layer: Image.Image, cfg: WorldConfig, domain: str) -> np.ndarray:
    R = cfg.render_size
    if rng.random() < 0.5:
        layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    layer = layer.rotate(
        float(rng.uniform(-12, 12)),
        resample=Image.Resampling.BILINEAR,
        translate=tuple(rng.uniform(-0.09, 0.09, 2) * R),
    )
    bg.paste(layer, (0, 0), layer)
    resample = Image.Resampling.NEAREST if domain == "drawing" else Image.Resampling.BOX
    img = np.asarray(bg.resize((cfg.image_size, cfg.image_size), resample), dtype=np.float32)
    if domain == "photo":
        img = img * rng.uniform(0.82, 1.15) + rng.normal(0, cfg.noise, img.shape)
    else:
        img = img + rng.normal(0, 2.0, img.shape)
        # gray and hatch are black-and-white sketches: no coat colour, only shading and shape
        if cfg.drawing_style in ("gray", "hatch"):
            img = np.repeat((img @ LUMA)[..., None], 3, axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_dog(
    rng: np.random.Generator, breed: str, cfg: WorldConfig, domain: str = "photo"
) -> np.ndarray:
    """One (image_size, image_size, 3) uint8 image of `breed` in `domain`."""
    bg = _background(rng, cfg.render_size, domain)
    return _finish(rng, bg, _dog_layer(rng, breed, cfg, domain), cfg, domain)
