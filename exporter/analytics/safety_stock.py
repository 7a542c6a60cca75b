"""Safety stock and reorder point under uncertain demand and lead time.

    SS  = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)
    ROP = d * L + SS

z is the standard normal quantile of the cycle service level; d the forecast daily
demand and sigma_d the standard deviation of daily demand over the history; L and
sigma_L the mean and standard deviation of the lead time in days. The formula assumes
daily demands independent and identically distributed, independent of the lead time,
and lead-time demand close to normal (see docs/analytics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeVar

import numpy as np

from exporter.db import Row
from exporter.timestamps import parse_timestamp

# One series' figure or an array of every series' figures: the formulas are the same.
Amount = TypeVar("Amount", float, np.ndarray)


def z_value(service_level: float) -> float:
    return NormalDist().inv_cdf(service_level)


def safety_stock(
    z: float, daily_demand: Amount, demand_std: Amount, lead_time: Amount, lead_time_std: Amount
) -> Amount:
    """Works on floats and numpy arrays alike."""
    safety: Amount = z * np.sqrt(lead_time * demand_std**2 + daily_demand**2 * lead_time_std**2)
    return safety


def reorder_point(daily_demand: Amount, lead_time: Amount, safety: Amount) -> Amount:
    point: Amount = daily_demand * lead_time + safety
    return point


def demand_std(demand: np.ndarray) -> np.ndarray:
    """Sample standard deviation (n - 1) of each row's daily demand; 0 for a single day."""
    if demand.shape[1] < 2:
        return np.zeros(demand.shape[0])
    std: np.ndarray = demand.std(axis=1, ddof=1)
    return std


@dataclass(frozen=True)
class LeadTimes:
    """Lead time (mean L and standard deviation sigma_L, in days) used for each series."""

    mean: np.ndarray
    std: np.ndarray
    observations: np.ndarray  # received purchase orders measured, per series
    source: np.ndarray  # "stored" | "observed" | "default" per series (for the API reason)


def observed_lead_times(
    rows: list[Row], series_index: dict[tuple[str, str], int], n_series: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, sample std) of lead times in days per series, from (sku, location, created, received)."""
    series, days = [], []
    for sku, location, created, received in rows:
        i = series_index.get((sku, location))
        start, end = parse_timestamp(created), parse_timestamp(received)
        if i is None or start is None or end is None or end < start:
            continue
        series.append(i)
        days.append((end - start) / 86400.0)
    index = np.array(series, dtype=np.int64)
    values = np.array(days, dtype=np.float64)
    count = np.bincount(index, minlength=n_series).astype(np.float64)
    mean = np.divide(
        np.bincount(index, weights=values, minlength=n_series), count, out=np.zeros(n_series), where=count > 0
    )
    squares = np.bincount(index, weights=(values - mean[index]) ** 2, minlength=n_series)
    std = np.sqrt(np.divide(squares, count - 1, out=np.zeros(n_series), where=count > 1))
    return count, mean, std


def lead_times(
    stored: np.ndarray,
    count: np.ndarray,
    observed_mean: np.ndarray,
    observed_std: np.ndarray,
    default_days: float,
    default_std_days: float,
    min_samples: int,
) -> LeadTimes:
    """Precedence for L: stock_levels.lead_time_days, then observed mean, then the default.

    sigma_L comes from observed lead times when there are enough of them, else the default.
    """
    enough = count >= min_samples
    has_stored = ~np.isnan(stored) & (stored >= 0)
    mean = np.where(has_stored, stored, np.where(enough, observed_mean, default_days))
    std = np.where(enough, observed_std, default_std_days)
    source = np.where(has_stored, "stored", np.where(enough, "observed", "default"))
    return LeadTimes(mean, std, count, source)
