"""The vectorised forecasts against trusted and independent implementations on random series.

statsforecast (Nixtla) is the trusted reference: its SimpleExponentialSmoothing(alpha)
and CrostonSBA (alpha fixed at 0.1) must agree to 1e-6. The scalar loops below are
written from the textbook definitions, one series at a time, and cover other alphas.
"""

from __future__ import annotations

import numpy as np
import pytest

from exporter.analytics.forecast import CROSTON_SBA, NO_HISTORY, SES, croston_sba, forecast, ses


def random_series(seed: int, n_series: int = 60, n_days: int = 90) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # A mix of regular and intermittent rows, including one that never sells.
    sell_probability = rng.uniform(0.05, 1.0, size=(n_series, 1))
    sizes = rng.poisson(rng.uniform(1, 20, size=(n_series, 1)), size=(n_series, n_days)) + 1
    demand = np.where(rng.random((n_series, n_days)) < sell_probability, sizes, 0).astype(float)
    demand[0] = 0
    return demand


def scalar_ses(values: list[float], alpha: float) -> float:
    level = values[0]
    for value in values[1:]:
        level = alpha * value + (1 - alpha) * level
    return level


def scalar_croston_sba(values: list[float], alpha: float) -> float:
    size = interval = None
    gap = 0
    for value in values:
        gap += 1
        if value > 0:
            if size is None:
                size, interval = value, gap
            else:
                size = alpha * value + (1 - alpha) * size
                interval = alpha * gap + (1 - alpha) * interval
            gap = 0
    if size is None:
        return 0.0
    return (1 - alpha / 2) * size / interval


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.5, 1.0])
def test_ses_matches_scalar_loop(alpha):
    demand = random_series(1)
    expected = [scalar_ses(row.tolist(), alpha) for row in demand]
    np.testing.assert_allclose(ses(demand, alpha), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3, 1.0])
def test_croston_sba_matches_scalar_loop(alpha):
    demand = random_series(2)
    expected = [scalar_croston_sba(row.tolist(), alpha) for row in demand]
    np.testing.assert_allclose(croston_sba(demand, alpha), expected, rtol=0, atol=1e-9)
    assert expected[0] == 0.0


def test_method_choice_by_zero_share():
    demand = np.array(
        [
            [1, 1, 1, 0, 0, 0],  # exactly half zero: not above the threshold -> SES
            [1, 1, 0, 0, 0, 0],  # two thirds zero -> Croston
            [0, 0, 0, 0, 0, 0],  # nothing -> no history, forecast 0
        ],
        dtype=float,
    )
    result = forecast(demand, 0.5, 0.5, 0.5)
    assert result.method.tolist() == [SES, CROSTON_SBA, NO_HISTORY]
    assert result.daily_demand[0] == pytest.approx(0.125)  # 1, 1, 1, 0.5, 0.25, 0.125
    # z 1, p 1 then (1 + 0.5 (1 - 1)); 4 days already passed without a demand: p 4
    assert result.daily_demand[1] == pytest.approx(0.75 * 1 / 4)
    assert result.daily_demand[2] == 0


def test_matches_statsforecast():
    from statsforecast import models  # a test dependency: a missing package fails, not skips

    demand = random_series(3)
    for alpha in (0.1, 0.3, 0.7):
        ours = ses(demand, alpha)
        theirs = [models.SimpleExponentialSmoothing(alpha=alpha).forecast(row, h=1)["mean"][0] for row in demand]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    # statsforecast's CrostonSBA smooths with alpha 0.1 and multiplies by 0.95 = 1 - 0.1 / 2.
    ours = croston_sba(demand, 0.1)
    theirs = []
    for row in demand:
        if row.any():
            theirs.append(models.CrostonSBA().forecast(row, h=1)["mean"][0])
        else:
            theirs.append(0.0)  # statsforecast falls back to the naive 0 for an all-zero row
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.count_nonzero(ours) >= len(demand) - 1


def test_a_gap_longer_than_the_usual_interval_lowers_the_croston_forecast():
    # One order of 42 on day 5 of 90 (index 4), then nothing: plain Croston keeps z = 42,
    # p = 5 (days since the start) and forecasts 0.95 * 42 / 5 = 7.98 a day forever. The
    # 85 days after it already passed without a demand, so p is taken as 85:
    # 0.95 * 42 / 85 = 0.469 a day.
    one_off = np.zeros((1, 90))
    one_off[0, 4] = 42
    assert croston_sba(one_off, 0.1)[0] == pytest.approx(0.95 * 42 / 5)
    result = forecast(one_off, 0.2, 0.1, 0.5)
    assert result.method.tolist() == [CROSTON_SBA]
    assert result.daily_demand[0] == pytest.approx(0.95 * 42 / 85)
    # A regular intermittent series (every 4th day, 3 units; last one 2 days before the end):
    # its gap of 2 days is shorter than its interval of 4, so nothing changes.
    regular = np.zeros((1, 90))
    regular[0, 3::4] = 3
    assert regular[0, -3] == 3 and not regular[0, -2:].any()
    assert forecast(regular, 0.2, 0.1, 0.5).daily_demand[0] == pytest.approx(croston_sba(regular, 0.1)[0])
    assert croston_sba(regular, 0.1)[0] == pytest.approx(0.95 * 3 / 4)
