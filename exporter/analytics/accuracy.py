"""Forecast accuracy over the last N days of the history, as sums PromQL can divide.

The forecast is refitted on the days before the window (method chosen on those days
too) and held flat over the window, as it would have been used for ordering; it is
compared with what actually sold each day of the window:

    abs_error = sum over series and days of |forecast - actual|
    actual    = sum of actual demand
    error     = sum of (forecast - actual)        (> 0: over-forecast)

WAPE = abs_error / actual and bias = error / actual, computed in PromQL from the
exported sums so they can be aggregated over instances and time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporter.analytics.forecast import forecast


@dataclass(frozen=True)
class AccuracySums:
    abs_error: float
    actual: float
    error: float


def accuracy_sums(
    demand: np.ndarray, window_days: int, ses_alpha: float, croston_alpha: float, intermittent_zero_share: float
) -> AccuracySums:
    fit, actual = demand[:, :-window_days], demand[:, -window_days:]
    predicted = forecast(fit, ses_alpha, croston_alpha, intermittent_zero_share).daily_demand
    difference = predicted[:, None] - actual
    return AccuracySums(
        abs_error=float(np.abs(difference).sum()),
        actual=float(actual.sum()),
        error=float(difference.sum()),
    )
