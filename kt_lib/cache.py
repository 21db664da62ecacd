"""Result rows of unlearning runs by the key of their settings, in memory and optionally in a checked
JSON-lines file.

`Experiment.run` keys each run by everything that decides its result (`Experiment.key`): asking for the same
settings twice, from a cell, a sweep or a widget, trains once. With a path, a later session re-renders the
same rows without training.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from kt_lib.cachefile import report, write_bytes, write_error


class RunCache:
    """Result rows by settings key. In memory; with `path`, every new row is also appended to a JSON-lines
    file and rows already in the file are loaded, so a second session re-renders without training.

    The file starts with a format line; each row line carries a checksum. A line cut short (a killed
    process, a full disk) or damaged is dropped with a one-line report and the file is rewritten with
    the intact rows; a file of another format is moved aside to `<path>.old`, never trusted or lost.
    Each row is appended with one write, so processes sharing the file do not interleave lines."""

    FORMAT = 2

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._rows: dict[str, dict] = {}
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_bytes().decode("utf-8", "replace").splitlines()
        if lines and lines[0] != self._header():
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
        if bad:
            text = self._header() + "\n" + "".join(self._line(k, r) for k, r in self._rows.items())
            write_bytes(self.path, text.encode(), "pass RunCache a path on a writable disk")
            report(
                f"sweep cache {self.path}: dropped {bad} damaged line(s), kept {len(self._rows)} "
                "results; rewrote it"
            )

    def _header(self) -> str:
        return json.dumps({"kt_sweep_cache": self.FORMAT})

    @staticmethod
    def _line(key: str, row: dict) -> str:
        return json.dumps(dict(key=key, row=row, sha=_row_sha(key, row))) + "\n"

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> dict | None:
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
                os.write(fd, (lead + self._line(key, row)).encode())
            finally:
                os.close(fd)
        except OSError as err:
            raise write_error(self.path, err, "pass RunCache a path on a writable disk") from err

    def frame(self) -> pd.DataFrame:
        """Every cached run as one table (see `kt_lib.experiment.table`)."""
        from kt_lib.experiment import table

        return table(self._rows.values())


def _row_sha(key: str, row: dict) -> str:
    return hashlib.sha1(json.dumps([key, row], sort_keys=True).encode()).hexdigest()[:16]


def _jsonable(x):
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (tuple, set)):
        return list(x)
    return str(x)
