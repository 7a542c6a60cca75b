"""One-day-ahead accuracy sums (exporter/analytics/accuracy.py) on a matrix worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.analytics.accuracy import accuracy_sums, day_ahead_sums

# Four days, oldest first; the last day is the one measured. alpha 0.5 for both methods,
# intermittent above 50 % zero days (of the three days before the measured one).
DEMAND = np.array(
    [
        [4, 8, 4, 10],  # SES on 4 8 4: level 4 -> 6 -> 5; forecast 5, actual 10: error -5
        # 2 of 3 zero days -> Croston SBA: z 3, p 1, but 2 days already passed without a
        # demand, so p 2 -> 0.75 * 3 / 2 = 1.125; actual 1: +0.125
        [3, 0, 0, 1],
        [0, 0, 0, 7],  # nothing before -> no history, forecast 0; actual 7: -7
        [2, 2, 2, 2],  # SES 2, actual 2: exact
    ],
    dtype=float,
)


def test_day_ahead_sums_by_hand():
    sums = day_ahead_sums(DEMAND, 0.5, 0.5, 0.5)
    assert sums.abs_error == pytest.approx(5 + 0.125 + 7, abs=1e-12)
    assert sums.actual == 10 + 1 + 7 + 2
    assert sums.error == pytest.approx(-5 + 0.125 - 7, abs=1e-12)
    # WAPE 12.125 / 20 and bias -11.875 / 20 of that day
    assert sums.abs_error / sums.actual == pytest.approx(0.60625)
    assert sums.error / sums.actual == pytest.approx(-0.59375)


def test_day_ahead_is_the_one_day_window_and_differs_from_the_trailing_one():
    assert day_ahead_sums(DEMAND, 0.5, 0.5, 0.5) == accuracy_sums(DEMAND, 1, 0.5, 0.5, 0.5)
    # two-day window: fit on days 0..1 and hold flat over days 2..3
    trailing = accuracy_sums(DEMAND, 2, 0.5, 0.5, 0.5)
    assert trailing.actual == DEMAND[:, 2:].sum()
    assert trailing != day_ahead_sums(DEMAND, 0.5, 0.5, 0.5)


def test_day_ahead_needs_a_day_before():
    with pytest.raises(ValueError):
        day_ahead_sums(DEMAND[:, :1], 0.5, 0.5, 0.5)
