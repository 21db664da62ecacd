"""One way for evaluation functions to take a model *or* a run row and cache what they compute.

    memo(exp, source, "probe", lambda model: ..., domain="photo")

With an `Experiment` (it has `derive`, see `kt_lib.derived`) the answer is cached under the source (a run row's
key, or a model's fingerprint) and the keyword parameters, so a notebook or session that asks again gets it
without training. With any other experiment-like object the model is used directly.
"""

from __future__ import annotations


def memo(exp, source, name: str, compute, **params):
    """`compute(model)` for `source` (a model or a run row), cached through `exp.derive` when it has one."""
    derive = getattr(exp, "derive", None)
    if derive is not None:
        return derive(source, name, compute, **params)
    if isinstance(source, dict):
        if "result" not in source:
            raise ValueError("a run row without its result needs an Experiment to train it again")
        source = source["result"].model
    return compute(source)
