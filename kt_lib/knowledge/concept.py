"""A concept of a taxonomy and a compiled knowledge request: the plain records `kt_lib.knowledge.taxonomy`
builds and returns, and how names are normalised for lookup."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any


def normalize(name: str) -> str:
    """Lookup key: case-insensitive; spaces, underscores and hyphens are equivalent."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower()).strip()


def spelling_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            row.append(d)
        prev2, prev = prev, row
    return prev[-1]


def _near(word: str, other: str) -> bool:
    """A typo away: up to one edit per four letters (words under four letters must match)."""
    return spelling_distance(word, other) <= (len(word) // 4 if len(word) >= 4 else 0)


def close_spellings(name: str, keys, n: int = 5) -> list[str]:
    """The `keys` (normalised names) spelled like `name`, closest first: the whole name a typo or two
    away, or every word of it a typo away from a word of the key ('germn shepherd' -> 'german shepherd
    dog'). Nothing merely sharing letters ('dalmation' is not 'alsatian')."""
    key = normalize(name)
    words = key.split()
    scored = []
    for k in keys:
        whole = spelling_distance(key, k)
        kw = k.split()
        if whole <= max(1, len(key) // 4) or all(any(_near(w, x) for x in kw) for w in words):
            scored.append((whole, k))
    return [k for _, k in sorted(scored)[:n]]


def slug(name: str) -> str:
    """A stable id for a name (``German short-haired pointer`` -> ``german_short_haired_pointer``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass
class Concept:
    """One node of a taxonomy; ``children`` is derived from the other nodes' ``parent``."""

    id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    synset: str | None = None
    wnid: str | None = None

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "children"}


@dataclass
class Request:
    """A compiled knowledge request; every set holds canonical concept names in taxonomy order."""

    taxonomy: str
    names: list[str]
    resolved: list[str]
    forget: list[str]
    siblings: list[str]
    parents: list[str]
    unrelated: list[str]
    concepts: dict[str, dict[str, Any]]  # name -> {"id", "synset", "wnid", "parent"}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict, with synset names and wnids of every concept mentioned under ``concepts``."""
        return asdict(self)

    def indices(self, fine_names: list[str], which: str = "forget") -> list[int]:
        """Label indices of one set (``forget``/``siblings``/``unrelated``) within a dataset's fine names."""
        pos = {normalize(n): i for i, n in enumerate(fine_names)}
        wanted = getattr(self, which)
        missing = [n for n in wanted if normalize(n) not in pos]
        if missing:
            raise KeyError(
                f"{which} concepts {missing} are not dataset classes; build the dataset from the "
                f"same taxonomy ({self.taxonomy!r})."
            )
        return [pos[normalize(n)] for n in wanted]
