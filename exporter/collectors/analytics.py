"""The `analytics` collector: demand forecast, safety stock, reorder points and purchase recommendations.

It runs on its own slower interval (analytics.interval) in a worker thread, since one
cycle reads the whole sales history and does the numpy work (exporter/analytics/).
Metrics are per location at most; which SKUs to order goes to /api/v1/recommendations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

import numpy as np
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.analytics.config import AnalyticsConfig
from exporter.analytics.cycle import AnalyticsResult, DemandCache, run_cycle
from exporter.analytics.forecast import METHODS
from exporter.collectors.base import CollectorBase
from exporter.config import Config
from exporter.db import Database, OffThread

GAP_DIRECTIONS = ("below", "above")
# A stock-out "sells" when the SKU-location had demand in this many last closed days.
RECENT_DEMAND_DAYS = 7


def utc_now() -> datetime:
    return datetime.now(UTC)


def gap_counts(stored: np.ndarray, computed: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks of rows whose stored value is below / above the computed one beyond the tolerance.

    A gap must also be at least one unit, so rounding a computed 3.4 to a stored 3 is no gap.
    Rows with nothing stored (NaN) are in neither.
    """
    with np.errstate(invalid="ignore"):
        below = (stored < computed * (1 - tolerance)) & (computed - stored >= 1)
        above = (stored > computed * (1 + tolerance)) & (stored - computed >= 1)
    return below, above


class AnalyticsCollector(CollectorBase):
    name = "analytics"

    def __init__(self, database: Database, config: AnalyticsConfig, clock: Callable[[], datetime] = utc_now):
        self.database = database
        self.config = config
        self.interval = config.interval
        self.timeout = config.timeout
        self.clock = clock
        self.last: AnalyticsResult | None = None
        self.demand_cache = DemandCache(refresh=config.demand_refresh)
        self._running = OffThread(database, busy="previous analytics cycle still running")

    @classmethod
    def from_config(cls, config: Config) -> AnalyticsCollector:
        # Its own Database: the statement timeout is the analytics timeout, not the
        # business queries' one, and interrupting one collector never hits the other.
        return cls(Database(config.database.connection_url(), timeout=config.analytics.timeout), config.analytics)

    async def collect(self) -> list[Metric]:
        now = self.clock()
        result = await self._running.run(
            run_cycle, self.database, self.config, now.astimezone(UTC).date(), None, self.demand_cache, now
        )
        families = self.families(result)
        self.last = result
        return families

    def api_views(self) -> dict[str, Any]:
        if self.last is None:
            return {}
        return {"recommendations": self.last.recommendations}

    async def close(self) -> None:
        self.database.interrupt()
        self.database.dispose()

    def families(self, result: AnalyticsResult) -> list[Metric]:
        skus, units = _recommendation_families(result)
        return [
            skus,
            units,
            _cover_family(result),
            _demand_family(result),
            _method_family(result),
            *_action_families(result, self.config),
            *_gap_families(result, self.config.gap_tolerance_ratio),
            *_accuracy_families(result, self.config.accuracy_window_days),
            _skipped_family(result),
        ]


def _recommendation_families(result: AnalyticsResult) -> tuple[Metric, Metric]:
    """SKU-locations with a purchase recommendation and their units, per location."""
    skus = GaugeMetricFamily(
        "inventory_reorder_recommended_skus",
        "SKU-locations whose inventory position (available + on order - backordered) is at or below "
        "their computed reorder point, with a purchase recommendation.",
        labels=["location"],
    )
    units = GaugeMetricFamily("inventory_reorder_recommended_units", "Units recommended to order.", labels=["location"])
    recommended = result.quantity > 0
    for location, count, total in zip(
        result.series.location_names,
        result.per_location(recommended.astype(float)),
        result.per_location(result.quantity),
    ):
        skus.add_metric([location], count)
        units.add_metric([location], total)
    return skus, units


