"""Business metrics from the inventory database (metrics contract, DESIGN.md section 5).

The SQL lives in exporter/queries.py; this module runs it in a worker thread and
turns the grouped rows into families. Dirty data is skipped in SQL and counted in
inventory_data_quality_issues{check}, so totals stay right and nothing crashes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorBase
from exporter.db import Database, QueryResult
from exporter.queries import MOVEMENT_KINDS, ORDER_STATUSES, SYNC_STATUSES, business_statements
from exporter.timestamps import parse_timestamp

if TYPE_CHECKING:  # config imports this module to validate overrides
    from exporter.config import BusinessConfig, DatabaseConfig

log = logging.getLogger("exporter.business")

# name -> (type, help, labels of the built-in definition)
OVERRIDABLE_METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "inventory_skus": ("gauge", "Stock-level rows (SKU-locations) of active products.", ("location",)),
    "inventory_on_hand_units": ("gauge", "Sum of on_hand of active products; rows with negative on_hand skipped.", ("location",)),
    "inventory_available_units": ("gauge", "Sum of on_hand - reserved of active products; rows with negative on_hand skipped.", ("location",)),
    "inventory_stock_value": ("gauge", "Sum of on_hand x unit_cost over rows with on_hand > 0 and a known cost.", ("location", "currency")),
    "inventory_low_stock_skus": ("gauge", "Rows with reorder_point set and 0 < on_hand - reserved <= reorder_point.", ("location",)),
    "inventory_out_of_stock_skus": ("gauge", "Rows with on_hand - reserved <= 0.", ("location",)),
    "inventory_below_safety_stock_skus": ("gauge", "Rows with safety_stock set and on_hand - reserved < safety_stock.", ("location",)),
    "inventory_orders": ("gauge", "Orders by current status.", ("channel", "status")),
    "inventory_order_fulfillment_ratio": ("gauge", "Fulfilled over non-cancelled orders created in the trailing window.", ("channel",)),
    "inventory_stock_movements_total": ("counter", "Rows in stock_movements.", ("kind", "source")),
    "inventory_last_stock_movement_timestamp_seconds": ("gauge", "Unix time of the newest stock movement.", ()),
    "inventory_audit_unlogged_movements": ("gauge", "Stock movements with no audit_log row.", ()),
    "inventory_integration_sync_runs_total": ("counter", "Rows in integration_syncs.", ("integration", "status")),
    "inventory_integration_sync_conflicts_total": ("counter", "Sum of conflicts over integration_syncs rows.", ("integration",)),
    "inventory_integration_last_sync_success_timestamp_seconds": ("gauge", "Unix time of the newest finished successful sync.", ("integration",)),
}

DATA_QUALITY_CHECKS = (
    "negative_on_hand",
    "null_unit_cost",
    "null_reorder_point",
    "stock_unknown_sku",
    "unknown_order_status",
    "orders_bad_timestamp",
    "unknown_movement_kind",
    "movements_bad_timestamp",
    "movements_unknown_sku",
    "unknown_sync_status",
    "syncs_bad_timestamp",
    "syncs_out_of_order",
    "negative_conflicts",
    "missing_label",
    "invalid_utf8",
)


def _num(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def _family(name: str, labels: tuple[str, ...] | list[str]) -> Metric:
    kind, help_text, _ = OVERRIDABLE_METRICS[name]
    if kind == "counter":
        return CounterMetricFamily(name, help_text, labels=list(labels))
    return GaugeMetricFamily(name, help_text, labels=list(labels))


class _Labels:
    """Label values from the database: None and invalid UTF-8 are counted, not crashed on."""

    def __init__(self, issues: dict[str, float]):
        self.issues = issues

    def ok(self, values: tuple, weight: float) -> bool:
        if any(v is None for v in values):
            self.issues["missing_label"] += weight
            return False
        if any("\ufffd" in str(v) for v in values):
            self.issues["invalid_utf8"] += weight
        return True


class BusinessCollector(CollectorBase):
    name = "business"

    def __init__(self, database: Database, db_config: DatabaseConfig, config: BusinessConfig):
        self.database = database
        self.interval = db_config.interval
        self.timeout = db_config.timeout
        self.config = config
        self.statements = business_statements(database.dialect)
        for metric, sql in config.overrides.items():
            self.statements[f"override:{metric}"] = sql
        for custom in config.metrics:
            self.statements[f"custom:{custom.name}"] = custom.sql
        self._running: asyncio.Future | None = None

    async def collect(self) -> list[Metric]:
        if self._running is not None and not self._running.done():
            # A previous run is still stuck in the driver; do not pile up threads.
            raise RuntimeError("previous database query still running")
        since = datetime.now(timezone.utc) - timedelta(seconds=self.config.fulfillment_window)
        params = {"since": since.strftime("%Y-%m-%dT%H:%M:%S")}
        self._running = asyncio.ensure_future(asyncio.to_thread(self.database.fetch_all, self.statements, params))
        # An abandoned (timed-out) run's error is consumed here, not logged as unretrieved.
        self._running.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            results = await asyncio.shield(self._running)
        except asyncio.CancelledError:
            self.database.interrupt()
            raise
        return self.families(results)

    async def close(self) -> None:
        self.database.interrupt()
        self.database.dispose()

    def families(self, results: dict[str, QueryResult]) -> list[Metric]:
        issues = {check: 0.0 for check in DATA_QUALITY_CHECKS}
        labels = _Labels(issues)
        out: dict[str, Metric] = {}
        self._stock(results["stock"].rows, labels, out)
        self._orders(results, labels, out)
        self._movements(results, labels, out)
        self._syncs(results, labels, out)

        for metric in self.config.overrides:
            out[metric] = self._from_result(metric, results[f"override:{metric}"], OVERRIDABLE_METRICS[metric][0],
                                            OVERRIDABLE_METRICS[metric][1])
        families = list(out.values())
        for custom in self.config.metrics:
            families.append(self._from_result(custom.name, results[f"custom:{custom.name}"], custom.type,
                                              custom.help or f"Defined by SQL in the config: {custom.name}",
                                              custom.labels))
        quality = GaugeMetricFamily(
            "inventory_data_quality_issues", "Rows skipped or suspicious, by check.", labels=["check"]
        )
        for check, count in issues.items():
            quality.add_metric([check], count)
        families.append(quality)
        return families

    def _stock(self, rows: list[tuple], labels: _Labels, out: dict[str, Metric]) -> None:
        per_location: dict[str, list[float]] = {}
        value = _family("inventory_stock_value", ("location", "currency"))
        for location, currency, active, skus, on_hand, available, stock_value, low, out_of_stock, below_safety, \
                negative, null_cost, null_reorder in rows:
            if active is None:  # LEFT JOIN found no product
                labels.issues["stock_unknown_sku"] += _num(skus)
                continue
            if active != 1:
                continue
            labels.issues["negative_on_hand"] += _num(negative)
            labels.issues["null_unit_cost"] += _num(null_cost)
            labels.issues["null_reorder_point"] += _num(null_reorder)
            if not labels.ok((location, currency), _num(skus)):
                continue
            value.add_metric([location, currency], _num(stock_value))
            totals = per_location.setdefault(location, [0.0] * 6)
            for i, v in enumerate((skus, on_hand, available, low, out_of_stock, below_safety)):
                totals[i] += _num(v)
        names = ("inventory_skus", "inventory_on_hand_units", "inventory_available_units",
                 "inventory_low_stock_skus", "inventory_out_of_stock_skus", "inventory_below_safety_stock_skus")
        for i, name in enumerate(names):
            family = _family(name, ("location",))
            for location, totals in sorted(per_location.items()):
                family.add_metric([location], totals[i])
            out[name] = family
        out["inventory_stock_value"] = value

    def _orders(self, results: dict[str, QueryResult], labels: _Labels, out: dict[str, Metric]) -> None:
        counts: dict[str, dict[str, float]] = {}
        for channel, status, count, bad_timestamps in results["orders"].rows:
            labels.issues["orders_bad_timestamp"] += _num(bad_timestamps)
            if status not in ORDER_STATUSES:
                labels.issues["unknown_order_status"] += _num(count)
                continue
            if labels.ok((channel,), _num(count)):
                counts.setdefault(channel, dict.fromkeys(ORDER_STATUSES, 0.0))[status] += _num(count)
        orders = _family("inventory_orders", ("channel", "status"))
        for channel, by_status in sorted(counts.items()):
            for status, count in by_status.items():
                orders.add_metric([channel, status], count)
        out["inventory_orders"] = orders

        ratio = _family("inventory_order_fulfillment_ratio", ("channel",))
        for channel, fulfilled, total in results["fulfillment"].rows:
            if _num(total) > 0 and labels.ok((channel,), 0):
                ratio.add_metric([channel], _num(fulfilled) / _num(total))
        out["inventory_order_fulfillment_ratio"] = ratio

    def _movements(self, results: dict[str, QueryResult], labels: _Labels, out: dict[str, Metric]) -> None:
        movements = _family("inventory_stock_movements_total", ("kind", "source"))
        for kind, source, count, bad_timestamps, unknown_skus in results["movements"].rows:
            labels.issues["movements_bad_timestamp"] += _num(bad_timestamps)
            labels.issues["movements_unknown_sku"] += _num(unknown_skus)
            if kind not in MOVEMENT_KINDS:
                labels.issues["unknown_movement_kind"] += _num(count)
                continue
            if labels.ok((source,), _num(count)):
                movements.add_metric([kind, source], _num(count))
        out["inventory_stock_movements_total"] = movements

        last = _family("inventory_last_stock_movement_timestamp_seconds", ())
        newest = results["last_movement"].rows[0][0]
        if newest is not None:
            seconds = parse_timestamp(newest)
            if seconds is None:
                labels.issues["movements_bad_timestamp"] += 1
            else:
                last.add_metric([], seconds)
        out["inventory_last_stock_movement_timestamp_seconds"] = last

        unlogged = _family("inventory_audit_unlogged_movements", ())
        unlogged.add_metric([], _num(results["audit_unlogged"].rows[0][0]))
        out["inventory_audit_unlogged_movements"] = unlogged

    def _syncs(self, results: dict[str, QueryResult], labels: _Labels, out: dict[str, Metric]) -> None:
        runs = _family("inventory_integration_sync_runs_total", ("integration", "status"))
        conflicts: dict[str, float] = {}
        for integration, status, count, conflict_sum, negative in results["syncs"].rows:
            labels.issues["negative_conflicts"] += _num(negative)
            if status not in SYNC_STATUSES:
                labels.issues["unknown_sync_status"] += _num(count)
                continue
            if not labels.ok((integration,), _num(count)):
                continue
            runs.add_metric([integration, status], _num(count))
            conflicts[integration] = conflicts.get(integration, 0.0) + _num(conflict_sum)
        out["inventory_integration_sync_runs_total"] = runs
        conflict_family = _family("inventory_integration_sync_conflicts_total", ("integration",))
        for integration, total in sorted(conflicts.items()):
            conflict_family.add_metric([integration], total)
        out["inventory_integration_sync_conflicts_total"] = conflict_family

        last = _family("inventory_integration_last_sync_success_timestamp_seconds", ("integration",))
        for integration, finished in results["sync_last_success"].rows:
            seconds = parse_timestamp(finished)
            if seconds is None:
                labels.issues["syncs_bad_timestamp"] += 1
            elif labels.ok((integration,), 0):
                last.add_metric([integration], seconds)
        out["inventory_integration_last_sync_success_timestamp_seconds"] = last
        labels.issues["syncs_bad_timestamp"] += _num(results["syncs_bad_timestamp"].rows[0][0])
        labels.issues["syncs_out_of_order"] += _num(results["syncs_out_of_order"].rows[0][0])

    @staticmethod
    def _from_result(name: str, result: QueryResult, kind: str, help_text: str,
                     expected_labels: list[str] | None = None) -> Metric:
        """A family from user SQL: every column but `value` is a label."""
        if "value" not in result.columns:
            raise ValueError(f"SQL for {name} returns no 'value' column (columns: {', '.join(result.columns)})")
        label_names = [c for c in result.columns if c != "value"]
        if expected_labels is not None and sorted(label_names) != sorted(expected_labels):
            raise ValueError(f"SQL for {name} returns labels {label_names}, config declares {expected_labels}")
        family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_text, labels=label_names)
        value_index = result.columns.index("value")
        for row in result.rows:
            if row[value_index] is None:
                continue
            family.add_metric([str(row[result.columns.index(c)]) for c in label_names], _num(row[value_index]))
        return family
