"""Cached sweeps over unlearning settings, and their aggregation into tables with confidence intervals.

    cache = SweepCache()                                   # in memory; SweepCache(path) also persists (JSON lines)
    margins = margin_sweep(exp, (0.5, 1, 2, 5), cache=cache)          # tidy DataFrame: one row per run
    grid = alpha_grid(exp, cache=cache)                                # none / coarse only / fine only / both
    runs = leaderboard(exp, ["ga", "nhl_kl"], per_level=3, seeds=(0, 1), cache=cache)
    aggregate(runs, by="method")                                       # mean and 95% t-interval per method

Every run goes through :func:`run`, which keys the cache by everything that decides its result: the resolved
:class:`~kt_lib.unlearn.UnlearnConfig`, the request, the number of exemplars, the test sets and a fingerprint of
the model's weights. A widget can therefore re-render any setting a plain cell computed, and calling the same
sweep twice costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kt_lib.experiment import frame
from kt_lib.integrity import mark_flagged

ALPHA_GRID = {
    "none": (0.0, 0.0),
    "coarse only": (10.0, 0.0),
    "fine only": (0.0, 20.0),
    "both": (10.0, 20.0),
}
SETTINGS = (
    "method",
    "lr",
    "num_epochs",
    "margin",
    "alpha_coarse",
    "alpha_fine",
    "seed",
    "towers",
    "samples_per_class",
)
METRICS = ("Q", "U", "QU")


def model_fingerprint(model) -> str:
    """A short hash of the weights (per-tensor sums): stable across processes for the same checkpoint."""
    sums = [
        (
            n,
            round(float(p.detach().double().sum()), 6),
            round(float(p.detach().double().abs().sum()), 6),
        )
        for n, p in model.named_parameters()
    ]
    return hashlib.sha1(json.dumps(sums).encode()).hexdigest()[:12]


def settings_key(exp, samples_per_class: int | None = None, **overrides) -> str:
    """The cache key of one run of `exp` with `overrides` (UnlearnConfig fields) and `samples_per_class`:
    the resolved config, the request, a checksum of the exemplar images, the test-set sizes and the weights."""
    cfg = asdict(replace(exp.defaults, **overrides))
    cfg.pop("progress", None)
    if not hasattr(exp, "_kt_fingerprint"):
        exp._kt_fingerprint = model_fingerprint(exp.model)
    spc = samples_per_class or exp.samples_per_class
    images, fine, _ = (
        exp.exemplars(spc) if spc != exp.samples_per_class else exp.forget_set
    ).tensors
    exemplars = [
        round(float(images.double().sum()), 4),
        round(float(images.double().abs().sum()), 4),
        fine.tolist(),
    ]
    spec = dict(
        config=cfg,
        forget=list(exp.forget),
        samples_per_class=spc,
        exemplars=exemplars,
        data=exp.data.name,
        test_sizes={k: len(d.images) for k, d in exp.evaluator.domains.items()},
        model=exp._kt_fingerprint,
    )
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=list).encode()).hexdigest()[:16]


class SweepCache:
    """Result rows by settings key. In memory; with `path`, every new row is also appended to a JSON-lines
    file and rows already in the file are loaded, so a second session re-renders without training."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._rows: dict[str, dict] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._rows[entry["key"]] = entry["row"]

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
        """Every cached run as one tidy DataFrame (per-concept details dropped)."""
        return to_frame(self._rows.values())


def _jsonable(x):
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (tuple, set)):
        return list(x)
    return str(x)


def run(
    exp,
    cache: SweepCache | None = None,
    label: str | None = None,
    keep_result: bool = False,
    samples_per_class: int | None = None,
    **overrides,
) -> dict:
    """One `exp.run` as a flat row: Q, U, QU (and OOD, zero-shot), the settings, and `per_concept` (each
    forgotten concept's fine accuracy before/after per test domain). Cached rows are returned without
    training; `keep_result=True` always trains and also returns the UnlearnResult under 'result'."""
    key = settings_key(exp, samples_per_class, **overrides)
    if cache is not None and not keep_result and key in cache:
        row = cache.get(key)
        row["label"] = label or row["method"]
        return row
    out = exp.run(overrides.pop("method", None), samples_per_class=samples_per_class, **overrides)
    result = out.pop("result")
    cfg = result.info["config"]
    row = dict(label=label or cfg["method"], **{k: cfg[k] for k in SETTINGS if k in cfg})
    row.update(out)
    row.update(
        method=cfg["method"],
        samples_per_class=samples_per_class or exp.samples_per_class,
        forget=" | ".join(exp.forget),
        per_concept=_per_concept(exp, result.model),
    )
    if cache is not None:
        cache.put(key, row)
    return {**row, "result": result} if keep_result else row


def _per_concept(exp, model) -> list[dict]:
    before = exp.evaluator.per_class(exp.model, exp.tokenizer)
    after = exp.evaluator.per_class(model, exp.tokenizer)
    merged = before.merge(after, on=["domain", "concept", "group"], suffixes=("_before", "_after"))
    merged = merged[merged.concept.isin(exp.forget)]
    return [
        dict(
            concept=r.concept,
            group=r.group,
            domain=r.domain,
            before=float(r.fine_before),
            after=float(r.fine_after),
        )
        for r in merged.itertuples()
    ]


def to_frame(rows) -> pd.DataFrame:
    """Rows from :func:`run` as a tidy DataFrame, without the heavy 'result' and the 'per_concept' lists."""
    return frame(rows, drop=("result", "per_concept"))


def concept_frame(rows) -> pd.DataFrame:
    """One row per (run, concept, domain): the settings, fine accuracy before/after and the concept's Q."""
    out = []
    for r in rows:
        base = {k: r[k] for k in ("label", *SETTINGS) if k in r}
        for c in r.get("per_concept", []):
            q = 1 - c["after"] / c["before"] if c["before"] > 0 else float("nan")
            out.append(dict(base, **c, Q=q))
    return pd.DataFrame(out)


