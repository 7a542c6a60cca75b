"""Business metrics from the inventory database (metrics contract, docs/metrics.md).

What can be published, and which built-in statement yields what, is in
exporter/business_catalogue.py; the reference schema's SQL in exporter/queries.py.
This module runs the statements in a worker thread and turns their rows into families.

Statements fail alone: a missing table or a bad mapping costs only the metrics of that
statement (`inventory_exporter_query_success{query}` says which); the collector itself
fails only when nothing could be read (database down, locked, or every statement
failing). Dirty data is skipped and counted in inventory_data_quality_issues{check},
so totals stay right and nothing crashes; a check is published only when a statement
that looks for it ran.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.business_catalogue import (
    BUILTIN_STATEMENTS,
    CUSTOM_SCHEMA,
    METRICS,
    REFERENCE_SCHEMA,
    VALUE_CHECKS,
    builtin_statements_needed,
)
from exporter.collectors.base import CollectorBase
from exporter.db import Database, Dialect, OffThread, Partitioned, QueryError, QueryResult
from exporter.queries import (
    MOVEMENT_KINDS,
    ORDER_STATUSES,
    SERVICE_LEVEL_FACTS,
    SYNC_STATUSES,
    business_statements,
)
from exporter.timestamps import parse_timestamp

if TYPE_CHECKING:
    from exporter.config import BusinessConfig, DatabaseConfig

log = logging.getLogger("exporter.business")


def _num(value: Any) -> float:
    if value is None:
        return 0.0
    return float(value)


class BadValue(Exception):
    """A value a mapped statement returned that is no usable number; its check name."""

    def __init__(self, check: str):
        super().__init__(check)
        self.check = check


def metric_value(value: Any, timestamp: bool = False) -> float:
    """A mapped statement's `value` -> a finite float, or BadValue naming the check.

    Numbers in text are numbers (WooCommerce keeps stock in text meta); text that is no
    number is `non_numeric_value`, never 0. For a `*_timestamp_seconds` metric
    (`timestamp`), a datetime, a date or ISO-8601 text is a moment, in Unix seconds
    (naive = UTC), as schemas with timestamp columns return them.
    """
    if value is None:
        raise BadValue("null_value")
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", errors="replace")
    if timestamp and isinstance(value, date):
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return parse_timestamp(moment)  # type: ignore[return-value]  # never None for a datetime
    try:
        number = float(Decimal(value.strip()) if isinstance(value, str) else value)
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        seconds = parse_timestamp(value) if timestamp and isinstance(value, str) else None
        if seconds is None:
            raise BadValue("non_numeric_value") from None
        number = seconds
    if not math.isfinite(number):
        raise BadValue("non_finite_value")
    return number


_PARAM_FORMAT = "%Y-%m-%dT%H:%M:%S"

# The families a built-in statement fills: both take add_metric(label values, value).
_Family = CounterMetricFamily | GaugeMetricFamily


def _family(name: str, labels: tuple[str, ...] | list[str]) -> _Family:
    spec = METRICS[name]
    if spec.type == "counter":
        return CounterMetricFamily(name, spec.help, labels=list(labels))
    return GaugeMetricFamily(name, spec.help, labels=list(labels))


class _Labels:
    """Label values from the database: None and invalid UTF-8 are counted, not crashed on."""

    def __init__(self, issues: dict[str, float]):
        self.issues = issues

    def ok(self, values: tuple[Any, ...], weight: float) -> bool:
        if any(v is None for v in values):
            self.issues["missing_label"] = self.issues.get("missing_label", 0.0) + weight
            return False
        if any("\ufffd" in str(v) for v in values):
            self.issues["invalid_utf8"] = self.issues.get("invalid_utf8", 0.0) + weight
        return True


def mapped_metrics(db_config: DatabaseConfig, config: BusinessConfig) -> dict[str, str]:
    """Metric -> SQL of every metric the user or the schema's preset maps (the user's win)."""
    mapped: dict[str, str] = {}
    if db_config.schema_ not in (REFERENCE_SCHEMA, CUSTOM_SCHEMA):
        from exporter.presets import load_preset

        mapped.update(load_preset(db_config.schema_).metrics)
    mapped.update(config.overrides)
    return mapped


def business_queries(
    dialect: Dialect, db_config: DatabaseConfig, config: BusinessConfig, mapped: dict[str, str]
) -> dict[str, str | Partitioned]:
    """The statements one cycle runs, by `query` label: built-in statement names for the
    reference schema's SQL, metric names for mapped and custom metrics."""
    statements: dict[str, str | Partitioned] = {}
    if db_config.schema_ == REFERENCE_SCHEMA:
        builtin = business_statements(dialect)
        for name in builtin_statements_needed(set(mapped)):
            statements[name] = builtin[name]
    statements.update(mapped)
    for custom in config.metrics:
        statements[custom.name] = custom.sql
    return statements


