"""Statistics of a few runs: Student's t quantile (scipy.stats.t) and a mean with its t-interval."""

from __future__ import annotations

import math

import numpy as np


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom."""
    if not 0 < p < 1 or df < 1:
        raise ValueError(f"need 0 < p < 1 and df >= 1, got p={p}, df={df}")
    from scipy import stats  # here, not above: scipy.stats was 13% of `kt unlearn`'s import time

    return float(stats.t.ppf(p, df))


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
