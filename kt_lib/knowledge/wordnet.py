"""Offline-first WordNet 3.0 for ImageNet wnids (`n02084071` -> `dog.n.01`): `ensure_wordnet()` returns
NLTK's reader, from a corpus that loads, else one copied from Debian's ``/usr/share/wordnet`` (plus the
``lexnames`` file it lacks), else ``nltk.download('wordnet')``; a version other than 3.0 is an error."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

DEBIAN_DIR = Path("/usr/share/wordnet")
WORDNET_VERSION = "3.0"
FIX_HINT = (
    "Install WordNet 3.0 with ONE of:\n"
    "  sudo apt-get install wordnet-base wordnet-sense-index   # Debian/Ubuntu, offline-friendly\n"
    "  python -m nltk.downloader wordnet                         # needs network\n"
    "then call kt_lib.knowledge.wordnet.ensure_wordnet() again."
)
# Files NLTK's WordNetCorpusReader opens (lexnames is written by us).
REQUIRED_FILES = tuple(
    f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")
) + ("noun.exc", "verb.exc", "adj.exc", "adv.exc", "index.sense")
OPTIONAL_FILES = ("cntlist", "cntlist.rev", "sents.vrb", "frames.vrb", "sentidx.vrb")

# lexnames(5WN): file number, name, syntactic category (1 noun, 2 verb, 3 adj, 4 adv).
_NOUNS = (
    "Tops act animal artifact attribute body cognition communication event feeling food group location "
    "motive object person phenomenon plant possession process quantity relation shape state substance time"
)
_VERBS = (
    "body change cognition communication competition consumption contact creation emotion motion "
    "perception possession social stative weather"
)
_LEXNAMES = ["adj.all", "adj.pert", "adv.all"] + [f"noun.{n}" for n in _NOUNS.split()]
_LEXNAMES += [f"verb.{n}" for n in _VERBS.split()] + ["adj.ppl"]
_SYNCAT = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_READER: Any = None


def lexnames_text() -> str:
    """The 45-line ``lexnames`` file (``NN\\tname\\tsyncat``) that NLTK's reader needs."""
    return "".join(f"{i:02d}\t{n}\t{_SYNCAT[n.split('.')[0]]}\n" for i, n in enumerate(_LEXNAMES))


def build_from_debian(
    nltk_data: str | os.PathLike, debian_dir: str | os.PathLike = DEBIAN_DIR
) -> Path:
    """Copy Debian's WordNet 3.0 files into ``<nltk_data>/corpora/wordnet``, with ``lexnames``; that folder."""
    src, dst = Path(debian_dir), Path(nltk_data) / "corpora" / "wordnet"
    missing = [f for f in REQUIRED_FILES if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{src} lacks {', '.join(missing)} (wordnet-base gives data.*/index.*/*.exc, "
            f"wordnet-sense-index gives index.sense).\n{FIX_HINT}"
        )
    dst.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / f".{name}.tmp")  # copy, never symlink (NLTK sandbox)
            os.replace(dst / f".{name}.tmp", dst / name)
    (dst / "lexnames").write_text(lexnames_text(), encoding="utf-8")
    return dst


def _try_load() -> Any | None:
    """The stock lazy reader if it loads, else None."""
    from nltk.corpus import wordnet as wn

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wn.ensure_loaded()
            return wn if wn.get_version() else None
    except (LookupError, OSError, PermissionError, ValueError, AssertionError):
        return None


def ensure_wordnet(
    nltk_data: str | os.PathLike | None = None,
    *,
    download: bool = True,
    debian_dir: str | os.PathLike = DEBIAN_DIR,
) -> Any:
    """NLTK's WordNet 3.0 reader, built offline in ``nltk_data`` (default ``$NLTK_DATA`` or ``~/nltk_data``)
    if needed; ``download=False`` skips the network; RuntimeError with the fix."""
    global _READER
    if _READER is not None:
        return _READER
    import nltk

    env = os.environ.get("NLTK_DATA", "").split(os.pathsep)[0]
    target = Path(nltk_data or env or Path.home() / "nltk_data").expanduser()
    target = target.resolve() if nltk_data else target
    if str(target) not in nltk.data.path:
        nltk.data.path.insert(0, str(target))
    wn, why = _try_load(), ""
    if wn is None and Path(debian_dir).is_dir():
        try:
            build_from_debian(target, debian_dir)
            wn = _try_load()
        except OSError as exc:  # incl. FileNotFoundError naming the missing Debian files
            wn, why = None, f" ({exc.args[0].splitlines()[0] if exc.args else exc})"
    if wn is None and download:
        try:
            if nltk.download("wordnet", download_dir=str(target), quiet=True, raise_on_error=False):
                wn = _try_load()
        except Exception:  # noqa: BLE001 - any network/IO failure means: fall through to the error
            wn = None
    if wn is None:
        raise RuntimeError(
            f"WordNet 3.0 is not available (looked in {target} and {debian_dir}){why}.\n{FIX_HINT}"
        )
    if wn.get_version() != WORDNET_VERSION:
        raise RuntimeError(
            f"NLTK loaded WordNet {wn.get_version()}, but ImageNet wnids are WordNet {WORDNET_VERSION} "
            f"offsets; remove the other corpus from nltk.data.path.\n{FIX_HINT}"
        )
    _READER = wn
    return _READER


def wnid_to_synset(wnid: str, wn: Any | None = None) -> Any:
    """ImageNet wnid (``n02084071``: POS letter + 8-digit WordNet 3.0 offset) -> Synset (``dog.n.01``)."""
    if not (isinstance(wnid, str) and len(wnid) == 9 and wnid[0] in "nvasr" and wnid[1:].isdigit()):
        raise ValueError(f"bad wnid {wnid!r}: expected a POS letter and 8 digits, e.g. 'n02084071'")
    wn = wn or ensure_wordnet()
    msg = f"wnid {wnid!r} is not a WordNet 3.0 synset offset (is it a WordNet 3.1 id?)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NLTK warns before returning None; we raise instead
            syn = wn.synset_from_pos_and_offset(wnid[0], int(wnid[1:]))
    except Exception as exc:  # NLTK raises WordNetError / ValueError for some unknown offsets
        raise KeyError(msg) from exc
    if syn is None:  # ... and returns None for others
        raise KeyError(msg)
    return syn


def synset_to_wnid(synset: Any) -> str:
    """Synset -> ImageNet wnid (``dog.n.01`` -> ``n02084071``)."""
    return f"{synset.pos()[0] if synset.pos() != 's' else 'a'}{synset.offset():08d}"


def hypernym_path(syn: Any) -> list[Any]:
    """The longest hypernym chain from ``syn`` up to the root (``syn`` first, ``entity.n.01`` last)."""
    paths = syn.hypernym_paths()
    return list(reversed(max(paths, key=len))) if paths else [syn]


def is_hyponym_of(syn: Any, ancestor: Any) -> bool:
    """True if ``ancestor`` is ``syn`` or any (transitive) hypernym of it, including instance hypernyms."""
    return syn == ancestor or ancestor in syn.closure(
        lambda s: s.hypernyms() + s.instance_hypernyms()
    )
