"""kt_lib.metrics against the paper's Table 2 (accuracies in percent there, fractions here)."""

from __future__ import annotations

import pytest

from kt_lib.metrics import harmonic, quality, score, utility

ORDER = ("forget_coarse", "forget_fine", "retain_coarse", "retain_fine")


def _acc(*pct: float) -> dict[str, float]:
    return dict(zip(ORDER, (p / 100 for p in pct)))


ORIGIN = _acc(86.20, 93.40, 50.88, 65.55)


def _pct(s: dict[str, float]) -> dict[str, float]:
    return {k: round(v * 100, 2) for k, v in s.items()}


def test_table2_nhl_kl():
    assert _pct(score(ORIGIN, _acc(88.20, 2.00, 48.23, 54.56))) == {
        "Q": 97.86,
        "U": 92.68,
        "QU": 95.20,
    }


def test_table2_ga():
    s = score(ORIGIN, _acc(1.00, 0.00, 7.80, 1.57))
    # Exact arithmetic gives QU = 11.8446 -> 11.84; the paper prints 11.85, which is the harmonic
    # mean of the *rounded* U (6.30): 2*100*6.30/106.30 = 11.853.
    assert _pct(s) == {"Q": 100.0, "U": 6.30, "QU": 11.84}
    assert round(harmonic(1.0, 0.0630) * 100, 2) == 11.85


def test_quality_and_utility_edges():
    assert quality(0.5, 0.5) == 0.0 and quality(0.5, 0.0) == 1.0
    with pytest.raises(ValueError, match="before"):
        quality(0.0, 0.0)
    with pytest.raises(ValueError, match="fraction"):
        quality(93.4, 2.0)  # percentages are rejected
    better = {k: min(1.0, v * 2) for k, v in ORIGIN.items()}
    assert utility(ORIGIN, better) == 1.0  # capped at 1 per key
    with pytest.raises(KeyError):
        score(ORIGIN, {"forget_fine": 0.1})


def test_harmonic():
    assert harmonic(0.0, 0.0) == 0.0
    assert harmonic(-0.2, 0.9) == 0.0
    assert harmonic(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic(1.0, 0.5) == pytest.approx(2 / 3)
