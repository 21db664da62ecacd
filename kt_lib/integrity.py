"""Run integrity: checks that end every unlearning run and say, as data, when it went wrong. A flag is a
string ``"code: what was measured"``; a run's flags are a list (``row["flags"]``, sweep tables, `kt unlearn
--json`), also printed as a :class:`RunIntegrityWarning`. The codes: ``utility_collapse`` (U or zero-shot
utility below its threshold), ``nothing_forgotten`` (Q below its threshold), ``unchanged_model`` (every
weight equals the original's), ``nan_stop`` (a non-finite loss stopped the run), ``preset_drift`` (a
setting differs from the preset the run claims) and ``identical_results`` (two methods, the same scores).
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass

import pandas as pd
import torch


class RunIntegrityWarning(UserWarning):
    """A run ended with integrity flags (silence with `warnings.simplefilter("ignore", RunIntegrityWarning)`)."""


def flags_in_cells(shell=None) -> bool:
    """Notebook mode (`setup` turns it on): a cell's RunIntegrityWarnings are counted and summed up in one
    line at its end (``3 run(s) flagged: ga utility_collapse ×2; ...``); False outside IPython."""
    ipython = sys.modules.get("IPython")
    shell = shell or (ipython.get_ipython() if ipython else None)
    if shell is None or getattr(shell, "_kt_flags", None) is not None:
        return shell is not None
    shell._kt_flags, show = [], warnings.showwarning

    def collect(message, category, *args, **kwargs):
        if not issubclass(category, RunIntegrityWarning):
            return show(message, category, *args, **kwargs)
        label, _, flags = str(message).partition(" run flagged: ")
        shell._kt_flags.append(f"{label} {' + '.join(codes(flags.split('; ')))}")

    def summary(*_):
        if shell._kt_flags:
            counts = pd.Series(shell._kt_flags).value_counts(sort=False).items()
            runs = "; ".join(f"{what} ×{n}" for what, n in counts)
            print(f"{len(shell._kt_flags)} run(s) flagged: {runs} (each row's `flags` says why)")
            shell._kt_flags.clear()

    warnings.showwarning = collect
    warnings.simplefilter("always", RunIntegrityWarning)  # every flagged run counts, not the first
    shell.events.register("post_run_cell", summary)
    return True


@dataclass(frozen=True)
class Thresholds:
    """Where a run counts as failed: more than half of the retained knowledge gone, or under a quarter forgotten."""

    min_utility: float = 0.5
    min_zero_shot_utility: float = 0.5
    min_quality: float = 0.25


def codes(flags) -> list[str]:
    """The codes of a list of flags (``"code: detail"`` strings); [] for None or NaN (rows without checks)."""
    if not isinstance(flags, (list, tuple)):
        return []
    return [f.split(":", 1)[0] for f in flags]


def score_flags(scores: dict, thresholds: Thresholds = Thresholds()) -> list[str]:
    """Flags from a run's scores (keys Q, U and optionally zero_shot_utility, fractions)."""
    t = thresholds
    u, zs, q = scores.get("U"), scores.get("zero_shot_utility"), scores.get("Q")
    low = [f"U {u:.2f} < {t.min_utility:.2f}"] if u is not None and u < t.min_utility else []
    if zs is not None and zs < t.min_zero_shot_utility:
        low.append(f"zero-shot utility {zs:.2f} < {t.min_zero_shot_utility:.2f}")
    out = ["utility_collapse: " + ", ".join(low)] if low else []
    if q is not None and q < t.min_quality:
        out.append(f"nothing_forgotten: Q {q:.2f} < {t.min_quality:.2f}")
    return out


@torch.no_grad()
def unchanged(original, model) -> bool:
    """True when every weight of `model` equals the same-named weight of `original`."""
    theirs = original.state_dict()
    return all(
        name in theirs and theirs[name].shape == p.shape and torch.equal(theirs[name].to(p), p)
        for name, p in model.state_dict().items()
    )


def preset_drift(config: dict, preset: dict, name: str = "preset") -> list[str]:
    """One flag per setting of `preset` that `config` lacks or sets differently (floats to 1e-9 relative)."""
    out = []
    for key, want in preset.items():
        if key not in config:
            out.append(f"preset_drift: {key} is not set (the {name} preset has {want!r})")
            continue
        have = config[key]
        same = (
            math.isclose(float(have), float(want), rel_tol=1e-9, abs_tol=0.0)
            if isinstance(want, (int, float)) and isinstance(have, (int, float))
            else list(have) == list(want)
            if isinstance(want, (list, tuple)) and isinstance(have, (list, tuple))
            else have == want
        )
        if not same:
            out.append(f"preset_drift: {key} = {have!r}, the {name} preset has {want!r}")
    return out


def check_run(
    row: dict,
    result,
    original=None,
    preset: dict | None = None,
    preset_name: str = "preset",
    thresholds: Thresholds = Thresholds(),
    warn: bool = True,
) -> list[str]:
    """Every check on one finished run (`row`: its scores; `result`: the UnlearnResult; `original`: the model
    it started from; `preset`: settings it should match); the flags, with `warn` also one warning."""
    flags = score_flags(row, thresholds)
    if original is not None and unchanged(original, result.model):
        flags.append("unchanged_model: every weight equals the original's")
    if result.stopped:
        flags.append(f"nan_stop: {result.stopped}")
    config = dict(result.info.get("config", {}))
    if preset:
        config.setdefault("samples_per_class", row.get("samples_per_class"))
        flags += preset_drift(config, preset, preset_name)
    if flags and warn:
        label = row.get("method") or config.get("method", "run")
        warnings.warn(f"{label} run flagged: {'; '.join(flags)}", RunIntegrityWarning, stacklevel=3)
    return flags


def identical_results(
    df: pd.DataFrame, metrics=("Q", "U", "QU"), same=("forget", "seed")
) -> pd.Series:
    """Per row: ``identical_results: same scores as <method>`` when another method on the same request
    (`same` columns) has exactly the same `metrics`, else None."""
    keys = [c for c in same if c in df] + [m for m in metrics if m in df]
    methods = df["method"] if "method" in df else df.get("label")
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    if methods is None or not any(m in df for m in metrics):
        return out
    for _, g in df.groupby(keys, dropna=False, sort=False):
        names = methods.loc[g.index]
        if names.nunique() > 1:
            for i in g.index:
                others = sorted(set(names) - {methods.loc[i]})
                out.loc[i] = "identical_results: same scores as " + ", ".join(map(str, others))
    return out


def mark_flagged(table: pd.DataFrame, runs: pd.DataFrame, by) -> pd.DataFrame:
    """`table` (one row per `by` group of `runs`) with `flagged` (how many of the group's runs carry a flag)
    and `flags` (the codes seen)."""
    by = [by] if isinstance(by, str) else list(by)
    own = runs["flags"] if "flags" in runs else [[]] * len(runs)
    found = [set(codes(f) + codes([e] if e else [])) for f, e in zip(own, identical_results(runs))]
    marks = {}
    for keys, g in runs.assign(_codes=found).groupby(by, sort=False)["_codes"]:
        marks[keys if isinstance(keys, tuple) else (keys,)] = (sum(map(bool, g)), set().union(*g))
    seen = [marks.get(k, (0, ())) for k in table[by].itertuples(index=False, name=None)]
    return table.assign(flagged=[n for n, _ in seen], flags=["; ".join(sorted(c)) for _, c in seen])