def sweep(exp, configs, cache: SweepCache | None = None, **common) -> list[dict]:
    """Run `configs` (a dict label -> overrides, or a list of such pairs) with shared `common` overrides."""
    items = configs.items() if isinstance(configs, dict) else configs
    return [run(exp, cache, label=label, **{**common, **kw}) for label, kw in items]


def margin_sweep(
    exp,
    margins=(0.5, 1.0, 2.0, 5.0),
    method: str = "nhl_kl",
    cache: SweepCache | None = None,
    **common,
) -> list[dict]:
    """NHL(+KL) at each hinge margin; the label is the margin."""
    return sweep(
        exp,
        [(f"margin {m:g}", dict(method=method, margin=float(m))) for m in margins],
        cache,
        **common,
    )


def alpha_grid(
    exp, grid: dict | None = None, method: str = "nhl_kl", cache: SweepCache | None = None, **common
) -> list[dict]:
    """The KL ablation: label -> (alpha_coarse, alpha_fine), default :data:`ALPHA_GRID`."""
    grid = ALPHA_GRID if grid is None else grid
    return sweep(
        exp,
        [
            (name, dict(method=method, alpha_coarse=float(a), alpha_fine=float(b)))
            for name, (a, b) in grid.items()
        ],
        cache,
        **common,
    )


def strength_sweep(
    exp, lrs=(5e-5, 1e-4, 2e-4), methods=("nhl_kl", "ga"), cache: SweepCache | None = None, **common
) -> list[dict]:
    """Forgetting strength (learning rate) x method; every row carries in-domain and OOD scores."""
    return sweep(
        exp,
        [(f"{m} @ lr {lr:g}", dict(method=m, lr=float(lr))) for m in methods for lr in lrs],
        cache,
        **common,
    )


def nearest(table: pd.DataFrame, **target) -> pd.Series:
    """The row of `table` closest to `target`: string settings must match exactly (if any row matches),
    numeric ones are compared on a log scale for positive columns (lr, alpha) normalised by their range."""
    df = table
    for k, v in target.items():
        if isinstance(v, str) and k in df and (df[k] == v).any():
            df = df[df[k] == v]
    dist = np.zeros(len(df))
    for k, v in target.items():
        if isinstance(v, str) or k not in df or v is None:
            continue
        col = df[k].astype(float).to_numpy()
        a, b = np.log1p(np.abs(col)), math.log1p(abs(float(v)))
        span = np.ptp(np.log1p(np.abs(table[k].astype(float).to_numpy()))) or 1.0
        dist += ((a - b) / span) ** 2
    return df.iloc[int(np.argmin(dist))]


# --- difficulty levels and leaderboards ------------------------------------------------------------------


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


def leaderboard(
    exp,
    methods,
    levels: dict[str, list[str]] | None = None,
    per_level: int = 3,
    seeds=(0,),
    cache: SweepCache | None = None,
    **common,
) -> pd.DataFrame:
    """Every method on every (difficulty level, seed) request, one tidy row per run.

    `levels` defaults to :func:`kt_lib.eval.evaluator.difficulty_levels` of `exp`'s model; each seed draws
    `per_level` targets per level (:func:`level_requests`) and seeds the trainer. Requests share `exp`'s
    model, data and test sets, so the original model is evaluated once."""
    from kt_lib.eval.evaluator import difficulty_levels
    from kt_lib.experiment import Experiment

    if levels is None:
        levels = difficulty_levels(exp.evaluator.per_class(exp.model, exp.tokenizer))
    rows = []
    for seed in seeds:
        for level, forget in level_requests(levels, per_level, seed).items():
            sub = Experiment(
                forget,
                model=exp.model,
                tokenizer=exp.tokenizer,
                data=exp.data,
                samples_per_class=exp.samples_per_class,
                **asdict(exp.defaults),
            )
            sub._kt_fingerprint = getattr(exp, "_kt_fingerprint", None) or model_fingerprint(
                exp.model
            )
            exp._kt_fingerprint = sub._kt_fingerprint
            for m in methods:
                row = run(sub, cache, **{**common, "method": m, "seed": int(seed)})
                rows.append(dict(row, level=level))
    return to_frame(rows)


# --- confidence intervals ---------------------------------------------------------------------------------


def _t_cdf(t: float, df: int) -> float:
    """Student-t CDF by Simpson integration of the density (no scipy needed; error < 1e-9 for |t| < 100)."""
    if t == 0:
        return 0.5
    n = 4000
    x = np.linspace(0.0, abs(t), n + 1)
    logc = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    pdf = np.exp(logc - (df + 1) / 2 * np.log1p(x * x / df))
    h = abs(t) / n
    area = h / 3 * (pdf[0] + pdf[-1] + 4 * pdf[1:-1:2].sum() + 2 * pdf[2:-1:2].sum())
    return 0.5 + math.copysign(area, t)


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom (bisection on :func:`_t_cdf`)."""
    if not 0 < p < 1 or df < 1:
        raise ValueError(f"need 0 < p < 1 and df >= 1, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the two-sided t-interval, n); the half-width is NaN for fewer than 2 values."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(x[0]), float("nan"), 1
    half = t_quantile(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean()), float(half), n


def aggregate(
    df: pd.DataFrame, by="method", metrics=METRICS, confidence: float = 0.95
) -> pd.DataFrame:
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


def format_ci(mean: float, half: float, scale: float = 100.0, digits: int = 1) -> str:
    """'95.2 ± 1.3' (percent by default); just the mean when the interval is undefined."""
    if half != half:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * half:.{digits}f}"
