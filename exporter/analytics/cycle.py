"""One analytics cycle: query results in, forecasts, safety stock, recommendations and accuracy out.

`run_cycle` reads the database (one read-only transaction); `compute` is the pure part,
from query results to an `AnalyticsResult`, so tests and the benchmark can time and
check each side.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any

import numpy as np

from exporter.analytics.accuracy import AccuracySums, accuracy_sums, day_ahead_sums
from exporter.analytics.config import AnalyticsConfig
from exporter.analytics.demand import (
    RECEIVED_AT_PROBE,
    DayEntries,
    DemandMatrix,
    Series,
    Window,
    base_statements,
    day_entries,
    demand_matrix,
    demand_statements,
    load_series,
    matrix_from_days,
)
from exporter.analytics.forecast import METHODS, Forecast, forecast
from exporter.analytics.recommendations import (
    backorders,
    inventory_position,
    open_orders,
    recommendation_views,
    recommended_quantities,
    units_by_series,
)
from exporter.analytics.safety_stock import (
    LeadTimes,
    demand_std,
    lead_times,
    observed_lead_times,
    order_up_to_level,
    reorder_point,
    safety_stock,
    z_value,
)
from exporter.db import SQLITE, Database, Dialect, QueryError, QueryResult


@dataclass(frozen=True)
class AnalyticsResult:
    window: Window
    series: Series
    demand: DemandMatrix
    forecast: Forecast
    demand_std: np.ndarray
    lead_time: LeadTimes
    safety_stock: np.ndarray
    reorder_point: np.ndarray
    order_up_to: np.ndarray  # S = d (L + R) + SS
    on_order: np.ndarray  # units on purchase orders not received yet
    backordered: np.ndarray  # customer units owed beyond those reserved
    position: np.ndarray  # inventory position: available + on_order - backordered
    quantity: np.ndarray  # recommended units per series, 0 = no recommendation
    accuracy: AccuracySums | None  # None when the history is not longer than the window
    recommendations: list[dict[str, Any]]
    # Units demanded over the last surge_window up to the cycle, and the number of sale
    # movements among them.
    recent_demand: np.ndarray
    recent_sales: np.ndarray
    # The last closed day (yesterday, UTC) against its one-day-ahead forecast; the day is
    # window.today - 1 day (day_accuracy_day).
    day_accuracy: AccuracySums | None = None

    @property
    def day_accuracy_day(self) -> date:
        """The UTC day day_accuracy describes: the last day of the history."""
        return self.window.today - timedelta(days=1)

    def per_location(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-series array for each of series.location_names."""
        return np.bincount(self.series.location_codes, weights=values, minlength=len(self.series.location_names))


def statements(config: AnalyticsConfig, dialect: Dialect = SQLITE, received_at: bool = False) -> dict[str, str]:
    """Every statement of a cycle; `received_at` when purchase_orders has that column."""
    return {**base_statements(received_at), **demand_statements(config.history_days, dialect)}


def lead_time_since(config: AnalyticsConfig, today: date) -> date:
    """Received purchase orders created from this day on are lead-time observations."""
    return today - timedelta(days=config.lead_time_history_days)


def parameters(config: AnalyticsConfig, today: date, now: datetime | None = None) -> dict[str, str]:
    """`now` (UTC) ends the surge window; without it, the first instant of `today`."""
    window = Window(today, config.history_days)
    since = lead_time_since(config, today)
    end = now if now is not None else datetime.combine(today, day_time(), tzinfo=UTC)
    return {
        **window.day_bounds(),
        "recent_since": (end.astimezone(UTC) - timedelta(seconds=config.surge_window)).strftime("%Y-%m-%dT%H:%M:%S"),
        # Orders of the window before it are matched to receipts too (so that the window's
        # orders do not take their receipts), but not counted.
        "lead_time_match_since": (since - timedelta(days=config.lead_time_history_days)).isoformat(),
    }


def has_received_at(database: Database) -> bool:
    """Whether purchase_orders has the optional received_at column (a statement that reads no row)."""
    errors: dict[str, QueryError] = {}
    database.fetch_all({"received_at_probe": RECEIVED_AT_PROBE}, errors=errors)
    return not errors


@dataclass
class DemandCache:
    """The demand matrix of the last cycle, reused while its closed days cannot have changed.

    The history ends yesterday, so within one UTC day the demand of the window only
    changes through late, back-dated movements; re-reading it every `refresh` seconds
    catches those, and a new day or a changed set of SKU-locations forces a re-read.
    """

    refresh: float
    today: date | None = None
    keys: list[str] | None = None
    matrix: DemandMatrix | None = None
    read_at: float = 0.0

    def fresh(self, today: date) -> bool:
        return self.today == today and self.matrix is not None and time.monotonic() - self.read_at < self.refresh

    def store(self, today: date, keys: list[str], matrix: DemandMatrix) -> None:
        self.today, self.keys, self.matrix, self.read_at = today, keys, matrix, time.monotonic()


