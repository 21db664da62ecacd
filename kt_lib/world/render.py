"""Draw one image of the embedded world, a dog of a breed (photo or drawing) or a family object, at
`render_size` downsampled to `image_size`; the pixels are a pure function of the numpy Generator passed."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kt_lib.world.config import BREEDS, FAMILIES, GROUPS, WorldConfig

# (floor, sky): grass under sky, indoor floor and wall, sand and sea
SCENES = (
    ((120, 170, 90), (170, 200, 230)),
    ((150, 120, 100), (215, 200, 180)),
    ((210, 190, 140), (120, 170, 210)),
)
OUTLINE = (25, 25, 30)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # RGB -> grey (ITU-R BT.601)
# line tails: the tip's offset from the root (in units of the dog's size) and the extra width
TAILS = {"down": (-0.10, 0.16, 1), "up": (-0.05, -0.17, 0), "straight": (-0.18, -0.02, 0)}


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b))


def _jitter(colour, jit) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jit))


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
    t = np.clip((np.arange(size)[:, None] - horizon + 6) / 12, 0, 1)[..., None]  # soft horizon
    col = (1 - t) * (np.array(sky) + jitter[0]) + t * (np.array(floor) + jitter[1])
    arr = np.broadcast_to(col, (size, size, 3)).copy()
    blot = rng.normal(0, 1, size=(size // 8, size // 8, 1))  # blotchy texture
    arr += np.kron(blot, np.ones((8, 8, 1))) * 10
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _dog_layer(rng, breed: str, cfg: WorldConfig, domain: str) -> Image.Image:
    """The dog on a transparent canvas, facing right, centred."""
    R = cfg.render_size
    group, primary, pattern, secondary, size = BREEDS[breed]
    g = GROUPS[group]
    jit = rng.uniform(-12, 12, size=3)
    primary = _jitter(_mix(primary, g["base"], cfg.palette_pull), jit)
    secondary = _jitter(secondary, jit)
    tan = _mix(primary, (185, 120, 60), 0.6)
    # drawings: pastel pencil colours (the "gray" and "hatch" styles then drop the colour) and outlines
    if domain == "drawing":
        primary, secondary, tan = (_mix(c, (255, 255, 255), 0.3) for c in (primary, secondary, tan))
    outline, width = (OUTLINE, 1) if domain == "drawing" else (None, 0)

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
    if tail in TAILS:
        dx, dy, extra = TAILS[tail]
        d.line([(tx, ty), (tx + dx * s, ty + dy * s)], fill=primary, width=lw + extra)
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
            dot(cx + 0.5 * bw * np.cos(a), cy + 0.5 * bh * np.sin(a), fr, primary)
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
    muzzle = [hx + head * 0.3, hy, hx + head * 0.3 + snout, hy + head * 0.45]  # every group has one
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
    return _hatch(layer) if domain == "drawing" and cfg.drawing_style == "hatch" else layer


def _hatch(layer: Image.Image) -> Image.Image:
    """Pencil shading: white paper inside the outline; the darker the coat, the denser the hatching
    (none / sparse / dense / cross-hatched). Outlines and the eye stay black."""
    arr = np.asarray(layer).copy()
    lum = arr[..., :3].astype(np.float32) @ LUMA
    y, x = np.mgrid[: arr.shape[0], : arr.shape[1]]
    sparse, dense, cross = (x + y) % 8 < 2, (x + y) % 6 < 2, ((x + y) % 6 < 2) | ((x - y) % 6 < 2)
    ink = np.where(lum > 205, False, np.where(lum > 170, sparse, np.where(lum > 140, dense, cross)))
    arr[..., :3] = np.where(lum < 60, 25, np.where(ink, 70, 248)).astype(np.uint8)[..., None]
    return Image.fromarray(arr, "RGBA")


def _object_layer(rng, family: str, cls: str, cfg: WorldConfig) -> Image.Image:
    R = cfg.render_size
    shape, c1, c2 = FAMILIES[family][cls]
    c1 = _jitter(c1, rng.uniform(-15, 15, size=3))
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
        grapes = ((0, 0), (-1, 0), (1, 0), (-0.5, 1), (0.5, 1), (0, 2), (-1.5, -0.2), (1.5, -0.2))
        for i, j in grapes:
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
        petals = pts((-0.15, -0.1), (-0.1, -0.25), (0, -0.12), (0.1, -0.25), (0.15, -0.1))
        d.polygon(petals, fill=c1)
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


def _finish(rng, bg: Image.Image, layer: Image.Image, cfg: WorldConfig, domain: str) -> np.ndarray:
    R = cfg.render_size
    if rng.random() < 0.5:
        layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    angle, shift = float(rng.uniform(-12, 12)), tuple(rng.uniform(-0.09, 0.09, 2) * R)
    layer = layer.rotate(angle, resample=Image.Resampling.BILINEAR, translate=shift)
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


def render_dog(rng: np.random.Generator, breed: str, cfg: WorldConfig, domain: str = "photo"):
    """One (image_size, image_size, 3) uint8 image of `breed` in `domain`."""
    bg = _background(rng, cfg.render_size, domain)
    return _finish(rng, bg, _dog_layer(rng, breed, cfg, domain), cfg, domain)


def render_object(rng: np.random.Generator, family: str, cls: str, cfg: WorldConfig) -> np.ndarray:
    """One uint8 image of a zero-shot family object (always the photo domain)."""
    bg = _background(rng, cfg.render_size, "photo")
    return _finish(rng, bg, _object_layer(rng, family, cls, cfg), cfg, "photo")
