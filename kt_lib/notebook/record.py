"""Notebook helpers: resolve a notebook's parameters, record results for tests (custom MIME, no
scrapbook) and read them back, and show figures from widget callbacks."""

from __future__ import annotations

import hashlib
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
    display(
        {MIME: {"name": name, "value": payload}, "text/plain": f"recorded {name} = {payload!r}"},
        raw=True,
    )


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


def show_config(**values) -> dict:
    """Print a notebook's resolved configuration, one `name = value` per line; returns it as a dict."""
    width = max(map(len, values), default=0)
    for k, v in values.items():
        print(f"{k:<{width}} = {v!r}")
    return dict(values)


def data_source(
    data_root: str | os.PathLike | None,
    preprocess,
    taxonomy: str = "imgnetdogs",
    eval_per_class: int | None = None,
    train_per_class: int = 200,
    test_per_class: int = 50,
    base: str | os.PathLike | None = None,
):
    """The notebooks' DATA_ROOT switch: None -> the embedded world (`world_source`, `eval_per_class` test
    images per breed and domain); a folder -> a real-data layout (`kt_lib.knowledge.realdata.build_manifest`, see
    data/README.md) read with the model's `preprocess`. Relative paths resolve against `base` (the
    notebook's folder by default, i.e. the working directory)."""
    from kt_lib.knowledge.sources import manifest_source, world_source

    if data_root is None:
        return world_source(eval_per_class=eval_per_class)
    from kt_lib.knowledge.realdata import build_manifest

    root = Path(data_root).expanduser()
    root = root if root.is_absolute() else Path(base or os.getcwd()) / root
    test = test_per_class if eval_per_class is None else min(test_per_class, eval_per_class)
    manifest = build_manifest(root, taxonomy, train_per_class=train_per_class, test_per_class=test)
    tag = hashlib.sha256(f"{root.resolve()}|{train_per_class}|{test}".encode()).hexdigest()[:8]
    return manifest_source(manifest, taxonomy, preprocess, name=f"{root.name}-{taxonomy}-{tag}")


def frame(rows):
    """A DataFrame of `Experiment.run` rows without their heavy `result` objects (what `compare` returns)."""
    from kt_lib.experiment import frame as rows_frame

    return rows_frame(rows)


def show(fig) -> None:
    """Display a Figure and close it: for widget callbacks, where an open figure would otherwise be drawn
    a second time into the cell by the inline backend."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