def run_cycle(
    database: Database,
    config: AnalyticsConfig,
    today: date,
    timings: dict[str, float] | None = None,
    cache: DemandCache | None = None,
    now: datetime | None = None,
) -> AnalyticsResult:
    """Query and compute; `timings`, when given, receives the seconds spent in SQL and in compute.

    With a `cache` that is still fresh, only the stock, purchase-order and recent-demand
    statements run. `now` ends the surge window (parameters()).
    """
    # A cycle creates millions of short-lived row tuples and no reference cycles: without
    # this, the cyclic garbage collector re-scans them again and again (over a third of
    # the cycle at 100k SKU-locations). Nothing is leaked: collection resumes afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        params = parameters(config, today, now)
        received_at = has_received_at(database)
        demand = None
        if cache is not None and cache.fresh(today):
            results = database.fetch_all(base_statements(received_at), params)
            if list(load_series(results["stock"].rows).joined_index()) == cache.keys:
                demand = cache.matrix
        if demand is None:
            stream = _DemandStream(config.history_days)
            results = database.fetch_all(statements(config, database.dialect, received_at), params, consume=stream)
            demand = stream.matrix()
            if cache is not None:
                cache.store(today, list(stream.index), demand)
        fetched = time.perf_counter()
        result = compute(results, config, today, demand=demand)
        if timings is not None:
            timings["sql_seconds"] = fetched - started
            timings["compute_seconds"] = time.perf_counter() - fetched
        return result
    finally:
        if collecting:
            gc.enable()


class _DemandStream:
    """Turns each day's demand rows into compact arrays as they arrive and drops the rows.

    Holding 90 days of grouped rows as Python tuples would cost ~150 bytes a row (about
    800 MiB at 100k SKU-locations); the arrays cost 12. The stock statement comes first
    (statements() keeps that order), so the series index is known before any demand.
    """

    def __init__(self, days: int):
        self.days = days
        self.entries: dict[int, DayEntries] = {}  # by day of the history
        self.index: dict[str, int] = {}

    def __call__(self, name: str, result: QueryResult) -> bool:
        if name == "stock":
            self.index = load_series(result.rows).joined_index()
            return False  # compute() needs the stock rows too
        if name.startswith("demand:"):
            self.entries[int(name.split(":")[1])] = day_entries(result.rows, self.index)
            return True
        return False

    def matrix(self) -> DemandMatrix:
        # fetch_all runs every statement or raises, so every day has its entries by now.
        return matrix_from_days([self.entries[day] for day in range(self.days)], len(self.index))


def compute(
    results: dict[str, QueryResult], config: AnalyticsConfig, today: date, demand: DemandMatrix | None = None
) -> AnalyticsResult:
    """From query results to the analytics; `demand` when the daily rows were streamed."""
    window = Window(today, config.history_days)
    series = load_series(results["stock"].rows)
    index = series.index()
    n = len(series)
    if demand is None:
        demand = demand_matrix([results[f"demand:{i}"].rows for i in range(window.days)], series.joined_index())

    predicted = forecast(demand.values, config.ses_alpha, config.croston_alpha, config.intermittent_zero_share)
    sigma_d = demand_std(demand.values)
    since = datetime.combine(lead_time_since(config, today), day_time(), tzinfo=UTC).timestamp()
    count, observed_mean, observed_std = observed_lead_times(
        results["received_purchase_orders"].rows, index, n, results["receipts"].rows, since
    )
    lead = lead_times(
        series.stored_lead_time_days,
        count,
        observed_mean,
        observed_std,
        config.lead_time_days,
        config.lead_time_std_days,
        config.min_lead_time_samples,
    )
    d = predicted.daily_demand
    review = config.review_period_days
    safety = safety_stock(z_value(config.service_level), d, sigma_d, lead.mean, lead.std, review)
    rop = reorder_point(d, lead.mean, safety)
    order_up_to = order_up_to_level(d, lead.mean, review, safety)
    on_order = open_orders(results["open_purchase_orders"].rows, index, n)
    outstanding = units_by_series(results["open_customer_orders"].rows, index, n)
    recent_rows = results["recent_demand"].rows
    recent = units_by_series([(sku, loc, units) for sku, loc, units, _ in recent_rows], index, n)
    recent_sales = units_by_series([(sku, loc, sales) for sku, loc, _, sales in recent_rows], index, n)
    backordered = backorders(outstanding, series.reserved)
    available = series.available
    position = inventory_position(available, on_order, backordered)
    quantity = recommended_quantities(position, rop, order_up_to, config.pack_size)

    accuracy = None
    if window.days > config.accuracy_window_days:
        accuracy = accuracy_sums(
            demand.values,
            config.accuracy_window_days,
            config.ses_alpha,
            config.croston_alpha,
            config.intermittent_zero_share,
        )
    # history_days >= 2 (config), so the last day always has days before it.
    day_accuracy = day_ahead_sums(demand.values, config.ses_alpha, config.croston_alpha, config.intermittent_zero_share)

    # Stable order for the API: by location, then SKU.
    recommended = np.array(
        sorted(np.flatnonzero(quantity > 0).tolist(), key=lambda i: (series.locations[i], series.skus[i])),
        dtype=np.int64,
    )
    methods = {i: METHODS[predicted.method[i]] for i in recommended.tolist()}
    views = recommendation_views(
        recommended,
        skus=series.skus,
        locations=series.locations,
        quantity=quantity,
        available=available,
        on_order=on_order,
        backordered=backordered,
        position=position,
        daily_demand=d,
        reorder_point=rop,
        order_up_to=order_up_to,
        safety=safety,
        methods=methods,
        lead_time=lead.mean,
        lead_time_source=lead.source,
        review_period_days=config.review_period_days,
        pack_size=config.pack_size,
    )
    return AnalyticsResult(
        window=window,
        series=series,
        demand=demand,
        forecast=predicted,
        demand_std=sigma_d,
        lead_time=lead,
        safety_stock=safety,
        reorder_point=rop,
        order_up_to=order_up_to,
        on_order=on_order,
        backordered=backordered,
        position=position,
        quantity=quantity,
        accuracy=accuracy,
        recommendations=views,
        day_accuracy=day_accuracy,
        recent_demand=recent,
        recent_sales=recent_sales,
    )
