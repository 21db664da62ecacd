"""kt_lib.stats: Student's t quantiles from scipy.stats.t, and a mean with its t-interval."""

import math

import pytest

from kt_lib.stats import mean_ci, t_quantile

pytestmark = pytest.mark.unit

# What the hand-written quantile (Simpson integration of the t density plus bisection, replaced by
# scipy.stats.t) returned, to 6 decimals: every printed interval stays as it was.
DFS = (1, 2, 3, 4, 5, 9, 29, 200)
HAND_WRITTEN = {
    0.9: (3.077684, 1.885618, 1.637744, 1.533206, 1.475884, 1.383029, 1.311434, 1.285799),
    0.95: (6.313752, 2.919986, 2.353363, 2.131847, 2.015048, 1.833113, 1.699127, 1.652508),
    0.975: (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.262157, 2.04523, 1.971896),
    0.995: (63.656741, 9.924843, 5.840909, 4.604095, 4.032143, 3.249836, 2.756386, 2.600634),
}


@pytest.mark.parametrize("p", sorted(HAND_WRITTEN))
def test_t_quantile_gives_the_hand_written_values(p):
    for df, expected in zip(DFS, HAND_WRITTEN[p]):
        assert t_quantile(p, df) == pytest.approx(expected, abs=1e-6), (p, df)
        assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-6), (1 - p, df)


@pytest.mark.parametrize("p, df", [(0.0, 3), (1.0, 3), (-0.1, 3), (0.975, 0)])
def test_t_quantile_refuses_what_has_no_quantile(p, df):
    with pytest.raises(ValueError, match="need 0 < p < 1 and df >= 1"):
        t_quantile(p, df)


def test_mean_ci_on_known_numbers():
    mean, half, n = mean_ci([0.90, 0.94, 0.98])
    # sd = 0.04, se = 0.04 / sqrt(3), t(0.975, 2) = 4.3027
    assert (mean, n) == (pytest.approx(0.94), 3)
    assert half == pytest.approx(4.3027 * 0.04 / math.sqrt(3), rel=1e-4)
    m1, h1, n1 = mean_ci([0.5])
    assert m1 == 0.5 and math.isnan(h1) and n1 == 1
    assert mean_ci([])[2] == 0


def test_mean_ci_skips_nan_and_takes_the_confidence():
    mean, half, n = mean_ci([0.1, 0.2, float("nan"), 0.4, 0.3], confidence=0.9)
    # sd of 0.1..0.4 = 0.129099, t(0.95, 3) = 2.353363
    assert (mean, n) == (pytest.approx(0.25), 4)
    assert half == pytest.approx(2.353363 * 0.1290994 / 2, rel=1e-6)
    assert math.isnan(mean_ci([float("nan")])[0])
