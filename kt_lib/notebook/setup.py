"""The setup every notebook starts with: check the parameters, load the model and the data, print the
configuration.

    tut = setup(globals())      # reads SMOKE, DEVICE, SEED, MODEL, PRETRAINED, DATA_ROOT, TAXONOMY, ...
    exp = tut.experiment(FORGET, samples_per_class=30, method="nhl_kl")"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from kt_lib.integrity import flags_in_cells
from kt_lib.notebook.style import alt_text_on_figures

SMOKE_EVAL_PER_CLASS = 10
# the parameters every notebook's parameters cell sets, which `setup(globals())` reads
COMMON = "SMOKE DEVICE SEED MODEL PRETRAINED DATA_ROOT TAXONOMY EVAL_PER_CLASS LR".split()
_DEFAULTS = (None, "auto", 0, "kt-tiny-dogworld", None, None, "imgnetdogs", None, None)  # COMMON's


def _literals(source: str) -> dict | None:
    """A cell's `NAME = literal` assignments, or None for a cell that holds anything else."""
    try:
        body = ast.parse(source).body
        pairs = [(s.targets[0].id, ast.literal_eval(s.value)) for s in body]
    except (SyntaxError, ValueError, AttributeError, TypeError):
        return None
    return dict(pairs) if pairs else None


def _kind(default) -> str:
    if isinstance(default, (list, tuple)):
        return "a list" + (f" of {_kind(default[0])}" if default else "")
    return {bool: "bool", int: "int", float: "a number", str: "str"}.get(type(default), "any value")


def _fits(value, default) -> bool:
    """`value` has `default`'s type (an int passes for a float, a list of names for a name)."""
    if default is None or isinstance(default, dict):
        return True
    if isinstance(default, (list, tuple)) or isinstance(default, str) and isinstance(value, list):
        item = (default[0] if default else None) if isinstance(default, (list, tuple)) else default
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    return type(value) is type(default) or (type(default), type(value)) == (float, int)


def check_parameters(history) -> None:
    """papermill's injected parameters (its `# Parameters` cell in the kernel's input `history`, IPython's
    `In`) against the parameters cell's defaults: a value of another type than its default (a str for a
    list of int, ...) raises one TypeError naming the parameter and the type it expects."""
    __tracebackhide__ = True  # IPython shows the learner the one line, not this frame
    cells = [(src, _literals(src)) for src in history or []]
    for i, (src, injected) in enumerate(cells):
        if injected is None or not src.lstrip().startswith("# Parameters"):
            continue
        defaults = next((d for s, d in reversed(cells[:i]) if d and "SMOKE" in d), {})
        for name, value in injected.items():
            if name in defaults and not _fits(value, defaults[name]):
                raise TypeError(
                    f"parameter {name} expects {_kind(defaults[name])} (its default is "
                    f"{defaults[name]!r}), got {value!r}, a {type(value).__name__}"
                )


def show_config(**values) -> None:
    """Print a configuration, one `name = value` per line."""
    width = max(map(len, values), default=0)
    for k, v in values.items():
        print(f"{k:<{width}} = {v!r}")


@dataclass
class Setup:
    """What a notebook works with: the model, its tokenizer, the data source, the resolved smoke flag and
    learning rate, and this machine's RunCache (read once per session)."""

    smoke: bool
    model: object
    tokenizer: object
    source: object
    lr: float
    cache: object = None  # None: opened per experiment

    @property
    def evaluator(self):
        return self.source.evaluator

    def experiment(self, forget, samples_per_class: int = 30, cache=None, **settings):
        """An `Experiment` on this model and data (`settings`: UnlearnConfig fields; lr defaults to
        `self.lr`; `cache`: None for this machine's run cache, which every notebook and `kt unlearn`
        share, or the path of another JSON-lines file of finished runs)."""
        from kt_lib.experiment import Experiment

        settings.setdefault("lr", self.lr)
        if cache is None:  # a RunCache is falsy while empty: test for None
            cache = "machine" if self.cache is None else self.cache
        kw = dict(samples_per_class=samples_per_class, data=self.source, cache=cache)
        return Experiment(forget, self.model, self.tokenizer, **kw, **settings)

    show = staticmethod(show_config)  # the notebook's own settings, under the common ones


def setup(namespace: dict) -> Setup:
    """`setup(globals())`: check papermill's parameters (`check_parameters`), read `COMMON` from them, seed
    torch, load the model and data source, print the configuration; run flags then show as one line per
    cell and figures carry alternative text. `DATA_ROOT=None` is the embedded world, `LR=None` picks
    `default_lr(MODEL)`; smoke mode (`SMOKE=True`, or None with KT_SMOKE=1) evaluates on 10 test images
    per breed and domain."""
    __tracebackhide__ = True  # a papermill type error shows as its one line
    check_parameters(namespace.get("In"))
    __tracebackhide__ = False
    values = [namespace.get(k, v) for k, v in zip(COMMON, _DEFAULTS)]
    smoke, device, seed, model, pretrained, data_root, taxonomy, eval_per_class, lr = values
    import torch

    from kt_lib.cache import machine_cache
    from kt_lib.models import load_model
    from kt_lib.sources import data_source
    from kt_lib.unlearn import default_lr

    if smoke is None:  # nbval runs set KT_SMOKE
        smoke = os.environ.get("KT_SMOKE", "0") not in ("", "0", "false", "False")
    smoke = bool(smoke)
    torch.manual_seed(seed)
    if eval_per_class is None and smoke:
        eval_per_class = SMOKE_EVAL_PER_CLASS
    if lr is not None and not lr > 0:
        raise ValueError(f"LR must be a positive learning rate or None (default_lr), got {lr!r}")
    loaded, preprocess, tokenizer = load_model(model, pretrained, device=device)
    source = data_source(data_root, preprocess, taxonomy, eval_per_class=eval_per_class)
    runs = machine_cache()  # one reading of the file for the session's experiments
    source.evaluator.persist(loaded, runs)  # the model's predictions: once per machine
    lr = default_lr(model) if lr is None else float(lr)
    out = Setup(smoke, loaded, tokenizer, source, lr, runs)
    alt_text_on_figures()  # in a notebook: each figure's titles become its image's alternative text
    flags_in_cells()  # in a notebook: RunIntegrityWarnings become one line per cell, not warning blocks
    show_config(
        smoke=smoke,
        model=model if pretrained is None else f"{model} ({pretrained})",
        device=str(next(loaded.parameters()).device),
        data=source.name,
        eval_per_class=eval_per_class or "all",
        lr=lr,
    )
    return out
