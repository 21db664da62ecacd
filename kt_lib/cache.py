"""Result rows of unlearning runs by the key of their settings, in memory and optionally in a JSON-lines file.

`Experiment.run` keys each run by everything that decides its result (`Experiment.key`): asking for the same
settings twice, from a cell, a sweep or a widget, trains once. With a path, a later session re-renders the
same rows without training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


class RunCache:
    """Result rows by settings key. In memory; with `path`, every new row is also appended to a JSON-lines
    file and rows already in the file are loaded."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._rows: dict[str, dict] = {}
        if self.path and self.path.exists():
            for n, line in enumerate(self.path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    self._rows[entry["key"]] = entry["row"]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise ValueError(
                        f"{self.path}, line {n}: not a cached run ({err}); delete the line or pass "
                        "another cache file"
                    ) from err

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
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(json.dumps(dict(key=key, row=row)) + "\n")

    def frame(self) -> pd.DataFrame:
        """Every cached run as one table (see `kt_lib.experiment.table`)."""
        from kt_lib.experiment import table

        return table(self._rows.values())


def _jsonable(x):
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (tuple, set)):
        return list(x)
    return str(x)
