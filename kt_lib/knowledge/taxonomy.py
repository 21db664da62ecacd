"""Concept taxonomies (root -> groups -> breeds; names, aliases, WordNet 3.0 synsets and wnids) and knowledge
requests compiled against them into ``forget`` (an inner node forgets all its leaves), ``siblings`` (the
hardest retain set), ``parents`` (retained as concepts) and ``unrelated``. Bundled taxonomies:
``kt_lib/taxonomies/<name>.json`` (``$KT_TAXONOMY_DIR`` overrides it)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[1] / "taxonomies"
BUILTIN = ("dogworld", "imgnetdogs", "oxford_pet")


def normalize(name: str) -> str:
    """Lookup key: case-insensitive; spaces, underscores and hyphens are equivalent."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower()).strip()


def slug(name: str) -> str:
    """A stable id for a name (``German short-haired pointer`` -> ``german_short_haired_pointer``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


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


def close_spellings(name: str, keys, n: int = 5) -> list[str]:
    """The `keys` spelled like `name`, closest first: the whole name a typo or two away, or each word a typo
    (one edit per four letters) from a word of the key ('germn shepherd' -> 'german shepherd dog')."""
    key = normalize(name)
    near = lambda w, x: spelling_distance(w, x) <= (len(w) // 4 if len(w) >= 4 else 0)  # noqa: E731
    scored = []
    for k in keys:
        whole = spelling_distance(key, k)
        if whole <= max(1, len(key) // 4) or all(
            any(near(w, x) for x in k.split()) for w in key.split()
        ):
            scored.append((whole, k))
    return [k for _, k in sorted(scored)[:n]]


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
    """A compiled knowledge request; every set holds canonical concept names in taxonomy order, and
    ``concepts`` maps each name mentioned to its ``id``, ``synset``, ``wnid`` and ``parent``."""

    taxonomy: str
    names: list[str]
    resolved: list[str]
    forget: list[str]
    siblings: list[str]
    parents: list[str]
    unrelated: list[str]
    concepts: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Taxonomy:
    """A tree of concepts with name/alias lookup; leaf order (depth-first) is the label order."""

    def __init__(
        self, concepts: Iterable[Concept], name: str = "taxonomy", meta: dict | None = None
    ):
        self.name, self.meta = name, dict(meta or {})
        self._nodes: dict[str, Concept] = {}
        for c in concepts:
            if c.id in self._nodes:
                raise ValueError(f"taxonomy {name!r}: duplicate concept id {c.id!r}")
            self._nodes[c.id] = replace(c, aliases=list(c.aliases), children=[])
        roots = [c.id for c in self._nodes.values() if c.parent is None]
        if len(roots) != 1:
            raise ValueError(
                f"taxonomy {name!r} needs exactly one root (parent null), found {roots}"
            )
        self.root = self._nodes[roots[0]]
        self._keys: dict[str, str] = {}
        for c in self._nodes.values():
            if c.parent is not None:
                if c.parent not in self._nodes:
                    raise ValueError(
                        f"taxonomy {name!r}: {c.name!r} has unknown parent id {c.parent!r}"
                    )
                self._nodes[c.parent].children.append(c.id)
            for key in {normalize(k) for k in [c.id, c.name, *c.aliases]}:
                if self._keys.setdefault(key, c.id) != c.id:
                    raise ValueError(
                        f"taxonomy {name!r}: {key!r} names both {self._keys[key]!r} and {c.id!r}"
                    )
        if len(self._dfs(self.root)) != len(self._nodes):
            raise ValueError(f"taxonomy {name!r} has nodes not reachable from the root (a cycle?)")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Taxonomy:
        concepts = [Concept(**{**c, "id": c.get("id") or slug(c["name"])}) for c in d["concepts"]]
        meta = {k: v for k, v in d.items() if k not in ("name", "concepts")}
        return cls(concepts, d.get("name", "taxonomy"), meta)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.meta, "concepts": [c.to_dict() for c in self.concepts()]}

    @classmethod
    def load(cls, name_or_path: str | os.PathLike) -> Taxonomy:
        """Load a bundled taxonomy by name (``dogworld``, ``imgnetdogs``, ``oxford_pet``) or a JSON path."""
        path = Path(name_or_path)
        if str(name_or_path) in BUILTIN:
            path = Path(os.environ.get("KT_TAXONOMY_DIR", DATA_DIR)) / f"{name_or_path}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"no taxonomy file {path}; pass one of {', '.join(BUILTIN)} or a JSON path "
                f"(set $KT_TAXONOMY_DIR if the bundled kt_lib/taxonomies folder moved)."
            )
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", "utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_world(cls) -> Taxonomy:
        """The embedded world (root ``dog`` -> 14 groups -> 56 breeds): ``dogworld.json``, which
        tools/build_taxonomies.py generates from kt_lib.world.config."""
        return cls.load("dogworld")

    # ---- lookup ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name: str) -> bool:
        return normalize(name) in self._keys

    def lookup(self, name: str | Concept) -> Concept:
        """Concept by id, name or alias (case-insensitive); else a KeyError suggesting close spellings."""
        if isinstance(name, Concept):
            return self._nodes[name.id]
        key = normalize(name)
        if key in self._keys:
            return self._nodes[self._keys[key]]
        msg = f"{name!r} is not a concept of taxonomy {self.name!r}"
        hint = {}  # concept name -> how it is shown: its name, or the alias spelled like `name`
        close = close_spellings(key, self._keys)
        for k in close:
            c = self._nodes[self._keys[k]]
            alias = [a for a in c.aliases if normalize(a) == k and normalize(c.name) not in close]
            hint.setdefault(
                c.name, f"{c.name!r}" + (f" (also called {alias[0]!r})" if alias else "")
            )
        if hint:
            raise KeyError(f"{msg}; did you mean {', '.join(hint.values())}?")
        browse = f"`kt taxonomy show {self.root.name!r} --taxonomy {self.name}`"
        for e in self.meta.get("excluded", []):
            if close_spellings(key, [normalize(e["name"])]):
                why = f"it leaves out {e['name']!r} ({e.get('reason', 'excluded')})"
                raise KeyError(f"{msg}: {why}; browse its concepts with {browse}")
        raise KeyError(
            f"{msg}, and none of its concepts is spelled like it; browse them with {browse}"
        )

    def _dfs(self, node: Concept) -> list[Concept]:
        out, stack = [], [node]
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(self._nodes[k] for k in reversed(c.children))
        return out

    def concepts(self) -> list[Concept]:
        """All concepts, depth-first from the root."""
        return self._dfs(self.root)

    def children(self, name: str) -> list[Concept]:
        return [self._nodes[k] for k in self.lookup(name).children]

    def parent(self, name: str) -> Concept | None:
        c = self.lookup(name)
        return self._nodes[c.parent] if c.parent else None

    def path_to_root(self, name: str) -> list[Concept]:
        """The concept itself first, the root last."""
        path = [self.lookup(name)]
        while path[-1].parent is not None:
            path.append(self._nodes[path[-1].parent])
        return path

    def leaves(self, name: str | None = None) -> list[Concept]:
        """Leaves under ``name`` (the whole tree by default) in label order; a leaf's leaves are itself."""
        return [c for c in self._dfs(self.lookup(name) if name else self.root) if c.is_leaf]

    def siblings(self, name: str) -> list[Concept]:
        """Other children of the same parent (empty for the root)."""
        c = self.lookup(name)
        return [s for s in (self.children(c.parent) if c.parent else []) if s.id != c.id]

    # ---- dataset view ------------------------------------------------------------------------------
    @property
    def fine_names(self) -> list[str]:
        return [c.name for c in self.leaves()]

    @property
    def coarse_names(self) -> list[str]:
        """Parents of the leaves, in order of first appearance."""
        return list(dict.fromkeys(self._nodes[c.parent].name for c in self.leaves() if c.parent))

    @property
    def fine_to_coarse(self) -> list[int]:
        coarse = self.coarse_names
        return [coarse.index(self._nodes[c.parent].name) for c in self.leaves()]

    # ---- requests ----------------------------------------------------------------------------------
    def request(self, names: str | Iterable[str]) -> Request:
        """Compile a knowledge request (concept names/aliases) into forget/siblings/parents/unrelated."""
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise ValueError("empty knowledge request: name at least one concept, e.g. 'vizsla'")
        nodes = list({c.id: c for c in (self.lookup(n) for n in names)}.values())
        subtree = {d.id for n in nodes for d in self._dfs(n)}
        near = {d.id for n in nodes if n.parent for d in self._dfs(self._nodes[n.parent])}
        leaves = [c.id for c in self.leaves()]
        forget = [i for i in leaves if i in subtree]
        siblings = [i for i in leaves if i in near and i not in subtree]
        unrelated = [i for i in leaves if i not in near and i not in subtree]
        up = (a.id for n in nodes for a in self.path_to_root(n.id)[1:] if a.id not in subtree)
        sets = ([n.id for n in nodes], forget, siblings, list(dict.fromkeys(up)), unrelated)
        mentioned = [self._nodes[i] for i in dict.fromkeys(i for ids in sets for i in ids)]
        concepts = {
            c.name: dict(id=c.id, synset=c.synset, wnid=c.wnid, parent=c.parent) for c in mentioned
        }
        return Request(
            self.name, names, *([self._nodes[i].name for i in ids] for ids in sets), concepts
        )
