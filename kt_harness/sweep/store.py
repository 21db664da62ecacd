"""A sweep's output folder: one JSON file per finished trial, written at once, and the tidy `results.csv`.

    DIR/trials/<key>.json   one row per trial, named by its content key (written atomically)
    DIR/config.json         the checked config of the last run; DIR/plan.json its trial keys, in order
    DIR/results.csv         the plan's rows, one per trial (status ok / failed / missing)

Nothing is deleted: rows of trials that a later config no longer plans stay in trials/ (and `load_results`
can read them all with `every=True`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

FIRST = ("key", "status", "request", "level", "forget", "method", "seed", "Q", "U", "QU")
METRIC_COLUMNS = ("drawing_Q", "drawing_U", "drawing_QU", "zero_shot_utility", "after_zero_shot")
LAST = ("seconds", "train_seconds", "device", "threads", "host", "finished", "error")


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    return x if isinstance(x, (str, int, float, bool, type(None))) else str(x)


def write_text(path: Path, text: str) -> None:
    """Write atomically: a partial file never replaces a good one, even if the process is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, default=str) + "\n")


class Store:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.trials = self.folder / "trials"

    def row(self, key: str) -> dict | None:
        try:  # a missing file, or a broken one (never, with atomic writes): not run
            return json.loads((self.trials / f"{key}.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def status(self, key: str) -> str:
        row = self.row(key)
        return row["status"] if row else "missing"

    def write(self, row: dict) -> None:
        write_json(self.trials / f"{row['key']}.json", {k: _clean(v) for k, v in row.items()})

    def save_plan(self, config: dict, specs) -> None:
        write_json(self.folder / "config.json", config)
        write_json(self.folder / "plan.json", [s.key for s in specs])

    def results(self, specs) -> pd.DataFrame:
        """One row per planned trial, in plan order; trials not run yet have status 'missing'."""
        from kt_harness.sweep.trial import settings_row

        rows = [self.row(s.key) or dict(settings_row(s), status="missing") for s in specs]
        return tidy(pd.DataFrame(rows))

    def write_results(self, specs) -> pd.DataFrame:
        df = self.results(specs)
        write_text(self.folder / "results.csv", df.to_csv(index=False))
        return df


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Columns in a fixed order: identity and scores first, then settings, then bookkeeping."""
    for col in FIRST:
        if col not in df:
            df[col] = float("nan") if col in ("Q", "U", "QU") else ""
    first = [c for c in (*FIRST, *METRIC_COLUMNS) if c in df]
    last = [c for c in LAST if c in df]
    middle = [c for c in df.columns if c not in first and c not in last]
    return df[first + middle + last]


def load_results(
    folder: str | os.PathLike, every: bool = False, ok_only: bool = False
) -> pd.DataFrame:
    """A finished (or interrupted) sweep's rows as a tidy DataFrame, e.g. for notebook 06:
    `runs = load_results("outputs/sweeps/leaderboard", ok_only=True)`. Reads `results.csv`; with
    `every=True` reads every trial file in the folder instead (also those a later config dropped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no sweep folder {folder}; run `kt sweep CONFIG --out {folder}` first"
        )
    csv = folder / "results.csv"
    if every or not csv.exists():
        files = sorted((folder / "trials").glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{folder} holds no finished trials (no trials/*.json)")
        df = tidy(pd.DataFrame([json.loads(p.read_text()) for p in files]))
    else:
        df = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        for col in ("error", "stopped", "pretrained", "level"):
            if col in df:
                df[col] = df[col].astype(object).where(df[col].notna(), "")
    return df[df.status == "ok"].reset_index(drop=True) if ok_only else df
