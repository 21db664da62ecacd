"""A direct reader of WordNet 3.0 `data.noun` by byte offset (`NounIndex`): the lemmas and hypernym
offsets of a synset without loading the whole corpus through nltk. Only the tests use it (checking many
wnids), so it lives here, not in kt_lib."""

from __future__ import annotations

import os
from pathlib import Path

from kt_lib.knowledge.wordnet import DEBIAN_DIR, FIX_HINT, WORDNET_VERSION


class NounIndex:
    """Millisecond look-ups in WordNet's ``data.noun`` (a synset offset *is* its byte offset there), where
    loading NLTK's full reader (seconds) is too slow, e.g. checking many wnids in tests."""

    def __init__(self, corpus_dir: str | os.PathLike):
        self.path = Path(corpus_dir) / "data.noun"
        with open(self.path, "rb") as fh:
            head = fh.read(4000).decode("utf-8", "replace")
        if f"WordNet {WORDNET_VERSION} Copyright" not in head:
            raise RuntimeError(
                f"{self.path} is not WordNet {WORDNET_VERSION} (ImageNet wnids need 3.0)"
            )
        self._fh = open(self.path, "rb")

    def _fields(self, offset: int) -> list[str]:
        self._fh.seek(offset)
        line = self._fh.readline().decode("utf-8")
        if not line.startswith(f"{offset:08d} "):
            raise KeyError(f"n{offset:08d} is not a WordNet 3.0 noun synset offset")
        return line.split(" | ")[0].split()

    def lemmas(self, offset: int) -> list[str]:
        f = self._fields(offset)
        return [f[4 + 2 * i] for i in range(int(f[3], 16))]

    def hypernyms(self, offset: int) -> list[int]:
        """Offsets of direct hypernyms (``@``) and instance hypernyms (``@i``)."""
        f = self._fields(offset)
        k = 4 + 2 * int(f[3], 16)
        ptrs = f[k + 1 : k + 1 + 4 * int(f[k])]
        quads = [ptrs[i : i + 4] for i in range(0, len(ptrs), 4)]  # symbol, offset, pos, source/tgt
        return [int(o) for sym, o, pos, _ in quads if sym in ("@", "@i") and pos == "n"]

    def ancestors(self, offset: int) -> set[int]:
        """All transitive hypernym offsets (the synset itself excluded)."""
        seen, todo = set(), self.hypernyms(offset)
        while todo:
            if (o := todo.pop()) not in seen:
                seen.add(o)
                todo += self.hypernyms(o)
        return seen

    def close(self) -> None:
        self._fh.close()


def open_noun_index() -> NounIndex:
    """A `NounIndex` over NLTK's WordNet folder, else Debian's ``/usr/share/wordnet``; RuntimeError if neither."""
    import nltk

    try:
        found = [Path(str(nltk.data.find("corpora/wordnet")))]
    except LookupError:
        found = []
    for path in (*found, DEBIAN_DIR):
        if (path / "data.noun").is_file():
            return NounIndex(path)
    raise RuntimeError(f"WordNet 3.0 data.noun not found.\n{FIX_HINT}")
