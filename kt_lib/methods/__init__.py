"""The unlearning methods, one file each over a small base class (:mod:`kt_lib.methods.base`): ``get_method``,
``list_methods``; a method file outside the package registers when imported (``load("path/to/file.py")``;
for the ``kt`` command, sweeps and notebooks: ``KT_METHODS``, module names or ``.py`` paths, PATH-separated)."""

import importlib
import importlib.util
import os
from pathlib import Path

# every method of this folder, in the order tables list them
from kt_lib.methods import (  # noqa: F401
    ga,
    ga_kl,
    gdiff,
    me_gd,
    nhl,
    nhl_kl,
    npo_kl,
    projection,
    relabel,
    salun,
    task_vector,
)
from kt_lib.methods.base import (
    GOALS,
    METHODS,
    LossConfig,
    LossInputs,
    Method,
    Run,
    WithReference,
    compute_loss,
    get_method,
    list_methods,
    loss_terms,
    register,
)

_LOADED: set[str] = set()


def load(source: str) -> None:
    """Import the method file or module `source` (a ``.py`` path or a module name): its ``@register`` runs."""
    if source in _LOADED:
        return
    if source.endswith(".py"):
        path = Path(source).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"method file {source!r} not found (from KT_METHODS or load())")
        spec = importlib.util.spec_from_file_location(f"kt_methods_{path.stem}", path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    else:
        importlib.import_module(source)
    _LOADED.add(source)


for _source in filter(None, os.environ.get("KT_METHODS", "").split(os.pathsep)):
    load(_source)

__all__ = [
    "load",
    "GOALS",
    "METHODS",
    "LossConfig",
    "LossInputs",
    "Method",
    "Run",
    "WithReference",
    "compute_loss",
    "get_method",
    "list_methods",
    "loss_terms",
    "register",
]
