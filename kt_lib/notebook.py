"""Notebook helpers: record results for tests (custom MIME, no scrapbook) and read them back."""
from __future__ import annotations

import json
import os
from pathlib import Path

MIME = "application/vnd.kt-unlearn.result+json"


def smoke_mode(value: bool | None) -> bool:
    """A notebook's SMOKE parameter; None falls back to the KT_SMOKE environment variable (nbval runs)."""
    if value is None:
        return os.environ.get("KT_SMOKE", "0") not in ("", "0", "false", "False")
    return bool(value)


def record(name: str, value) -> None:
    """Display `value` under `name` in a custom MIME bundle (plus a readable text line)."""
    from IPython.display import display

    payload = json.loads(json.dumps(value, default=float))
    display({MIME: {"name": name, "value": payload}, "text/plain": f"recorded {name} = {payload!r}"}, raw=True)


def read_results(path: str | Path) -> dict:
    """Every value a notebook recorded with `record`, by name (later records win)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                out[data[MIME]["name"]] = data[MIME]["value"]
    return out
