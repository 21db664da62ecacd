"""One way for the analyses (probe, collateral damage, relearning) to take a model or a run row and cache
what they compute.

    memo(exp, source, "probe", lambda model: ..., domain="photo")

The answer is cached under the source (a run row's key, or a model's fingerprint) and the keyword
parameters through `exp.derive`, the `kt_lib.derived.Derived` the experiment built from its cache, its
kept models and its `run`: a notebook or session that asks again gets it without training.
"""

from __future__ import annotations


def memo(exp, source, name: str, compute, **params):
    """`compute(model)` for `source` (a model or a run row of `exp`), cached through `exp.derive`."""
    return exp.derive(source, name, compute, **params)
