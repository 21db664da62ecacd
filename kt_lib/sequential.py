"""Requests that arrive one after another (MUSE's sustainability protocol): unlearn request 1 from the
original model, request 2 from request 1's unlearned model, and so on, with the same method and settings.

    exp = Experiment(["Samoyed"], model, tokenizer)                  # request 1 and the original model
    seq = sequence(exp, ["vizsla", "beagle", "pug"], "nhl_kl")       # requests 2, 3, 4
    frame(seq)      # one row per step: Q of every request so far, Q of all of them, U, zero-shot utility

Each step is a plain run of its own request on the model the step starts from: its proxy forgetting set
holds request i's exemplars only, and a method's reference (the KL and NPO terms of `WithReference`
methods, `Run.original` in the loop) is that starting model, request i-1's unlearned model, not the
original. Step 1 is `exp.run(method)` itself: the same key, row and Q as a single run of request 1.

Every score is measured against the original model (its accuracies are 'before'): after request i,
`Q_requests[j]` is request j's Q (j <= i), the matrix's row i; `Q`, `U` and `zero_shot_utility` are those of
the union of requests 1..i, so U is measured on the breeds no request has forgotten yet. A step's row is
cached in the experiment's run cache under a key that chains the whole prefix (step 1's run key, then each
later request's run key); `DERIVED_VERSION` is in it. A cached step holds scores, not a model: a missing step
trains the steps before it again (the same settings and seed give the same model).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from kt_lib.derived import DERIVED_VERSION
from kt_lib.eval.evaluator import model_fingerprint
from kt_lib.experiment import Experiment
from kt_lib.unlearn import unlearn

__all__ = ["frame", "sequence"]
SCORES = ("Q", "U", "QU", "zero_shot_utility", "drawing_Q", "drawing_U", "drawing_QU")


def sequence(exp: Experiment, then, method: str | None = None, **overrides) -> dict:
    """Unlearn `exp.forget`, then each request of `then` (a name or a list of names each) in turn, on the
    model the previous request left. Returns {method, requests (the breeds of each), steps (one row per
    request: `Q_requests`, the union's Q, U, QU, zero_shot_utility, OOD scores, seconds, key), matrix (Q of
    request j after request i, j <= i)}. A request naming a breed an earlier one forgot raises."""
    then = [[t] if isinstance(t, str) else list(t) for t in then]
    # unknown names raise here, before training
    exps = [exp] + [_like(exp, names) for names in then]
    seen: dict[str, int] = {}
    for i, e in enumerate(exps):
        if again := [b for b in e.forget if b in seen]:
            raise ValueError(
                f"request {i + 1} names {', '.join(again)}, forgotten by request {seen[again[0]] + 1}: "
                "give each breed in one request only"
            )
        seen.update(dict.fromkeys(e.forget, i))
    cfg = exp.config(method, **overrides)
    first = exp.run(method, **overrides)  # a plain run of request 1: cached like any other
    keys = [first["key"]]
    for e in exps[1:]:
        spec = [keys[-1], e.key(None, "all", e.config(method, **overrides)), DERIVED_VERSION]
        keys.append("sequence:" + hashlib.sha1(json.dumps(spec).encode()).hexdigest()[:16])
    rows = [_first_row(exp, first)] + [exp.cache.get(k) for k in keys[1:]]
    at, model = 0, None  # `model`: the model after request `at` (0: none trained yet)
    for i in range(1, len(exps)):
        if rows[i] is not None:
            continue
        if at == 0:  # step 1's model: kept or stored (Experiment.result), else trained
            at, model = 1, exp.result(first).model
        while at < i:  # cached steps between: trained again, not evaluated
            at, model = at + 1, _step(exps[at], model, method, overrides).model
        with exp.cache.claim(keys[i]):  # another process on this step: wait for its row
            rows[i] = exp.cache.get(keys[i])
            if rows[i] is None:
                result = _step(exps[i], model, method, overrides)
                rows[i] = _evaluate(exps[: i + 1], result, cfg.goal)
                exp.cache.put(keys[i], rows[i])
                at, model = i + 1, result.model
    for i, row in enumerate(rows):
        row.update(step=i + 1, request=exps[i].forget, key=keys[i])
    matrix = [row["Q_requests"] for row in rows]
    return dict(method=cfg.method, requests=[e.forget for e in exps], steps=rows, matrix=matrix)


def frame(seq: dict) -> pd.DataFrame:
    """One row per step: the request, Q of each request so far (a column per request, empty above the
    diagonal), the union's Q, U and zero-shot utility."""
    columns = [f"Q {' + '.join(r)}" for r in seq["requests"]]
    out = []
    for row in seq["steps"]:
        qs = dict(zip(columns, row["Q_requests"]))
        scores = {k: row.get(k) for k in ("Q", "U", "zero_shot_utility")}
        out.append(dict(step=row["step"], request=" + ".join(row["request"]), **qs, **scores))
    return pd.DataFrame(out, columns=["step", "request", *columns, "Q", "U", "zero_shot_utility"])


def _like(exp: Experiment, forget) -> Experiment:
    """An experiment on `exp`'s original model, data, cache and settings for another request."""
    kw = dict(data=exp.data, preset=exp.preset, cache=exp.cache, **exp.settings)
    return Experiment(forget, exp.model, exp.tokenizer, exp.samples_per_class, **kw)


def _step(e: Experiment, model, method, overrides):
    """`e`'s request unlearned from `model` (not the original): its exemplars, its settings; `model` is the
    reference of a method that keeps close to where it starts."""
    cfg = e.config(method, **overrides)
    images, fine, coarse = e.forget_set.tensors
    names = (e.data.fine_names, e.data.coarse_names)
    return unlearn(model, e.tokenizer, images, fine, coarse, *names, cfg)


def _first_row(exp: Experiment, row: dict) -> dict:
    """Step 1's row from the plain run's: its scores, and its Q as the matrix's first row."""
    out = {k: row.get(k) for k in SCORES}
    out.update(Q_requests=[row["Q"]], seconds=row["seconds"], steps=row["steps"])
    return dict(out, stopped=row["stopped"], forget=list(exp.forget))


def _evaluate(exps: list[Experiment], result, goal: str) -> dict:
    """The scores of the model after request len(exps): each request's Q (against the original model) and
    the Q, U and zero-shot utility of their union."""
    fingerprint = model_fingerprint(result.model)
    union = [b for e in exps for b in e.forget]
    scores = _like(exps[0], union).evaluate(result.model, goal, "all", fingerprint)
    each = [e.evaluate(result.model, goal, "in_domain", fingerprint)["Q"] for e in exps]
    out = {k: scores.get(k) for k in SCORES}
    out.update(Q_requests=each, seconds=result.seconds, steps=result.info["steps"])
    return dict(out, stopped=result.stopped, forget=union)
