"""kt_lib.metrics against the paper's Table 2 (accuracies in percent there, fractions here)."""

from __future__ import annotations

import pytest

from kt_lib.metrics import harmonic, quality, score, utility

pytestmark = pytest.mark.unit

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


# Goal-aware metrics, hand-computed (kt_lib.metrics docstring table).
BEFORE = dict(forget_fine=0.80, forget_coarse=0.90, retain_fine=0.60, retain_coarse=0.50)
AFTER = dict(forget_fine=0.20, forget_coarse=0.09, retain_fine=0.30, retain_coarse=0.50)


def test_fine_goal_is_the_papers():
    # Q = 1 - 0.2/0.8 = 0.75; U = mean(0.09/0.9, 0.5/0.5, 0.3/0.6) = mean(0.1, 1, 0.5) = 0.5333
    s = score(BEFORE, AFTER, goal="fine")
    assert s["Q"] == pytest.approx(0.75) and s["U"] == pytest.approx(1.6 / 3)
    assert s["QU"] == pytest.approx(2 * 0.75 * (1.6 / 3) / (0.75 + 1.6 / 3))


def test_coarse_goal_takes_q_from_forget_coarse_and_u_skips_it():
    # Q = 1 - 0.09/0.9 = 0.9; U = mean(0.5/0.5, 0.3/0.6) = 0.75 (forget_coarse is the forgotten level)
    s = score(BEFORE, AFTER, goal="coarse")
    assert s["Q"] == pytest.approx(0.9) and s["U"] == pytest.approx(0.75)
    assert s["QU"] == pytest.approx(2 * 0.9 * 0.75 / 1.65)
    # a collapse of the forgotten level is not counted against utility
    assert score(BEFORE, {**AFTER, "forget_coarse": 0.0}, "coarse")["U"] == pytest.approx(0.75)


def test_hybrid_goal_averages_both_forgotten_levels():
    # Q = mean(0.75, 0.9) = 0.825; U = 0.75
    s = score(BEFORE, AFTER, goal="hybrid")
    assert s["Q"] == pytest.approx(0.825) and s["U"] == pytest.approx(0.75)


def test_nothing_to_forget_names_the_accuracy_and_bad_goal():
    from kt_lib.metrics import NothingToForget

    with pytest.raises(NothingToForget, match="forget_coarse accuracy before unlearning is 0%"):
        score({**BEFORE, "forget_coarse": 0.0}, AFTER, goal="coarse")
    assert score({**BEFORE, "forget_fine": 0.0}, AFTER, goal="coarse")["Q"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="goal must be one of"):
        score(BEFORE, AFTER, goal="coarsest")


def test_compare_reports_nothing_to_forget_in_the_row_and_as_a_warning():
    from kt_lib.eval.evaluator import compare

    with pytest.warns(UserWarning, match="nothing to forget: forget_fine accuracy .* 0%"):
        row = compare({**BEFORE, "forget_fine": 0.0}, AFTER)
    assert row["Q"] is None and row["QU"] is None and row["U"] == pytest.approx(1.6 / 3)
    assert "0%" in row["nothing_to_forget"]
    assert compare(BEFORE, AFTER, goal="coarse")["Q"] == pytest.approx(0.9)


def test_compare_leaves_a_retained_level_the_model_never_knew_out_of_u():
    from kt_lib.eval.evaluator import compare

    row = compare({**BEFORE, "retain_coarse": 0.0}, AFTER, goal="coarse")
    assert row["utility_skipped"] == ["retain_coarse"]
    assert row["U"] == pytest.approx(0.5) and row["Q"] == pytest.approx(0.9)
    row = compare({**BEFORE, "retain_coarse": 0.0, "retain_fine": 0.0}, AFTER, goal="coarse")
    assert row["U"] is None and row["QU"] is None and row["Q"] == pytest.approx(0.9)
