"""The paper's metrics (Tan & Gong, arXiv 2506.11253), as FRACTIONS in [0, 1] (0.934, not 93.4): forgetting
quality ``Q = 1 - A_after / A_before`` of the forgotten accuracy, utility ``U = mean(min(1, A_after /
A_before))`` over the accuracies that must survive, ``Q-U`` their harmonic mean (Table 2); per goal:

=======  ======================================  ==================================================
goal     Q                                       U (mean of min(1, after/before) over)
=======  ======================================  ==================================================
fine     1 - forget_fine ratio (the paper's)     forget_coarse, retain_coarse, retain_fine (paper)
coarse   1 - forget_coarse ratio                 retain_coarse, retain_fine (forget_fine goes with
                                                 its group, so it counts for neither Q nor U)
hybrid   mean of the fine and coarse Q           retain_coarse, retain_fine
=======  ======================================  ==================================================

A forgotten level the model did not know (accuracy 0 before) raises :class:`NothingToForget`.
"""

from __future__ import annotations

ACC_KEYS = ("forget_fine", "forget_coarse", "retain_fine", "retain_coarse")
# goal -> (the accuracy keys Q is computed from, the ones U averages: never the level being forgotten)
KEYS = {
    "fine": (("forget_fine",), ("forget_coarse", "retain_coarse", "retain_fine")),
    "coarse": (("forget_coarse",), ("retain_coarse", "retain_fine")),
    "hybrid": (("forget_fine", "forget_coarse"), ("retain_coarse", "retain_fine")),
}


class NothingToForget(ValueError):
    """The model did not know the forgotten level before unlearning (accuracy 0): Q is undefined."""


def goal_keys(goal: str = "fine") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(forgotten, retained): the accuracy keys of Q and of U for ``goal``."""
    if goal not in KEYS:
        raise ValueError(f"goal must be one of {tuple(KEYS)}, got {goal!r}")
    return KEYS[goal]


def _acc(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{what} = {value} is not a fraction in [0, 1] (pass percentages divided by 100)"
        )
    return value


def quality(before: float, after: float, what: str = "forget_fine") -> float:
    """Forgetting quality ``1 - after / before`` of one forgotten accuracy (may go negative: not clamped)."""
    b = _acc(before, f"{what} before")
    a = _acc(after, f"{what} after")
    if b == 0.0:
        raise NothingToForget(
            f"nothing to forget: {what} accuracy before unlearning is 0% (the model does not know "
            "the concept at this level), so quality = 1 - after/before is undefined"
        )
    return 1.0 - a / b


def utility(before, after, goal: str = "fine", skip_unknown: bool = False) -> float:
    """Mean over the goal's retained keys of ``min(1, after / before)`` (`before`, `after`: accuracy dicts);
    a retained accuracy that was 0 before raises, or with ``skip_unknown`` is left out (if all are, U is undefined and raises)."""
    ratios, retained = [], goal_keys(goal)[1]
    for key in retained:
        b, a = _acc(before[key], f"before[{key!r}]"), _acc(after[key], f"after[{key!r}]")
        if b == 0.0 and skip_unknown:
            continue
        if b == 0.0:
            raise ValueError(f"before[{key!r}] is 0: the retained-accuracy ratio is undefined")
        ratios.append(min(1.0, a / b))
    if not ratios:
        raise ValueError(f"every retained accuracy {retained} was 0 before: U is undefined")
    return sum(ratios) / len(ratios)


def harmonic(q: float, u: float) -> float:
    """``2qu / (q + u)``; 0 if either is <= 0 (a method that forgot nothing, or broke everything)."""
    if q <= 0.0 or u <= 0.0:
        return 0.0
    return 2.0 * q * u / (q + u)


def score(before, after, goal: str = "fine", skip_unknown: bool = False) -> dict[str, float]:
    """``{"Q", "U", "QU"}`` for ``goal`` from two dicts keyed by :data:`ACC_KEYS` (``skip_unknown``: see
    :func:`utility`). Raises :class:`NothingToForget` when a forgotten accuracy was 0 before."""
    for name, d in (("before", before), ("after", after)):
        if missing := [k for k in ACC_KEYS if k not in d]:
            raise KeyError(f"{name} is missing {missing}; expected keys {ACC_KEYS}")
    qs = [quality(before[k], after[k], k) for k in goal_keys(goal)[0]]
    q = sum(qs) / len(qs)
    u = utility(before, after, goal, skip_unknown)
    return {"Q": q, "U": u, "QU": harmonic(q, u)}
