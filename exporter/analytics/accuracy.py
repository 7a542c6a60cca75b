"""Forecast accuracy as sums PromQL and the reporter can divide.

Two measures, both summed over all series:

- the trailing window (`accuracy_sums`): the last N days of the history are forecast
  from the days before them (method chosen on those days too), the forecast held flat
  over the window as it would have been used for ordering. A live view for dashboards;
  consecutive windows overlap, so averaging it over time is no WAPE of a period.
- the last closed day (`day_ahead_sums`): the one-day-ahead forecast of that day, fitted
  on the days before it, against what sold that day. Each day is measured once, so a
  period's WAPE is the sum of its days' absolute errors over the sum of their actuals
  (the reporter's business.forecast_wape_ratio).

Each measure is three sums:

    abs_error = sum over series and days of |forecast - actual|
    actual    = sum of actual demand
    error     = sum of (forecast - actual)        (> 0: over-forecast)

WAPE = abs_error / actual and bias = error / actual.
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


def day_ahead_sums(
    demand: np.ndarray, ses_alpha: float, croston_alpha: float, intermittent_zero_share: float
) -> AccuracySums:
    """The last day of `demand` (series x days, oldest first) against its one-day-ahead forecast.

    The forecast is the one fitted on all the days before it (method chosen on them),
    the number that would have been used to order on that day. Needs two days at least.
    """
    if demand.shape[1] < 2:
        raise ValueError("a one-day-ahead forecast needs at least one day before the day measured")
    return accuracy_sums(demand, 1, ses_alpha, croston_alpha, intermittent_zero_share)