def action_masks(
    result: AnalyticsResult, config: AnalyticsConfig, recent_days: int = RECENT_DEMAND_DAYS
) -> dict[str, np.ndarray]:
    """The SKU-locations whose stock needs someone to act, for the stock alerts (issue 22).

    Only replenished SKU-locations count: a stored reorder point above 0, or a purchase
    order for them open or received within lead_time_history_days (a store restocked by
    transfers has a reorder point). A dead item or one being sold down has neither, so its
    being empty or low is normal, not news.

    - selling_out: nothing available (available <= 0) but demand in the last `recent_days`
      closed days of the history: sales lost now;
    - at_risk: still some available, nothing on order, and the forecast demand over the
      lead time (d L) uses it all up: it sells out before an order placed now arrives;
    - below_safety_unordered: still some available but under the computed safety stock,
      nothing on order and a forecast demand;
    - surge: still some available, but the demand of the last `surge_window` (w days) is
      at least `surge_factor` times the forecast for it (d w) and `surge_min_units`, in at
      least `surge_min_sales` sales, and at that pace the stock lasts less than
      `surge_cover`: a run on the SKU that the daily forecast cannot see yet, which sells
      it out within the day, ordered or not.
    """
    available = result.series.available
    d = result.forecast.daily_demand
    on_order = result.on_order
    with np.errstate(invalid="ignore"):
        has_reorder_point = result.series.stored_reorder_point > 0
    replenished = (on_order > 0) | (result.lead_time.observations > 0) | has_reorder_point
    values = result.demand.values
    recent = values[:, -recent_days:].sum(axis=1) > 0 if values.shape[1] else np.zeros(len(d), dtype=bool)
    nothing_ordered = replenished & (on_order <= 0) & (d > 0)
    w = config.surge_window / 86400  # > 0 (AnalyticsConfig)
    units = result.recent_demand
    surging = (
        (units >= config.surge_min_units)
        & (units >= config.surge_factor * d * w)
        & (result.recent_sales >= config.surge_min_sales)
    )
    pace = units / w  # units a day at the recent pace
    return {
        "surge": replenished & surging & (available > 0) & (available < pace * config.surge_cover / 86400),
        "selling_out": replenished & (available <= 0) & recent,
        "at_risk": nothing_ordered & (available > 0) & (available <= d * result.lead_time.mean),
        "below_safety_unordered": nothing_ordered & (available > 0) & (available < result.safety_stock),
    }


def _action_families(result: AnalyticsResult, config: AnalyticsConfig) -> list[Metric]:
    masks = action_masks(result, config)
    selling = GaugeMetricFamily(
        "inventory_stockout_selling_skus",
        f"Replenished SKU-locations with nothing available (available <= 0) that had demand in the last "
        f"{RECENT_DEMAND_DAYS} closed days.",
        labels=["location"],
    )
    at_risk_units = GaugeMetricFamily(
        "inventory_stockout_demand_units_per_day",
        "Forecast daily demand of the SKU-locations in inventory_stockout_selling_skus: units a day the "
        "stock-outs cost.",
        labels=["location"],
    )
    at_risk = GaugeMetricFamily(
        "inventory_stockout_risk_skus",
        "Replenished SKU-locations with stock left, nothing on order and a forecast demand over the lead "
        "time at least their available stock: they sell out before an order placed now arrives.",
        labels=["location"],
    )
    below_safety = GaugeMetricFamily(
        "inventory_below_safety_stock_unordered_skus",
        "Replenished SKU-locations with a forecast demand and nothing on order whose available stock is "
        "above 0 but under the computed safety stock.",
        labels=["location"],
    )
    surge = GaugeMetricFamily(
        "inventory_demand_surge_skus",
        f"Replenished SKU-locations with stock left whose demand over the last {config.surge_window:g} s is "
        f"at least {config.surge_factor:g} times their forecast for that time (and {config.surge_min_units:g} "
        f"units in {config.surge_min_sales} sales or more), and whose stock at that pace lasts less than "
        f"{config.surge_cover:g} s.",
        labels=["location"],
    )
    d = result.forecast.daily_demand
    for location, n_selling, units, n_risk, n_safety, n_surge in zip(
        result.series.location_names,
        result.per_location(masks["selling_out"].astype(float)),
        result.per_location(np.where(masks["selling_out"], d, 0.0)),
        result.per_location(masks["at_risk"].astype(float)),
        result.per_location(masks["below_safety_unordered"].astype(float)),
        result.per_location(masks["surge"].astype(float)),
    ):
        selling.add_metric([location], n_selling)
        at_risk_units.add_metric([location], units)
        at_risk.add_metric([location], n_risk)
        below_safety.add_metric([location], n_safety)
        surge.add_metric([location], n_surge)
    return [selling, at_risk_units, at_risk, below_safety, surge]


def _demand_family(result: AnalyticsResult) -> Metric:
    demand = GaugeMetricFamily(
        "inventory_forecast_daily_demand_units", "Sum of forecast daily demand.", labels=["location"]
    )
    for location, daily in zip(result.series.location_names, result.per_location(result.forecast.daily_demand)):
        demand.add_metric([location], daily)
    return demand