def _quality_family(issues: dict[str, float]) -> Metric:
    quality = GaugeMetricFamily(
        "inventory_data_quality_issues", "Rows skipped or suspicious, by check.", labels=["check"]
    )
    for check in sorted(issues):
        quality.add_metric([check], issues[check])
    return quality


class BusinessCollector(CollectorBase):
    name = "business"

    def __init__(self, database: Database, db_config: DatabaseConfig, config: BusinessConfig):
        self.database = database
        self.interval = db_config.interval
        self.timeout = db_config.timeout
        self.config = config
        self.mapped = mapped_metrics(db_config, config)
        self.statements = business_queries(database.dialect, db_config, config, self.mapped)
        self.failing: dict[str, str] = {}  # query -> reason, while it keeps failing
        # The cycle's "now" (:now, the backorder age); tests set a fixed clock.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._cycle_now: datetime | None = None
        self._running = OffThread(database)

    def parameters(self, now: datetime | None = None) -> dict[str, Any]:
        """The bound parameters: :since (fulfilment window), :service_level_since and :now,
        as UTC text YYYY-MM-DDTHH:MM:SS."""
        now = now or self.clock()
        since = now - timedelta(seconds=self.config.fulfillment_window)
        service_since = now - timedelta(seconds=self.config.service_level_window)
        return {
            "since": since.strftime(_PARAM_FORMAT),
            "service_level_since": service_since.strftime(_PARAM_FORMAT),
            "now": now.strftime(_PARAM_FORMAT),
        }

    def run_statements(self) -> tuple[dict[str, QueryResult], dict[str, QueryError], dict[str, float]]:
        """One cycle's statements, each failing alone (blocking: runs in a worker thread)."""
        errors: dict[str, QueryError] = {}
        durations: dict[str, float] = {}
        self._cycle_now = self.clock()
        params = self.parameters(self._cycle_now)
        results = self.database.fetch_all(self.statements, params, errors=errors, durations=durations)
        return results, errors, durations

    async def collect(self) -> list[Metric]:
        results, errors, durations = await self._running.run(self.run_statements)
        families, failed = self.families(results, errors)
        self._log_changes(failed)
        if self.statements and len(failed) == len(self.statements):
            first = failed[next(iter(self.statements))]
            raise RuntimeError(f"every statement failed; {first}")
        return families + self.query_families(failed, durations)

    def _log_changes(self, errors: dict[str, Exception]) -> None:
        """One line when a statement starts failing and one when it recovers, not one a run."""
        for query, error in errors.items():
            reason = str(getattr(error, "reason", error))
            if query not in self.failing:
                log.warning("business query %s failed: %s", query, reason)
            self.failing[query] = reason
        for query in [q for q in self.failing if q not in errors]:
            del self.failing[query]
            log.info("business query %s recovered", query)

    def failing_statements(self) -> dict[str, str]:
        return dict(self.failing)

    def query_families(self, errors: dict[str, Exception], durations: dict[str, float]) -> list[Metric]:
        success = GaugeMetricFamily(
            "inventory_exporter_query_success",
            "1 if the statement's last run succeeded and its rows were usable.",
            labels=["collector", "query"],
        )
        duration = GaugeMetricFamily(
            "inventory_exporter_query_duration_seconds",
            "Duration of the statement's last run.",
            labels=["collector", "query"],
            unit="seconds",
        )
        for query in self.statements:
            success.add_metric([self.name, query], 0.0 if query in errors else 1.0)
            if query in durations:
                duration.add_metric([self.name, query], durations[query])
        return [success, duration]

    async def close(self) -> None:
        self.database.interrupt()
        self.database.dispose()

    def families(
        self, results: dict[str, QueryResult], errors: dict[str, QueryError] | None = None
    ) -> tuple[list[Metric], dict[str, Exception]]:
        """Families from one cycle's results, and the statements that failed (in SQL, or
        because their rows could not be used: a missing `value` column, wrong labels)."""
        failed: dict[str, Exception] = dict(errors or {})
        issues: dict[str, float] = {}
        out = self._builtin_families(results, _Labels(issues))
        # The value checks look at what mapped and custom statements returned.
        if any(m in results for m in self.mapped) or any(c.name in results for c in self.config.metrics):
            for check in VALUE_CHECKS + ("missing_label", "invalid_utf8"):
                issues.setdefault(check, 0.0)
        self._replace_mapped(results, issues, out, failed)
        families = list(out.values()) + self._custom_families(results, issues, failed)
        if issues:
            families.append(_quality_family(issues))
        return families, failed

    def _builtin_families(self, results: dict[str, QueryResult], labels: _Labels) -> dict[str, Metric]:
        """Families of the built-in statements that ran, by metric name; each statement's
        checks start at 0 so that they are published even when nothing is wrong."""
        handlers: dict[str, Callable[[QueryResult, _Labels, dict[str, Metric]], None]] = {
            "stock": self._stock,
            "orders": self._orders,
            "fulfillment": self._fulfillment,
            "service_level": self._service_level,
            "stockout_exposure": self._stockout_exposure,
            "movements": self._movements,
            "last_movement": self._last_movement,
            "audit_unlogged": self._audit,
            "syncs": self._syncs,
            "sync_last_success": self._sync_last_success,
            "syncs_bad_timestamp": self._syncs_bad_timestamp,
            "syncs_out_of_order": self._syncs_out_of_order,
        }
        out: dict[str, Metric] = {}
        for query, handler in handlers.items():
            if query in results:
                for check in BUILTIN_STATEMENTS[query].checks:
                    labels.issues.setdefault(check, 0.0)
                handler(results[query], labels, out)
        return out

    def _replace_mapped(
        self,
        results: dict[str, QueryResult],
        issues: dict[str, float],
        out: dict[str, Metric],
        failed: dict[str, Exception],
    ) -> None:
        """A mapped metric replaces the built-in one in `out`, even where its statement failed."""
        for metric in self.mapped:
            out.pop(metric, None)
            if metric in results:
                spec = METRICS[metric]
                try:
                    out[metric] = self._from_result(
                        metric, results[metric], spec.type, spec.help, issues, list(spec.labels)
                    )
                except ValueError as exc:
                    failed[metric] = exc

    def _custom_families(
        self, results: dict[str, QueryResult], issues: dict[str, float], failed: dict[str, Exception]
    ) -> list[Metric]:
        """Families of the config's own metrics whose statements ran and returned usable columns."""
        families: list[Metric] = []
        for custom in self.config.metrics:
            if custom.name in results:
                try:
                    families.append(
                        self._from_result(
                            custom.name,
                            results[custom.name],
                            custom.type,
                            custom.help or f"Defined by SQL in the config: {custom.name}",
                            issues,
                            custom.labels,
                        )
                    )
                except ValueError as exc:
                    failed[custom.name] = exc
        return families

    def _stock(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        per_location: dict[str, list[float]] = {}
        value = _family("inventory_stock_value", ("location", "currency"))
        for (
            location,
            currency,
            active,
            skus,
            on_hand,
            available,
            stock_value,
            low,
            out_of_stock,
            below_safety,
            negative,
            null_cost,
            null_reorder,
            invalid,
        ) in result.rows:
            if active is None:  # LEFT JOIN found no product
                labels.issues["stock_unknown_sku"] += _num(skus)
                continue
            if active != 1:
                continue
            labels.issues["negative_on_hand"] += _num(negative)
            labels.issues["null_unit_cost"] += _num(null_cost)
            labels.issues["null_reorder_point"] += _num(null_reorder)
            labels.issues["invalid_quantity"] += _num(invalid)
            if not labels.ok((location, currency), _num(skus)):
                continue
            value.add_metric([location, currency], _num(stock_value))
            totals = per_location.setdefault(location, [0.0] * 6)
            for i, v in enumerate((skus, on_hand, available, low, out_of_stock, below_safety)):
                totals[i] += _num(v)
        names = (
            "inventory_skus",
            "inventory_on_hand_units",
            "inventory_available_units",
            "inventory_low_stock_skus",
            "inventory_out_of_stock_skus",
            "inventory_below_safety_stock_skus",
        )
        for i, name in enumerate(names):
            family = _family(name, ("location",))
            for location, totals in sorted(per_location.items()):
                family.add_metric([location], totals[i])
            out[name] = family
        out["inventory_stock_value"] = value

    def _orders(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        counts: dict[str, dict[str, float]] = {}
        created: dict[str, float] = {}
        for channel, status, count, bad_timestamps in result.rows:
            labels.issues["orders_bad_timestamp"] += _num(bad_timestamps)
            if status not in ORDER_STATUSES:
                labels.issues["unknown_order_status"] += _num(count)
                # still an order that was created: it counts in inventory_orders_created_total
                if channel is not None:
                    created[channel] = created.get(channel, 0.0) + _num(count)
                continue
            if labels.ok((channel,), _num(count)):
                counts.setdefault(channel, dict.fromkeys(ORDER_STATUSES, 0.0))[status] += _num(count)
                created[channel] = created.get(channel, 0.0) + _num(count)
        orders = _family("inventory_orders", ("channel", "status"))
        for channel, by_status in sorted(counts.items()):
            for status, count in by_status.items():
                orders.add_metric([channel, status], count)
        out["inventory_orders"] = orders
        # Counters from rows (never deleted): created = every row, fulfilled = status fulfilled.
        created_family = _family("inventory_orders_created_total", ("channel",))
        fulfilled_family = _family("inventory_orders_fulfilled_total", ("channel",))
        for channel, total in sorted(created.items()):
            created_family.add_metric([channel], total)
            fulfilled_family.add_metric([channel], counts.get(channel, {}).get("fulfilled", 0.0))
        out["inventory_orders_created_total"] = created_family
        out["inventory_orders_fulfilled_total"] = fulfilled_family

    def _fulfillment(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        ratio = _family("inventory_order_fulfillment_ratio", ("channel",))
        for channel, fulfilled, total in result.rows:
            if _num(total) > 0 and labels.ok((channel,), 0):
                ratio.add_metric([channel], _num(fulfilled) / _num(total))
        out["inventory_order_fulfillment_ratio"] = ratio

    def _service_level(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        """Counters for every channel with an order (0 until its first), ratios only where
        the window has something to measure, the backorder age only where one is open."""
        counters = {
            name: _family(name, ("channel",))
            for name in (
                "inventory_orders_due_total",
                "inventory_orders_on_time_total",
                "inventory_orders_in_full_total",
                "inventory_orders_otif_total",
            )
        }
        ratios = {
            name: _family(name, ("channel",))
            for name in (
                "inventory_order_on_time_ratio",
                "inventory_order_otif_ratio",
                "inventory_order_line_fill_ratio",
                "inventory_order_unit_fill_ratio",
            )
        }
        backorders = _family("inventory_backorders", ("channel",))
        oldest = _family("inventory_backorder_oldest_age_seconds", ("channel",))
        now = (self._cycle_now or self.clock()).timestamp()
        # channel -> due, on time, in full, OTIF (the counters); due, on time, OTIF, lines,
        # lines filled, units, units shipped (the window's orders); backorders.
        sums: dict[str, list[float]] = {}
        oldest_created: dict[str, float] = {}
        for row in result.rows:
            channel, status, bits = row[:3]
            fact = {name: bool(int(_num(bits)) >> bit & 1) for bit, name in enumerate(SERVICE_LEVEL_FACTS)}
            count, lines, filled, units, shipped = (_num(v) for v in row[3:8])
            first_created, invalid_lines = row[8:10]
            labels.issues["order_line_invalid_quantity"] += _num(invalid_lines)
            bad = (fact["has_promise"] and not fact["promise_ok"]) or (
                fact["has_fulfilled"] and not fact["fulfilled_ok"]
            )
            if bad or (status == "fulfilled" and not fact["has_fulfilled"] and fact["promise_ok"]):
                labels.issues["orders_bad_service_timestamp"] += count
            if not labels.ok((channel,), 0):
                continue
            # docs/metrics.md, "Service level": the definitions, in this order.
            promised = status in ("open", "fulfilled", "backordered") and fact["promise_ok"]
            fulfilled = status == "fulfilled" and fact["fulfilled_ok"] and fact["by_now"]
            on_time = promised and fulfilled and fact["by_promise"]
            due = promised and (fact["promise_passed"] or on_time)
            in_full = fulfilled and fact["lines_full"]
            recent = due and (fact["fulfilled_recently"] if on_time else fact["promised_recently"])
            flags = (
                due,
                on_time,
                due and in_full,
                on_time and in_full,
                recent,
                recent and on_time,
                recent and on_time and in_full,
            )
            totals = sums.setdefault(channel, [0.0] * 12)
            for i, flag in enumerate(flags):
                totals[i] += count if flag else 0.0
            if recent:
                for i, value in enumerate((lines, filled, units, shipped), start=7):
                    totals[i] += value
            if status == "backordered":
                totals[11] += count
                created = parse_timestamp(first_created) if first_created is not None else None
                if created is not None:
                    oldest_created[channel] = min(created, oldest_created.get(channel, created))
        for channel, totals in sorted(sums.items()):
            for name, value in zip(counters, totals[:4]):
                counters[name].add_metric([channel], value)
            w_due, w_on_time, w_otif, lines, filled, units, shipped = totals[4:11]
            for name, (part, whole) in zip(
                ratios, ((w_on_time, w_due), (w_otif, w_due), (filled, lines), (shipped, units))
            ):
                if whole > 0:
                    ratios[name].add_metric([channel], part / whole)
            backorders.add_metric([channel], totals[11])
            if channel in oldest_created:
                oldest.add_metric([channel], max(0.0, now - oldest_created[channel]))
        out.update(counters)
        out.update(ratios)
        out["inventory_backorders"] = backorders
        out["inventory_backorder_oldest_age_seconds"] = oldest

    def _stockout_exposure(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        exposed = _family("inventory_orders_stockout_exposed", ("channel",))
        for channel, count in sorted(result.rows, key=lambda row: str(row[0])):
            if labels.ok((channel,), 0):
                exposed.add_metric([channel], _num(count))
        out["inventory_orders_stockout_exposed"] = exposed

    def _movements(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        # Every known kind of a source from 0, so that its first movement of a kind is an
        # increase of a series that already existed, which increase() sees.
        counts: dict[str, dict[str, float]] = {}
        for kind, source, count, bad_timestamps, unknown_skus in result.rows:
            labels.issues["movements_bad_timestamp"] += _num(bad_timestamps)
            labels.issues["movements_unknown_sku"] += _num(unknown_skus)
            if kind not in MOVEMENT_KINDS:
                labels.issues["unknown_movement_kind"] += _num(count)
                continue
            if labels.ok((source,), _num(count)):
                counts.setdefault(source, dict.fromkeys(MOVEMENT_KINDS, 0.0))[kind] += _num(count)
        movements = _family("inventory_stock_movements_total", ("kind", "source"))
        for source, by_kind in sorted(counts.items()):
            for kind, count in by_kind.items():
                movements.add_metric([kind, source], count)
        out["inventory_stock_movements_total"] = movements

    def _last_movement(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        last = _family("inventory_last_stock_movement_timestamp_seconds", ())
        newest = result.rows[0][0]
        if newest is not None:
            seconds = parse_timestamp(newest)
            if seconds is None:
                labels.issues["movements_bad_timestamp"] += 1
            else:
                last.add_metric([], seconds)
        out["inventory_last_stock_movement_timestamp_seconds"] = last

    def _audit(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        unlogged = _family("inventory_audit_unlogged_movements", ())
        unlogged.add_metric([], _num(result.rows[0][0]))
        out["inventory_audit_unlogged_movements"] = unlogged

    def _syncs(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        # Every known status of an integration from 0: its first failed sync moves the
        # failed series from 0 to 1 (a series born at 1 is an increase nobody sees).
        by_status: dict[str, dict[str, float]] = {}
        conflicts: dict[str, float] = {}
        for integration, status, count, conflict_sum, negative in result.rows:
            labels.issues["negative_conflicts"] += _num(negative)
            if status not in SYNC_STATUSES:
                labels.issues["unknown_sync_status"] += _num(count)
                continue
            if not labels.ok((integration,), _num(count)):
                continue
            by_status.setdefault(integration, dict.fromkeys(SYNC_STATUSES, 0.0))[status] += _num(count)
            conflicts[integration] = conflicts.get(integration, 0.0) + _num(conflict_sum)
        runs = _family("inventory_integration_sync_runs_total", ("integration", "status"))
        for integration, statuses in sorted(by_status.items()):
            for status, count in statuses.items():
                runs.add_metric([integration, status], count)
        out["inventory_integration_sync_runs_total"] = runs
        conflict_family = _family("inventory_integration_sync_conflicts_total", ("integration",))
        for integration, total in sorted(conflicts.items()):
            conflict_family.add_metric([integration], total)
        out["inventory_integration_sync_conflicts_total"] = conflict_family

    def _sync_last_success(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        last = _family("inventory_integration_last_sync_success_timestamp_seconds", ("integration",))
        for integration, finished in result.rows:
            seconds = parse_timestamp(finished)
            if seconds is None:
                labels.issues["syncs_bad_timestamp"] += 1
            elif labels.ok((integration,), 0):
                last.add_metric([integration], seconds)
        out["inventory_integration_last_sync_success_timestamp_seconds"] = last

    def _syncs_bad_timestamp(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        labels.issues["syncs_bad_timestamp"] += _num(result.rows[0][0])

    def _syncs_out_of_order(self, result: QueryResult, labels: _Labels, out: dict[str, Metric]) -> None:
        labels.issues["syncs_out_of_order"] += _num(result.rows[0][0])

    @staticmethod
    def _from_result(
        name: str, result: QueryResult, kind: str, help_text: str, issues: dict[str, float], expected_labels: list[str]
    ) -> Metric:
        """A family from mapped SQL: every column but `value` is a label.

        ValueError when the columns do not fit (the statement counts as failed); rows whose
        value is no finite number, or whose labels are NULL or repeat an earlier row, are
        skipped and counted by check.
        """
        if "value" not in result.columns:
            raise ValueError(f"SQL for {name} returns no 'value' column (columns: {', '.join(result.columns)})")
        label_names = [c for c in result.columns if c != "value"]
        if sorted(label_names) != sorted(expected_labels):
            raise ValueError(f"SQL for {name} returns labels {label_names}, expected {expected_labels}")
        family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_text, labels=label_names)
        value_index = result.columns.index("value")
        label_indexes = [result.columns.index(c) for c in label_names]
        seen: set[tuple[str, ...]] = set()
        for row in result.rows:
            raw_labels = tuple(row[i] for i in label_indexes)
            if any(v is None for v in raw_labels):
                issues["missing_label"] += 1
                continue
            values = tuple(
                v.decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray)) else str(v) for v in raw_labels
            )
            if any("\ufffd" in v for v in values):
                issues["invalid_utf8"] += 1
            try:
                number = metric_value(row[value_index], timestamp=name.endswith("_timestamp_seconds"))
            except BadValue as bad:
                issues[bad.check] += 1
                continue
            if values in seen:  # two rows for one series would break the scrape
                issues["duplicate_labels"] += 1
                continue
            seen.add(values)
            family.add_metric(list(values), number)
        return family
