"""Daily demand forecasts for all series at once: SES for regular, Croston (SBA) for intermittent demand.

Both methods update every series together, one day per step, so the cost is a few
numpy operations over the series per day of history (never a Python loop over
series). Conventions match statsforecast's SimpleExponentialSmoothing and CrostonSBA,
which the tests check against:

- SES: level starts at the first day's demand; level += alpha * (demand - level) for
  each later day; the forecast for every future day is the last level.
- Croston: on demand days only, the demand size z and the interval p (days since the
  previous demand day, or since the start of the history for the first one) are
  smoothed the same way, each starting at its first observation. SBA (Syntetos-Boylan
  approximation) removes Croston's bias: forecast = (1 - alpha / 2) * z / p.
  forecast() then takes p as at least the days already passed since the last demand day
  (open_interval): Croston alone never lowers a forecast while no demand comes, so a
  one-off order early in the history was forecast to repeat forever. This is the one
  place where we differ from statsforecast's CrostonSBA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Method codes, in the order of METHODS.
SES, CROSTON_SBA, NO_HISTORY = 0, 1, 2
METHODS = ("ses", "croston_sba", "no_history")


def ses(demand: np.ndarray, alpha: float) -> np.ndarray:
    """One-step-ahead simple exponential smoothing forecast of each row."""
    if demand.shape[1] == 0:
        return np.zeros(demand.shape[0])
    days = np.ascontiguousarray(demand.T)  # one contiguous row per day
    level: np.ndarray = days[0].copy()
    for today in days[1:]:
        level += alpha * (today - level)
    return level


def croston_sba(demand: np.ndarray, alpha: float, open_interval: bool = False) -> np.ndarray:
    """Croston's method with the Syntetos-Boylan bias correction; 0 where a row has no demand.

    With `open_interval`, the interval is at least the number of days after the last demand
    day (the trailing zero days): a gap already longer than the usual interval lowers the
    forecast, where plain Croston would keep it until the next demand."""
    n_series = demand.shape[0]
    size = np.zeros(n_series)
    interval = np.zeros(n_series)
    days_since = np.zeros(n_series)
    seen = np.zeros(n_series, dtype=bool)
    for today in np.ascontiguousarray(demand.T):  # one contiguous row per day
        days_since += 1.0
        occurred = today > 0
        first = occurred & ~seen
        update = occurred & seen
        size[first] = today[first]
        interval[first] = days_since[first]
        size[update] += alpha * (today[update] - size[update])
        interval[update] += alpha * (days_since[update] - interval[update])
        days_since[occurred] = 0.0
        seen |= occurred
    if open_interval:
        np.maximum(interval, days_since, out=interval)
    forecast = np.zeros(n_series)
    np.divide(size, interval, out=forecast, where=seen)
    return (1.0 - alpha / 2.0) * forecast


@dataclass(frozen=True)
class Forecast:
    daily_demand: np.ndarray  # forecast units per day, per series
    method: np.ndarray  # int8 codes into METHODS
    zero_share: np.ndarray  # share of zero-demand days in the history


def choose_methods(demand: np.ndarray, intermittent_zero_share: float) -> tuple[np.ndarray, np.ndarray]:
    n_days = demand.shape[1]
    zero_days = (demand <= 0).sum(axis=1)
    zero_share = zero_days / n_days if n_days else np.ones(demand.shape[0])
    method = np.where(zero_share > intermittent_zero_share, CROSTON_SBA, SES).astype(np.int8)
    method[zero_days == n_days] = NO_HISTORY
    return method, zero_share


def forecast(demand: np.ndarray, ses_alpha: float, croston_alpha: float, intermittent_zero_share: float) -> Forecast:
    """Choose each series' method by its share of zero-demand days and forecast its daily demand."""
    method, zero_share = choose_methods(demand, intermittent_zero_share)
    daily = np.zeros(demand.shape[0])
    regular = method == SES
    intermittent = method == CROSTON_SBA
    # Each method runs only on its own rows: the cheaper, and a row subset is contiguous in memory.
    if regular.any():
        daily[regular] = ses(demand[regular], ses_alpha)
    if intermittent.any():
        daily[intermittent] = croston_sba(demand[intermittent], croston_alpha, open_interval=True)
    return Forecast(daily, method, zero_share)
