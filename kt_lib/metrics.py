"""The paper's forgetting-quality / utility metrics.

All accuracies are FRACTIONS in [0, 1] (pass 0.934, not 93.4); a value above 1 raises ``ValueError``
so percentages are caught early. Results are fractions too (multiply by 100 to compare with tables).

* Quality ``Q = 1 - acc_after / acc_before`` on the forget set at the fine level (may go negative if
  the model got *better* on the forget set; not clamped).
* Utility ``U = mean(min(1, after/before))`` over forget_coarse, retain_coarse, retain_fine.
* ``QU`` is the harmonic mean of Q and U.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ACC_KEYS", "UTILITY_KEYS", "quality", "utility", "harmonic", "score"]

ACC_KEYS = ("forget_fine", "forget_coarse", "retain_fine", "retain_coarse")
UTILITY_KEYS = ("forget_coarse", "retain_coarse", "retain_fine")


def _acc(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{what} = {value} is not a fraction in [0, 1] (pass percentages divided by 100)"
        )
    return value


def quality(forget_fine_before: float, forget_fine_after: float) -> float:
    """Forgetting quality ``1 - after / before`` of the fine-level forget accuracy."""
    before = _acc(forget_fine_before, "forget_fine_before")
    after = _acc(forget_fine_after, "forget_fine_after")
    if before == 0.0:
        raise ValueError(
            "forget_fine accuracy before unlearning is 0: there is nothing to forget, "
            "so quality = 1 - after/before is undefined"
        )
    return 1.0 - after / before


def utility(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """Mean over forget_coarse, retain_coarse, retain_fine of ``min(1, after / before)``."""
    ratios = []
    for key in UTILITY_KEYS:
        if key not in before or key not in after:
            raise KeyError(f"utility needs key {key!r} in both dicts (keys: {UTILITY_KEYS})")
        b, a = _acc(before[key], f"before[{key!r}]"), _acc(after[key], f"after[{key!r}]")
        if b == 0.0:
            raise ValueError(f"before[{key!r}] is 0: the retained-accuracy ratio is undefined")
        ratios.append(min(1.0, a / b))
    return sum(ratios) / len(ratios)


def harmonic(q: float, u: float) -> float:
    """``2qu / (q + u)``; 0 if either is <= 0 (a method that forgot nothing, or broke everything)."""
    if q <= 0.0 or u <= 0.0:
        return 0.0
    return 2.0 * q * u / (q + u)


def score(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """``{"Q": quality, "U": utility, "QU": harmonic(Q, U)}`` from two dicts keyed by :data:`ACC_KEYS`."""
    for name, d in (("before", before), ("after", after)):
        missing = [k for k in ACC_KEYS if k not in d]
        if missing:
            raise KeyError(f"{name} is missing {missing}; expected keys {ACC_KEYS}")
    q = quality(before["forget_fine"], after["forget_fine"])
    u = utility(before, after)
    return {"Q": q, "U": u, "QU": harmonic(q, u)}
