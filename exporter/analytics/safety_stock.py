"""Safety stock, reorder point and order-up-to level under uncertain demand and lead time.

Periodic review: an order placed now is the last one before the next review, R days
away, and arrives after the lead time L, so it must cover demand over L + R:

    SS  = z * sqrt((L + R) * sigma_d^2 + d^2 * sigma_L^2)
    ROP = d * L + SS              (reorder point: order when the inventory position is at or below it)
    S   = d * (L + R) + SS        (order-up-to level: an order brings the position up to it)

z is the standard normal quantile of the cycle service level; d the forecast daily
demand and sigma_d the standard deviation of daily demand over the history; L and
sigma_L the mean and standard deviation of the lead time in days; R the review period
in days (R = 0 gives the continuous-review formula). The formula assumes daily demands
independent and identically distributed, independent of the lead time, and demand over
L + R close to normal (see docs/analytics.md, with its sources).

Lead times are observed from received purchase orders: each order's `received_at` when
the table has that column and it is set, else the receipt movement matched to the order
by `match_receipts` (first in, first out; each receipt used once).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
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
    z: float,
    daily_demand: Amount,
    demand_std: Amount,
    lead_time: Amount,
    lead_time_std: Amount,
    review_period: float = 0.0,
) -> Amount:
    """z * sqrt((L + R) sigma_d^2 + d^2 sigma_L^2); works on floats and numpy arrays alike."""
    safety: Amount = z * np.sqrt((lead_time + review_period) * demand_std**2 + daily_demand**2 * lead_time_std**2)
    return safety


def reorder_point(daily_demand: Amount, lead_time: Amount, safety: Amount) -> Amount:
    point: Amount = daily_demand * lead_time + safety
    return point


def order_up_to_level(daily_demand: Amount, lead_time: Amount, review_period: float, safety: Amount) -> Amount:
    """S = d (L + R) + SS: demand until the order after the next one can arrive, plus safety stock."""
    level: Amount = daily_demand * (lead_time + review_period) + safety
    return level


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


def match_receipts(orders: list[tuple[float, float | None]], receipts: Iterable[float]) -> list[float | None]:
    """Arrival time of each order of one SKU-location, from (created, received_at or None) and receipt times.

    Each receipt is used by one order at most. Orders with a received_at keep it and first
    claim the unused receipt nearest to it (so that it is not matched to another order);
    the others, in order of creation, take the earliest unused receipt at or after their
    creation (first in, first out). None where no receipt is left.
    """
    free = sorted(receipts)
    arrival: list[float | None] = [None] * len(orders)
    known = sorted((received, i) for i, (_, received) in enumerate(orders) if received is not None)
    for received, i in known:
        arrival[i] = received
        if free:
            at = bisect_left(free, received)
            if at == len(free) or (at > 0 and received - free[at - 1] <= free[at] - received):
                at -= 1
            del free[at]
    for i in sorted((i for i, (_, received) in enumerate(orders) if received is None), key=lambda i: orders[i][0]):
        at = bisect_left(free, orders[i][0])
        if at < len(free):
            arrival[i] = free.pop(at)
    return arrival


def observed_lead_times(
    rows: list[Row],
    series_index: dict[tuple[str, str], int],
    n_series: int,
    receipts: Sequence[Row] = (),
    since: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, sample std) of lead times in days per series.

    `rows` are received purchase orders (sku, location, created, received_at or None);
    `receipts` receipt movements (sku, location, occurred_at), matched to the orders by
    match_receipts. Orders created before `since` (epoch seconds) take part in the matching,
    so that they keep their own receipts, but are not counted.
    """
    orders: dict[int, list[tuple[float, float | None]]] = {}
    for sku, location, created, received in rows:
        i = series_index.get((sku, location))
        start = parse_timestamp(created)
        if i is None or start is None:
            continue
        end = parse_timestamp(received) if received is not None else None
        orders.setdefault(i, []).append((start, end if end is not None and end >= start else None))
    arrivals: dict[int, list[float]] = {}
    for sku, location, occurred in receipts:
        i = series_index.get((sku, location))
        at = parse_timestamp(occurred)
        if i is not None and at is not None and i in orders:
            arrivals.setdefault(i, []).append(at)
    series, days = [], []
    for i, placed in orders.items():
        for (start, _), end in zip(placed, match_receipts(placed, arrivals.get(i, []))):
            if end is None or end < start or (since is not None and start < since):
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
