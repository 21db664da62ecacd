"""Recording a notebook's results for its tests (a custom MIME bundle, no scrapbook) and reading them back,
and showing figures from widget callbacks. A record is invisible in the notebook unless KT_SHOW_RECORDS=1:
the reader sees the tables, figures and prose the values come from, the tests read the values."""

from __future__ import annotations

import json
import os
from pathlib import Path

MIME = "application/vnd.kt-unlearn.result+json"


def record(**values) -> None:
    """Record every `name=value` keyword for the notebook's tests, in one custom MIME bundle per call."""
    from IPython.display import display

    payload = json.loads(json.dumps(values, default=float))
    verbose = os.environ.get("KT_SHOW_RECORDS", "0") not in ("", "0")
    text = "\n".join(f"recorded {k} = {v!r}" for k, v in payload.items()) if verbose else ""
    display({MIME: {"values": payload}, "text/plain": text}, raw=True)


def read_results(path: str | Path) -> dict:
    """Every value a notebook recorded with `record`, by name (later records win)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.update(output.get("data", {}).get(MIME, {}).get("values", {}))
    return out


def show(fig) -> None:
    """Display a Figure and close it: for widget callbacks, where an open figure would otherwise be drawn
    a second time into the cell by the inline backend."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
