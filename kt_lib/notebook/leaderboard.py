"""Sweeps over unlearning settings, and their aggregation into tables with confidence intervals.

    runs = leaderboard(exp, ["ga", "nhl_kl"], levels, per_level=3, seeds=(0, 1))  # a row per run
    aggregate(runs, by="method")                      # mean and 95% t-interval per method

Every run goes through `Experiment.run`, cached by everything that decides the
result: a widget re-renders any setting a cell computed, and a repeated sweep costs nothing."""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources

import numpy as np
import pandas as pd

from kt_lib.eval.collateral import profile
from kt_lib.experiment import SETTINGS, Experiment, table
from kt_lib.integrity import mark_flagged
from kt_lib.stats import mean_ci, t_quantile  # noqa: F401 (leaderboard.t_quantile, .mean_ci)

METRICS = ("Q", "U", "QU")


def concept_frame(rows) -> pd.DataFrame:
    """One row per (run, concept, domain): the settings, fine accuracy before/after and the concept's Q."""
    out = []
    for r in rows:
        base = {k: r[k] for k in ("label", *SETTINGS) if k in r}
        for c in r.get("per_concept", []):
            q = 1 - c["after"] / c["before"] if c["before"] > 0 else float("nan")
            out.append(dict(base, **c, Q=q))
    return pd.DataFrame(out)


def same_setup(exp, forget) -> Experiment:
    """An Experiment on another forget request sharing `exp`'s model, data, settings and run cache."""
    kw = dict(data=exp.data, cache=exp.cache, **asdict(exp.defaults))
    return Experiment(forget, exp.model, exp.tokenizer, exp.samples_per_class, **kw)


def level_requests(
    levels: dict[str, list[str]], per_level: int = 3, seed: int = 0
) -> dict[str, list[str]]:
    """`per_level` concepts of each difficulty level: evenly spaced over the level for seed 0, a random
    draw (seeded) otherwise, so that seeds vary the targets as well as the trainer."""
    out = {}
    for name, concepts in levels.items():
        n = min(per_level, len(concepts))
        if seed == 0:
            idx = np.unique(np.linspace(0, len(concepts) - 1, n).round().astype(int))
        else:
            idx = np.sort(np.random.default_rng(seed).choice(len(concepts), n, replace=False))
        out[name] = [concepts[i] for i in idx]
    return out


def leaderboard(exp, methods, levels: dict, per_level: int = 3, seeds=(0,)) -> pd.DataFrame:
    """Every method on every (difficulty level, seed) request, one tidy row per run.

    `levels`: :func:`kt_lib.eval.evaluator.difficulty_levels` of `exp`'s model; each seed draws `per_level`
    targets per level (:func:`level_requests`) and seeds the trainer. Requests share `exp`'s model, data,
    test sets and cache, so the original model is evaluated once."""
    rows = []
    for seed in seeds:
        for level, forget in level_requests(levels, per_level, seed).items():
            sub = same_setup(exp, forget)
            for m in methods:
                row = sub.run(method=m, seed=int(seed))
                rows.append(dict(row, level=level))
    return table(rows)


def aggregate(df: pd.DataFrame, by="method", metrics=METRICS, confidence=0.95) -> pd.DataFrame:
    """Mean and CI half-width of each metric per group: columns `<metric>`, `<metric>_ci` and `n`
    (group order as first seen)."""
    by = [by] if isinstance(by, str) else list(by)
    out = []
    for keys, g in df.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        for m in metrics:
            mean, half, n = mean_ci(g[m], confidence)
            row.update({m: mean, f"{m}_ci": half, "n": n})
        out.append(row)
    return mark_flagged(pd.DataFrame(out), df, by)  # + columns flagged (run count) and flags


def format_ci(mean: float, half: float) -> str:
    """'95.2 ± 1.3' (in percent); just the mean when the interval is undefined."""
    return f"{100 * mean:.1f}" if half != half else f"{100 * mean:.1f} ± {100 * half:.1f}"


def run_profiles(exp, configs: dict, requests, seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every `configs` entry (label -> UnlearnConfig overrides) on every request (lists of names)
    and trainer seed, sharing `exp`'s model, data and test sets. Returns the stacked
    per-concept profiles and one row per run (scores and flags), both with label, request and seed."""
    concepts, runs = [], []
    for r, forget in enumerate(requests):
        sub = same_setup(exp, forget)
        for seed in seeds:
            for label, kw in configs.items():
                row = sub.run(label=label, **{**kw, "seed": int(seed)})
                tags = dict(label=label, request=r, seed=int(seed))
                concepts.append(profile(sub, row).assign(**tags))  # cached by the run's key
                runs.append(dict(row, **tags, forget=" | ".join(sub.forget)))
    return pd.concat(concepts, ignore_index=True), table(runs)


def paper_qu() -> dict[str, float]:
    """The paper's Table 2 Q-U (percent) per method, best first, from kt_lib/paper/tables.json."""
    tables = json.loads((resources.files("kt_lib") / "paper" / "tables.json").read_text())
    rows = {m: r["QU"] for m, r in tables["table2"]["rows"].items() if "QU" in r}
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]))


def ranking_takeaway(board: pd.DataFrame, paper: dict[str, float]) -> str:
    """Notebook 06's takeaway on a leaderboard (`aggregate` by method): our order of the paper's methods
    against the paper's (`paper_qu`), whether the top two intervals overlap, and SalUn against relabel."""
    qu, half = (100 * board.set_index("method")[c] for c in ("QU", "QU_ci"))
    paper_order = [m for m in paper if m in qu]  # the paper's ranking, best first
    ours = sorted(paper_order, key=lambda m: -qu[m])
    same = ours == paper_order
    text = (
        f"*Takeaway:* ranked by mean Q-U, the paper's methods come out {' > '.join(ours)} "
        f"({', '.join(f'{qu[m]:.1f}' for m in ours)}): "
        + ("the paper's ranking holds. " if same else f"the paper has {' > '.join(paper_order)}. ")
    )
    if "ga_kl" in qu and "ga_kl" in paper and qu["ga_kl"] < paper["ga_kl"] - 10:
        text += (
            f"GA+KL ({qu['ga_kl']:.1f}) is far below the paper's {paper['ga_kl']} because at this "
            "learning rate its unbounded term still collapses the tiny model. "
        )
    if len(ours) >= 2:
        a, b = ours[:2]
        text += (
            f"The top two ({a} and {b}) have overlapping intervals, so they are not separated yet: run "
            "more seeds before ranking them. "
            if qu[a] - half[a] <= qu[b] + half[b]
            else f"The intervals of the top two ({a} and {b}) do not overlap. "
        )
    if {"salun", "relabel"} <= set(qu.index):
        text += (
            f"SalUn scores {qu['salun']:.1f} against relabel's {qu['relabel']:.1f}: its mask keeps the half "
            "of the weights the forget loss moves most (ranked among the weights it reaches at all: most of "
            "this model's parameters are token-embedding rows no prompt uses), and relabelling does the rest."
        )
    return text
