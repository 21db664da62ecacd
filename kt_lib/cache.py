"""Result rows of unlearning runs by their settings' key (`Experiment.key`), in memory and optionally in a
checked JSON-lines file: `machine_cache()` (`$KT_CACHE/runs.jsonl`) is shared by this machine's notebooks,
sweeps and `kt unlearn`, re-read before each look-up; `RunCache.claim(key)` makes a second process wait for
a run being computed instead of training it again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from kt_lib.cachefile import cache_dir, claim, report, write_bytes, write_error

RUNS_FILE = "runs.jsonl"


def machine_cache() -> RunCache:
    """The run cache this machine's notebooks and commands share: `$KT_CACHE/runs.jsonl`."""
    return RunCache(cache_dir() / RUNS_FILE)


class RunCache:
    """Rows by key, with `path` also in a JSON-lines file (a format line, then one checksummed row per line,
    appended in one write); damaged lines are dropped with a one-line report, another format moved to .old."""

    FORMAT = 2

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._rows: dict[str, dict] = {}
        self._read = 0  # bytes of the file already read
        self._refresh(whole=True)

    def _header(self) -> str:
        return json.dumps({"kt_sweep_cache": self.FORMAT})

    @staticmethod
    def _line(key: str, row: dict) -> str:
        return json.dumps(dict(key=key, row=row, sha=_row_sha(key, row))) + "\n"

    def _refresh(self, whole: bool = False) -> None:
        """Read the complete lines appended since the last read; `whole`: the whole file (on opening, or
        after another process rewrote it shorter)."""
        size = self.path.stat().st_size if self.path and self.path.exists() else self._read
        if size < self._read:  # rewritten (or emptied) by another process: read it anew
            self._rows.clear()
            self._read, whole = 0, True
        if size == self._read:
            return
        with open(self.path, "rb") as fh:
            fh.seek(self._read)
            chunk = fh.read(size - self._read)
        if not whole:
            chunk = chunk[: chunk.rfind(b"\n") + 1]
        self._read += len(chunk)
        lines = chunk.decode("utf-8", "replace").splitlines()
        if whole and lines and lines[0] != self._header():
            old = self.path.with_name(self.path.name + ".old")
            os.replace(self.path, old)
            report(
                f"sweep cache {self.path} is not format {self.FORMAT}; moved it to {old}, starting empty"
            )
            return
        bad = 0
        for line in lines:
            if line == self._header() or not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry["sha"] != _row_sha(entry["key"], entry["row"]):
                    raise ValueError("checksum mismatch")
                self._rows[entry["key"]] = entry["row"]
            except (ValueError, KeyError, TypeError):
                bad += 1
        if whole and bad:
            text = self._header() + "\n" + "".join(self._line(k, r) for k, r in self._rows.items())
            write_bytes(self.path, text.encode(), "pass RunCache a path on a writable disk")
            self._read = self.path.stat().st_size
            kept = f"kept {len(self._rows)} results; rewrote it"
            report(f"sweep cache {self.path}: dropped {bad} damaged line(s), {kept}")

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        self._refresh()
        return len(self._rows)

    def get(self, key: str) -> dict | None:
        if key not in self._rows:
            self._refresh()
        row = self._rows.get(key)
        return dict(row) if row is not None else None

    def put(self, key: str, row: dict) -> None:
        row = json.loads(json.dumps(row, default=_jsonable))
        self._rows[key] = row
        if not self.path:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                lead = "" if size else self._header() + "\n"
                if size:  # a line cut short by a killed writer must not swallow this one
                    with open(self.path, "rb") as fh:
                        fh.seek(size - 1)
                        lead = "" if fh.read(1) == b"\n" else "\n"
                data = (lead + self._line(key, row)).encode()
                os.write(fd, data)
                if size == self._read:  # nothing unread before this row: it is read
                    self._read = size + len(data)
            finally:
                os.close(fd)
        except OSError as err:
            raise write_error(self.path, err, "pass RunCache a path on a writable disk") from err

    def claim(self, key: str):
        """Hold `key` against other processes sharing this file (a lock file under `<path>.locks/`)."""
        if not self.path:
            return contextlib.nullcontext()
        lock = hashlib.sha1(key.encode()).hexdigest()[:20]
        return claim(self.path.with_name(self.path.name + ".locks") / lock)

    def frame(self) -> pd.DataFrame:
        """Every cached run as one table (see `table`)."""
        self._refresh()
        return table(self._rows.values())


def table(rows, drop=("result", "per_concept", "history", "call")) -> pd.DataFrame:
    """Run rows as one tidy DataFrame, without the `result` objects and the nested lists and dicts."""
    return pd.DataFrame([{k: v for k, v in row.items() if k not in drop} for row in rows])


def _row_sha(key: str, row: dict) -> str:
    return hashlib.sha1(json.dumps([key, row], sort_keys=True).encode()).hexdigest()[:16]


def _jsonable(x):
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    return list(x) if isinstance(x, (tuple, set)) else str(x)
