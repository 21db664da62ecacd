"""The allowed range of every float setting of an unlearning run, checked by `UnlearnConfig` and sweep
configs (a zero margin or KL weight is legal: the ablations use them)."""

from __future__ import annotations

import math
from numbers import Real

# name -> (low, low included, high, high included); None: unbounded
FLOAT_RANGES: dict[str, tuple[float | None, bool, float | None, bool]] = {
    "lr": (0.0, False, None, False),
    "margin": (0.0, True, None, False),
    "alpha_coarse": (0.0, True, None, False),
    "alpha_fine": (0.0, True, None, False),
    "beta": (0.0, False, None, False),  # NPO divides by beta
    "salun_fraction": (0.0, False, 1.0, True),
    "holdout_fraction": (0.0, False, 1.0, False),
    "task_vector_lambda": (0.0, True, None, False),
    "eps": (0.0, False, None, False),
    "weight_decay": (0.0, True, None, False),
    "ridge": (0.0, True, None, False),  # projection: 0 keeps the retained heads exactly
}


def describe(name: str) -> str:
    """The range of a float setting in words: '> 0', '>= 0', 'in (0, 1]'."""
    lo, lo_in, hi, hi_in = FLOAT_RANGES[name]
    if hi is None:
        return f"{'>=' if lo_in else '>'} {lo:g}"
    return f"in {'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


def check_float(name: str, value) -> float:
    """`value` as a float if it is a finite number in the range of setting `name`; else ValueError."""
    lo, lo_in, hi, hi_in = FLOAT_RANGES[name]
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lo is not None:
        ok = value >= lo if lo_in else value > lo
    if ok and hi is not None:
        ok = value <= hi if hi_in else value < hi
    if not ok:
        raise ValueError(f"{name} must be a finite number {describe(name)}, got {value!r}")
    return float(value)


def check_floats(settings) -> None:
    """Check every float setting `settings` (an object with those attributes) holds; None is allowed
    only for lr (the model's own rate)."""
    for name in FLOAT_RANGES:
        value = getattr(settings, name)
        if not (name == "lr" and value is None):
            check_float(name, value)
