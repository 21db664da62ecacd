"""`kt reproduce`: the paper's protocol for one of its tables, our numbers beside the paper's.

A table's protocol (its targets per level, goal and methods) and the paper's numbers are data
(``kt_lib/paper/tables.json``, each with its source). Each (level, method) run is keyed by a hash of
everything that decides its outcome; a finished run's row is stored under ``<out>/runs/<key>.json`` and
skipped on the next call (resume). The table is written as CSV and Markdown.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from kt_harness.sweep.spec import content_key
from kt_harness.sweep.store import write_text

TABLES = ("table2", "table3", "table4")
METRICS = ("Q", "U", "QU")


def paper_tables() -> dict:
    """The paper's protocol and numbers per table (percent), with their sources."""
    return json.loads((resources.files("kt_lib") / "paper" / "tables.json").read_text())


def protocol(table: str, taxonomy) -> dict:
    """``{"goal", "methods", "levels": {level: [targets known to the taxonomy]}, "dropped"}``."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")
    data = paper_tables()
    spec = data[table]["protocol"]
    levels, dropped = {}, {}
    for level in spec["levels"]:
        names = data["targets"][level]
        levels[level] = [n for n in names if n in taxonomy]
        dropped[level] = [n for n in names if n not in taxonomy]
        if not levels[level]:
            raise ValueError(
                f"none of the paper's {level} targets {names[:3]}... is a concept of taxonomy "
                f"{taxonomy.name!r}; use --taxonomy imgnetdogs (or the embedded world)"
            )
    return dict(goal=spec["goal"], methods=list(spec["methods"]), levels=levels, dropped=dropped)


def reproduce(
    table: str,
    experiment_for,
    taxonomy,
    identity: dict,
    out_dir: str | os.PathLike,
    methods: list[str] | None = None,
    levels: list[str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) `table`'s protocol. ``experiment_for(targets, goal) -> Experiment``;
    ``identity`` names the model, data, preset and seed (it enters every run's key). Returns the rows
    (ours in percent beside the paper's) and writes ``<table>.csv`` and ``<table>.md`` in ``out_dir``."""
    out_dir, paper, spec = Path(out_dir), paper_tables()[table], protocol(table, taxonomy)
    chosen_levels = levels or list(spec["levels"])
    unknown = [lv for lv in chosen_levels if lv not in spec["levels"]]
    if unknown:
        raise ValueError(f"{table} has levels {list(spec['levels'])}, not {unknown}")
    runs = [(lv, m) for lv in chosen_levels for m in methods or spec["methods"]]
    bar = tqdm(runs, desc=f"kt reproduce {table}", disable=not progress)
    rows, exp = [], {}
    for level, method in bar:
        targets = spec["levels"][level]
        key = content_key(
            dict(identity, table=table, goal=spec["goal"], method=method, targets=targets)
        )
        path = out_dir / "runs" / f"{key}.json"
        if path.is_file():
            rows.append(json.loads(path.read_text()))
            bar.set_postfix_str(f"{level}/{method}: done before")
            continue
        bar.set_postfix_str(f"{level}/{method}")
        if level not in exp:  # one request (and 'before') per level
            exp = {level: experiment_for(targets, spec["goal"])}
        r = exp[level].run(method)
        row = dict(
            level=level,
            method=method,
            targets=len(exp[level].forget),
            **{m: None if r.get(m) is None else 100 * r[m] for m in METRICS},
            nothing_to_forget=r.get("nothing_to_forget"),
            seconds=round(r["seconds"], 2),
            key=key,
        )
        write_text(path, json.dumps(row, indent=1) + "\n")
        rows.append(row)
    df = pd.DataFrame(rows)
    for m in METRICS:
        df[f"paper_{m}"] = [paper["rows"].get(meth, {}).get(m) for meth in df.method]
    df.attrs.update(
        caption=paper["caption"], note=paper["note"], dropped=spec["dropped"], source=identity
    )
    write_table(df, table, out_dir, paper_tables()["source"])
    return df


def write_table(df: pd.DataFrame, table: str, out_dir: Path, source: str) -> tuple[Path, Path]:
    """``<table>.csv`` and ``<table>.md`` (ours and the paper's Q, U, Q-U side by side, percent)."""
    cols = ["level", "method", *[c for m in METRICS for c in (m, f"paper_{m}")]]
    csv_path, md_path = out_dir / f"{table}.csv", out_dir / f"{table}.md"
    write_text(csv_path, df[cols + ["targets", "seconds", "key"]].to_csv(index=False))

    def cell(v):
        return "-" if v is None or pd.isna(v) else f"{v:.2f}"

    head = ["level", "method", "Q", "paper Q", "U", "paper U", "Q-U", "paper Q-U"]
    lines = [
        f"# {table}: {df.attrs.get('caption', '')}",
        "",
        f"Ours: {json.dumps(df.attrs.get('source', {}), default=str)}. Paper: {source}.",
        f"{df.attrs.get('note', '')}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for _, r in df.iterrows():
        lines.append(
            f"| {r.level} | {r.method} | " + " | ".join(cell(r[c]) for c in cols[2:]) + " |"
        )
    write_text(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path
