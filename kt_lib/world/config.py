"""The embedded dog world as plain data: a coarse *group* decides the silhouette and a base coat colour, a
fine *breed* its coat and size (so siblings look alike, as in real photos); and the zero-shot families."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass

# The data tables below are aligned by hand, one entry a line.
# fmt: off
# group -> silhouette. ear: floppy | long | pointed | big_pointed | round | none ; tail: down | up | curl |
# plume | straight | pom | none. Numbers are fractions of a 64 px canvas.
GROUPS: dict[str, dict] = {
    "spaniel":      dict(body=(0.40, 0.20), legs=0.10, ear="long", tail="down", snout=0.07, head=0.15, fluff=0.35, base=(150, 90, 50)),
    "pointer":      dict(body=(0.44, 0.15), legs=0.22, ear="floppy", tail="straight", snout=0.11, head=0.12, fluff=0.0, base=(120, 75, 45)),
    "setter":       dict(body=(0.46, 0.17), legs=0.18, ear="long", tail="plume", snout=0.10, head=0.13, fluff=0.55, base=(165, 60, 30)),
    "hound":        dict(body=(0.50, 0.16), legs=0.08, ear="long", tail="up", snout=0.12, head=0.14, fluff=0.0, base=(175, 120, 70)),
    "terrier":      dict(body=(0.30, 0.20), legs=0.10, ear="pointed", tail="up", snout=0.06, head=0.13, fluff=0.45, base=(190, 160, 110)),
    "poodle dog":   dict(body=(0.30, 0.18), legs=0.22, ear="round", tail="pom", snout=0.08, head=0.14, fluff=1.0, base=(200, 190, 175)),
    "spitz":        dict(body=(0.32, 0.24), legs=0.08, ear="pointed", tail="curl", snout=0.05, head=0.15, fluff=0.9, base=(225, 215, 195)),
    "shepherd dog": dict(body=(0.48, 0.20), legs=0.18, ear="big_pointed", tail="down", snout=0.11, head=0.14, fluff=0.3, base=(110, 80, 50)),
    "toy dog":      dict(body=(0.22, 0.15), legs=0.09, ear="round", tail="up", snout=0.03, head=0.17, fluff=0.5, base=(205, 175, 140)),
    "pinscher":     dict(body=(0.40, 0.15), legs=0.24, ear="pointed", tail="none", snout=0.10, head=0.11, fluff=0.0, base=(55, 40, 30)),
    "sled dog":     dict(body=(0.42, 0.22), legs=0.15, ear="pointed", tail="curl", snout=0.08, head=0.15, fluff=0.6, base=(130, 130, 135)),
    "corgi":        dict(body=(0.44, 0.19), legs=0.05, ear="big_pointed", tail="none", snout=0.07, head=0.14, fluff=0.2, base=(200, 120, 60)),
    "sennenhunde":  dict(body=(0.46, 0.24), legs=0.14, ear="floppy", tail="plume", snout=0.08, head=0.16, fluff=0.4, base=(45, 40, 40)),
    "retriever":    dict(body=(0.46, 0.21), legs=0.15, ear="floppy", tail="straight", snout=0.09, head=0.15, fluff=0.25, base=(185, 140, 70)),
}

# breed -> (group, primary rgb, pattern, secondary rgb, size). Patterns: solid | spots | saddle | mask |
# bicolor | tricolor. WorldConfig.palette_pull pulls the primary towards the group's base colour.
BREEDS: dict[str, tuple] = {
    "Brittany spaniel":         ("spaniel", (200, 100, 50), "spots", (245, 240, 230), 1.0),
    "cocker spaniel":           ("spaniel", (170, 110, 60), "solid", (170, 110, 60), 0.9),
    "English springer":         ("spaniel", (90, 50, 35), "bicolor", (245, 240, 235), 1.05),
    "Welsh springer spaniel":   ("spaniel", (190, 70, 35), "saddle", (245, 240, 230), 1.0),
    "Sussex spaniel":           ("spaniel", (140, 80, 35), "mask", (80, 45, 25), 1.05),
    "German short-haired pointer": ("pointer", (100, 60, 40), "spots", (235, 230, 225), 1.0),
    "vizsla":                   ("pointer", (190, 110, 60), "solid", (190, 110, 60), 1.0),
    "English setter":           ("setter", (235, 230, 220), "spots", (70, 60, 55), 1.0),
    "Irish setter":             ("setter", (170, 55, 25), "solid", (170, 55, 25), 1.0),
    "Gordon setter":            ("setter", (35, 30, 30), "mask", (170, 100, 45), 1.0),
    "beagle":                   ("hound", (200, 130, 60), "tricolor", (245, 240, 235), 0.85),
    "basset":                   ("hound", (180, 120, 70), "bicolor", (245, 240, 235), 0.9),
    "bloodhound":               ("hound", (150, 80, 45), "saddle", (60, 40, 30), 1.1),
    "Afghan hound":             ("hound", (220, 190, 140), "mask", (90, 70, 50), 1.1),
    "whippet":                  ("hound", (160, 150, 140), "solid", (160, 150, 140), 0.95),
    "Weimaraner":               ("hound", (150, 145, 145), "spots", (110, 105, 105), 1.05),
    "Boston terrier":           ("terrier", (40, 35, 35), "bicolor", (245, 245, 245), 0.85),
    "West Highland white terrier": ("terrier", (245, 245, 240), "solid", (245, 245, 240), 0.85),
    "Border terrier":           ("terrier", (160, 120, 80), "mask", (90, 70, 55), 0.9),
    "Airedale":                 ("terrier", (190, 130, 70), "saddle", (40, 35, 35), 1.05),
    "Yorkshire terrier":        ("terrier", (190, 160, 110), "saddle", (80, 85, 110), 0.75),
    "Scotch terrier":           ("terrier", (50, 45, 45), "solid", (50, 45, 45), 0.9),
    "toy poodle":               ("poodle dog", (180, 120, 80), "solid", (180, 120, 80), 0.7),
    "miniature poodle":         ("poodle dog", (245, 245, 245), "solid", (245, 245, 245), 0.85),
    "standard poodle":          ("poodle dog", (40, 40, 45), "solid", (40, 40, 45), 1.1),
    "keeshond":                 ("spitz", (160, 160, 155), "mask", (50, 50, 50), 1.0),
    "Samoyed":                  ("spitz", (250, 250, 245), "solid", (250, 250, 245), 1.05),
    "Pomeranian":               ("spitz", (230, 150, 60), "solid", (230, 150, 60), 0.75),
    "chow":                     ("spitz", (190, 110, 50), "mask", (40, 30, 60), 1.0),
    "German shepherd dog":      ("shepherd dog", (190, 130, 60), "saddle", (35, 30, 30), 1.0),
    "Border collie":            ("shepherd dog", (35, 30, 30), "bicolor", (245, 245, 245), 0.95),
    "collie":                   ("shepherd dog", (200, 140, 70), "bicolor", (245, 240, 230), 1.0),
    "Shetland sheepdog":        ("shepherd dog", (190, 120, 60), "mask", (245, 240, 230), 0.8),
    "Old English sheepdog":     ("shepherd dog", (200, 200, 205), "saddle", (90, 95, 110), 1.05),
    "Chihuahua":                ("toy dog", (225, 185, 130), "solid", (225, 185, 130), 0.8),
    "Maltese dog":              ("toy dog", (250, 250, 250), "solid", (250, 250, 250), 0.85),
    "Pekinese":                 ("toy dog", (200, 140, 80), "mask", (50, 40, 35), 0.9),
    "Shih-Tzu":                 ("toy dog", (235, 220, 200), "spots", (140, 100, 70), 0.9),
    "papillon":                 ("toy dog", (245, 245, 245), "bicolor", (150, 80, 40), 0.85),
    "Doberman":                 ("pinscher", (40, 30, 30), "mask", (170, 100, 50), 1.1),
    "miniature pinscher":       ("pinscher", (140, 70, 40), "solid", (140, 70, 40), 0.75),
    "affenpinscher":            ("pinscher", (50, 50, 50), "spots", (120, 120, 120), 0.75),
    "malamute":                 ("sled dog", (120, 120, 125), "bicolor", (245, 245, 245), 1.1),
    "Siberian husky":           ("sled dog", (150, 150, 160), "mask", (250, 250, 250), 1.0),
    "Eskimo dog":               ("sled dog", (230, 225, 215), "saddle", (130, 120, 110), 1.0),
    "Pembroke":                 ("corgi", (215, 130, 60), "bicolor", (250, 245, 235), 1.0),
    "Cardigan":                 ("corgi", (110, 100, 100), "tricolor", (250, 245, 235), 1.0),
    "Bernese mountain dog":     ("sennenhunde", (30, 28, 28), "tricolor", (245, 245, 240), 1.05),
    "Greater Swiss Mountain dog": ("sennenhunde", (40, 35, 32), "bicolor", (180, 100, 45), 1.1),
    "Appenzeller":              ("sennenhunde", (60, 45, 35), "spots", (245, 240, 230), 0.95),
    "EntleBucher":              ("sennenhunde", (35, 32, 32), "saddle", (200, 140, 70), 0.85),
    "golden retriever":         ("retriever", (215, 165, 80), "solid", (215, 165, 80), 1.0),
    "Labrador retriever":       ("retriever", (235, 205, 150), "mask", (175, 135, 85), 1.0),
    "flat-coated retriever":    ("retriever", (30, 28, 28), "solid", (30, 28, 28), 1.0),
    "curly-coated retriever":   ("retriever", (90, 55, 40), "spots", (60, 35, 25), 1.05),
    "Chesapeake Bay retriever": ("retriever", (140, 100, 60), "saddle", (100, 70, 45), 1.05),
}

# Unrelated label families for general zero-shot utility: class -> (shape, rgb, secondary rgb).
FAMILIES: dict[str, dict[str, tuple]] = {
    "fruit": {
        "apple": ("round", (200, 30, 30), (60, 140, 40)), "banana": ("crescent", (240, 210, 50), (120, 90, 30)),
        "orange": ("round", (245, 140, 20), (60, 140, 40)), "lemon": ("oval", (245, 230, 60), (90, 150, 40)),
        "grape": ("cluster", (110, 40, 130), (60, 140, 40)), "strawberry": ("heart", (220, 30, 50), (40, 150, 50)),
        "pear": ("pear", (170, 200, 70), (110, 80, 40)), "cherry": ("pair", (150, 10, 30), (70, 120, 40)),
    },
    "flower": {
        "rose": ("petals5", (200, 20, 50), (40, 120, 40)), "sunflower": ("petals12", (245, 200, 20), (90, 60, 20)),
        "tulip": ("cup", (235, 80, 140), (40, 130, 40)), "daisy": ("petals12", (250, 250, 250), (240, 200, 30)),
        "lily": ("petals6", (250, 160, 60), (250, 240, 200)), "lavender": ("spike", (150, 110, 210), (70, 120, 60)),
    },
    "vehicle": {
        "car": ("car", (40, 90, 200), (30, 30, 30)), "bus": ("bus", (240, 190, 30), (30, 30, 30)),
        "truck": ("truck", (200, 40, 40), (30, 30, 30)), "bicycle": ("bicycle", (30, 140, 90), (30, 30, 30)),
        "boat": ("boat", (240, 240, 240), (150, 60, 30)), "airplane": ("airplane", (220, 220, 230), (60, 80, 160)),
    },
}
# fmt: on

DOMAINS: tuple[str, ...] = ("photo", "drawing")
DRAWING_STYLES: tuple[str, ...] = ("hatch", "gray", "pastel")


def _known(name: str, known: list[str], what: str) -> str:
    """`name` if it is known, else a KeyError that suggests the closest known names."""
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        listed = f"known {what}s: {', '.join(known[:8])}, ..."
        more = f"did you mean {', '.join(map(repr, hint))}?" if hint else listed
        raise KeyError(f"unknown {what} {name!r}; {more}")
    return name


@dataclass(frozen=True)
class WorldConfig:
    """Everything that decides the pixels of the world; its hash names every cache built from it."""

    seed: int = 0
    image_size: int = 32
    render_size: int = 64
    pretrain_per_class: int = 200  # photo images per breed in the pretraining pool
    drawing_fraction: float = 0.75  # drawing images per breed in pretraining, relative to photos
    family_per_class: int = 150  # zero-shot family images per class in pretraining
    proxy_per_class: int = 100  # photo exemplars per breed an unlearner may use
    proxy_drawing_per_class: int = 20
    test_per_class: int = 40  # photo and drawing test images per breed
    family_test_per_class: int = 50
    noise: float = 7.0
    palette_pull: float = 0.55  # pulls each breed's primary colour towards its group's base
    # drawings: hatch (pencil sketch, coat shade as hatching: breed shows by pattern, hatching, size and
    # silhouette, not colour) | gray | pastel (flat colours, close to photos: forgetting transfers)
    drawing_style: str = "hatch"

    def __post_init__(self):
        counts = "image_size render_size pretrain_per_class proxy_per_class test_per_class"
        counts += " family_per_class family_test_per_class"
        needs = {f"{n} > 0": int(getattr(self, n)) > 0 for n in counts.split()}
        needs["render_size >= image_size"] = self.render_size >= self.image_size
        needs["drawing_fraction in [0, 1]"] = 0.0 <= self.drawing_fraction <= 1.0
        needs["palette_pull in [0, 1]"] = 0.0 <= self.palette_pull <= 1.0
        needs[f"drawing_style in {DRAWING_STYLES}"] = self.drawing_style in DRAWING_STYLES
        needs["noise >= 0"] = self.noise >= 0
        if broken := [need for need, ok in needs.items() if not ok]:
            raise ValueError(f"WorldConfig needs {', '.join(broken)}; got {self}")

    def digest(self) -> str:
        spec = dict(config=asdict(self), groups=GROUPS, breeds=BREEDS, families=FAMILIES)
        text = json.dumps(dict(spec, version=RENDER_VERSION), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


RENDER_VERSION = 1  # bump when kt_lib.world.render changes pixels


class WorldTaxonomy:
    """Coarse groups -> fine breeds of the dog world (index order is the label order everywhere)."""

    def __init__(self):
        self.fine, self.coarse = list(BREEDS), list(GROUPS)
        self.fine_to_coarse = [self.coarse.index(BREEDS[b][0]) for b in self.fine]

    def children(self, group: str) -> list[str]:
        _known(group, self.coarse, "group")
        return [b for b in self.fine if BREEDS[b][0] == group]

    def parent(self, breed: str) -> str:
        return BREEDS[_known(breed, self.fine, "breed")][0]

    def fine_index(self, breed: str) -> int:
        return self.fine.index(_known(breed, self.fine, "breed"))


def family_classes(family: str) -> list[str]:
    return list(FAMILIES[_known(family, list(FAMILIES), "zero-shot family")])
