"""Results derived from an unlearned model, cached like the runs: load the result if it exists, else compute it.

A linear probe (notebooks 05, 08), a collateral-damage profile (07) or relearning curves (08) need the
unlearned *model*, not a run row's scores: they are cached in the experiment's `RunCache` by the run's key,
the question's name and its parameters, so another notebook or session draws them without training again:

    row = exp.run("nhl_kl")                            # the cached row: scores, no model
    probe = knowledge_probe(exp, row)                  # cached; trains the run again only on a miss

A source is a run row or a model that is not a run (the original, a never-learned model: keyed by its
weights' fingerprint within the experiment). On a miss the model is `Experiment.result(row)`'s: one the
experiment kept or that any process stored beside the cache (`Kept`), else the run trained again from the
row's `call`: same key, same result.
`DERIVED_VERSION` is in every key: bump it when a derived computation changes its numbers.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from kt_lib.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_checkpoint,
    load_into,
    save_checkpoint,
)
from kt_lib.eval.evaluator import model_fingerprint
from kt_lib.unlearn import UnlearnConfig, UnlearnResult

DERIVED_VERSION = 2
KEEP_BYTES = 1 << 30  # unlearned models an experiment keeps in memory (at least the latest one)
STORE_BYTES = 256 << 20  # unlearned models' weights on disk beside a run cache file (newest first)
STORE_MODEL_BYTES = 64 << 20  # the largest model stored there (the embedded world's is ~6 MB)


class Kept:
    """The latest unlearned results by run key: up to `max_bytes` of weights in memory (the newest is always
    kept) and, given `folder`, small models' weights on disk too (newest first, up to `STORE_BYTES`), so that
    another process asking for a run's model (notebook 09 auditing the runs 08 trained) loads it instead of
    training it again. A model over `STORE_MODEL_BYTES` (a real CLIP) is not stored: training it again is
    the answer there. A stored file is checksummed; one that fails to load is deleted and trained again."""

    def __init__(self, max_bytes: int = KEEP_BYTES, folder=None):
        self.max_bytes, self._items = max_bytes, OrderedDict()
        self.folder = Path(folder) if folder else None

    def put(self, key: str, result, store: bool = True) -> None:
        self._items[key] = result
        self._items.move_to_end(key)
        while len(self._items) > 1 and self._bytes() > self.max_bytes:
            self._items.popitem(last=False)
        if store and self.folder and _nbytes(result.model) <= STORE_MODEL_BYTES:
            self._store(key, result)

    def get(self, key: str):
        if key in self._items:
            self._items.move_to_end(key)
        return self._items.get(key)

    def load(self, key: str, base: torch.nn.Module) -> UnlearnResult | None:
        """The stored result of `key`, its model a copy of `base` with the stored weights (then kept in
        memory), or None."""
        path = self._file(key)
        if path is None or not path.exists():
            return None
        try:
            state, meta = load_checkpoint(path, require_format=CHECKPOINT_FORMAT)
            model = copy.deepcopy(base)
            load_into(model, state, path)
            config = asdict(UnlearnConfig(**meta["info"]["config"]))  # JSON's lists back to tuples
            history = pd.DataFrame(meta.pop("history"))
        except (CheckpointError, OSError, KeyError, TypeError, ValueError):  # damaged, or evicted
            path.unlink(missing_ok=True)  # by another process meanwhile: trained again
            return None
        result = UnlearnResult(model, history, **dict(meta, info=dict(meta["info"], config=config)))
        self.put(key, result, store=False)
        return result

    def _store(self, key: str, result) -> None:
        meta = dict(seconds=result.seconds, stopped=result.stopped, info=result.info)
        meta.update(efficiency=result.efficiency, history=result.history.to_dict("list"))
        try:
            meta = json.loads(json.dumps(meta, default=str))
            save_checkpoint(result.model.state_dict(), self._file(key), meta, compact_vocab=True)
            files = sorted(self.folder.glob("*.safetensors"), key=lambda f: -f.stat().st_mtime)
            total = 0
            for f in files:  # the newest first; delete the oldest beyond STORE_BYTES
                total += f.stat().st_size
                if total > STORE_BYTES:
                    f.unlink(missing_ok=True)
        except OSError:  # a full or read-only disk: the store is a shortcut, the run itself is done
            pass

    def _file(self, key: str) -> Path | None:
        return self.folder / f"{key}.safetensors" if self.folder else None

    def _bytes(self) -> int:
        return sum(_nbytes(r.model) for r in self._items.values())


def _nbytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


class Derived:
    """`derive(source, name, compute, **params)`: `compute(model)` for `source`, cached by the source, `name`
    and `params` (JSON-able: all besides the model that decides the result); a DataFrame comes back with its
    index, columns and dtypes. The experiment passes in its `cache`, `scope()` (its key, in a model's
    entries) and `result` (`Experiment.result`: a row's model, kept, stored or trained again)."""

    def __init__(self, cache, scope, result):
        self.cache, self.scope, self.result = cache, scope, result

    def key(self, source) -> str:
        """The cache identity of a source: a run row's key, or the scope and a model's fingerprint."""
        if isinstance(source, torch.nn.Module):
            text = json.dumps([self.scope(), model_fingerprint(source)])
            return "model:" + hashlib.sha1(text.encode()).hexdigest()[:16]
        if isinstance(source, dict) and "key" in source:
            return "run:" + source["key"]
        raise TypeError(
            f"a source is a run row from Experiment.run or a model, not {type(source).__name__}"
        )

    def model(self, source):
        """The model of `source`: itself, or the run's (kept, stored, or trained again from its `call`)."""
        return source if isinstance(source, torch.nn.Module) else self.result(source).model

    def __call__(self, source, name: str, compute, **params):
        spec = json.dumps(
            [self.key(source), name, params, DERIVED_VERSION], sort_keys=True, default=str
        )
        key = "derived:" + hashlib.sha1(spec.encode()).hexdigest()[:16]
        with self.cache.claim(key):  # another process computing it now: wait, then read its answer
            hit = self.cache.get(key)
            if hit is not None:
                return _unpack(hit)
            value = compute(self.model(source))
            self.cache.put(key, _pack(value))
        return value


def _pack(value) -> dict:
    """A JSON-able entry: the value, or a frame as pandas' "tight" dict (index, columns and their names;
    missing values as None) with its dtypes."""
    if not isinstance(value, pd.DataFrame):
        return {"value": value}
    frame = value.astype(object).where(value.notna(), None).to_dict("tight")
    return {"frame": dict(frame, dtypes=[str(t) for t in value.dtypes])}


def _unpack(entry: dict):
    if "frame" not in entry:
        return entry["value"]
    frame = dict(entry["frame"])
    dtypes = frame.pop("dtypes")
    df = pd.DataFrame.from_dict(frame, orient="tight")
    return df.astype({c: t for c, t in zip(df.columns, dtypes) if t != "object"})