def _cover_family(result: AnalyticsResult) -> Metric:
    # The contract's inventory_days_of_cover, in Prometheus's base unit (seconds) so that
    # `promtool check metrics` passes; dashboards display it in days.
    cover = GaugeMetricFamily(
        "inventory_stock_cover_seconds",
        "Available units (negative counted as 0) over forecast demand per second, summed over the "
        "SKU-locations with a forecast demand; absent where none has one.",
        labels=["location"],
        unit="seconds",
    )
    d = result.forecast.daily_demand
    selling = d > 0
    covered = result.per_location(np.where(selling, np.maximum(result.series.available, 0.0), 0.0))
    for location, stock, daily in zip(result.series.location_names, covered, result.per_location(d)):
        if daily > 0:
            cover.add_metric([location], stock / daily * 86400.0)
    return cover


def _method_family(result: AnalyticsResult) -> Metric:
    series = GaugeMetricFamily(
        "inventory_forecast_series", "SKU-locations by forecast method.", labels=["location", "method"]
    )
    locations = result.series.location_names
    for code, method in enumerate(METHODS):
        for location, count in zip(locations, result.per_location((result.forecast.method == code).astype(float))):
            series.add_metric([location, method], count)
    return series


def _gap_families(result: AnalyticsResult, tolerance: float) -> list[Metric]:
    """Stored safety stock and reorder point against the computed ones, per location and direction."""
    families: list[Metric] = []
    for name, stored, computed, what in (
        ("inventory_safety_stock_gap_skus", result.series.stored_safety_stock, result.safety_stock, "safety_stock"),
        ("inventory_reorder_point_gap_skus", result.series.stored_reorder_point, result.reorder_point, "reorder_point"),
    ):
        gap = GaugeMetricFamily(
            name,
            f"SKU-locations whose stored {what} is below or above the computed one by more than "
            f"{tolerance:g} of it (and at least one unit).",
            labels=["location", "direction"],
        )
        for direction, mask in zip(GAP_DIRECTIONS, gap_counts(stored, computed, tolerance)):
            for location, count in zip(result.series.location_names, result.per_location(mask.astype(float))):
                gap.add_metric([location, direction], count)
        families.append(gap)
    return families


def _accuracy_families(result: AnalyticsResult, window: int) -> list[Metric]:
    """Backtest sums over the accuracy window (none when the history is not longer than it),
    and the last closed day's one-day-ahead sums."""
    families: list[Metric] = []
    if result.accuracy is not None:
        for name, value, meaning in (
            ("inventory_forecast_abs_error_units", result.accuracy.abs_error, "sum of |forecast - actual|"),
            ("inventory_forecast_actual_units", result.accuracy.actual, "sum of actual daily demand"),
            ("inventory_forecast_error_units", result.accuracy.error, "sum of forecast - actual (> 0: over)"),
        ):
            family = GaugeMetricFamily(name, f"Over the last {window} days, forecast made before them: {meaning}.")
            family.add_metric([], value)
            families.append(family)
    if result.day_accuracy is not None:
        # One series per day (label `day`): a report sums the days of its period, each once.
        day = result.day_accuracy_day
        for name, value, meaning in (
            ("inventory_forecast_day_abs_error_units", result.day_accuracy.abs_error, "sum of |forecast - actual|"),
            ("inventory_forecast_day_actual_units", result.day_accuracy.actual, "sum of actual demand"),
            ("inventory_forecast_day_error_units", result.day_accuracy.error, "sum of forecast - actual (> 0: over)"),
        ):
            family = GaugeMetricFamily(
                name,
                f"The last closed UTC day (label day), forecast fitted on the days before it: {meaning}.",
                labels=["day"],
            )
            family.add_metric([day.isoformat()], value)
            families.append(family)
        start = GaugeMetricFamily(
            "inventory_forecast_day_timestamp_seconds",
            "Start (Unix time, 00:00 UTC) of the day the inventory_forecast_day_* sums describe.",
            unit="seconds",
        )
        start.add_metric([], datetime.combine(day, time(), tzinfo=UTC).timestamp())
        families.append(start)
    return families


def _skipped_family(result: AnalyticsResult) -> Metric:
    skipped = GaugeMetricFamily(
        "inventory_analytics_skipped_rows",
        "Grouped demand rows (SKU-location-day) left out of the forecast, by check: sales or returns "
        "of a SKU-location that is not an active product's stock level.",
        labels=["check"],
    )
    skipped.add_metric(["movement_unknown_sku_location"], result.demand.unknown_series_rows)
    return skipped
