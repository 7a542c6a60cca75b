"""Every report figure worked out from the dataset's samples, independently of PromQL.

expected(start, end) -> {(figure key, labels as a sorted tuple): value or None}.
"""

from __future__ import annotations

import math
from collections import defaultdict

from reporter.figures.service_level import KEYS as SERVICE_LEVEL_KEYS
from tests.reporter import dataset as d
from tests.reporter.dataset import increase, instant, rate, select, subquery_points, window

STEP = 300  # output.resolution in the test config
EVAL = 60  # prometheus.rule_evaluation_interval in the test config
AVAILABILITY = 0.999


def _sum(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def _avg(points) -> float | None:
    return sum(v for _, v in points) / len(points) if points else None


def _by(series, label: str, fn) -> dict[tuple, float]:
    groups = defaultdict(list)
    for labels, points in series:
        groups[labels[label]].append(fn(points))
    out = {}
    for value, items in groups.items():
        total = _sum(items)
        if total is not None:
            out[((label, value),)] = total
    return out


def db_count(points, start: float, end: float) -> float | None:
    """Events of [start, end) from a database-derived counter: the last value in the period
    minus the last value before it (31 days back at least); from 0 for a new series."""
    inside = window(points, end, end - start)
    if not inside:
        return None
    before = window(points, start, max(end - start, 31 * d.DAY))
    return inside[-1][1] - (before[-1][1] if before else 0.0)


def expected(start: float, end: float, capacity: bool = True) -> dict[tuple[str, tuple], float | None]:
    span = end - start
    out: dict[tuple[str, tuple], float | None] = {}

    def put(key, value, labels=()):
        out[(key, labels)] = value

    def put_by(key, values: dict):
        if not values:
            put(key, None)
        for labels, value in values.items():
            put(key, value, labels)

    # service
    # availability: at each point of the subquery, the API is up when every scrape and probe says so
    probes = [p for _, p in select("up", job="inventory-api")] + [p for _, p in select("inventory_api_up")]
    moments = []
    for at in subquery_points(end, span, STEP):
        present = [v for v in (instant(p, at) for p in probes) if v is not None]
        if present:
            moments.append(min(present))
    put("service.availability_ratio", sum(moments) / len(moments) if moments else None)
    requests = select("inventory_api_requests_total")
    total = _sum(increase(p, end, span) for _, p in requests)
    errors = _sum(increase(p, end, span) for labels, p in requests if labels["code"].startswith("5")) or 0.0
    success = None if not total else 1 - errors / total
    put("service.request_success_ratio", success)
    put(
        "service.error_budget_remaining_ratio",
        None if success is None else 1 - (1 - success) / (1 - AVAILABILITY),
    )
    put("service.error_ratio", None if not total else errors / total)
    put("service.request_rate_mean", None if total is None else total / span)
    peaks = [_sum(rate(p, at, 300) for _, p in requests) for at in subquery_points(end, span, STEP)]
    put("service.request_rate_peak", max((v for v in peaks if v is not None), default=None))
    buckets = defaultdict(float)
    for labels, points in select("inventory_api_request_duration_seconds_bucket"):
        value = increase(points, end, span)
        if value is not None:
            buckets[float(labels["le"].replace("+Inf", "inf"))] += value
    for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        put(f"service.latency_{key}_seconds", d.histogram_quantile(q, list(buckets.items())) if buckets else None)
    put(
        "service.performance_score_mean",
        _avg(window(select("job:inventory_api_performance_score:weighted_avg5m")[0][1], end, span)),
    )
    firing, episodes = {}, {}
    for labels, points in select("ALERTS", alertstate="firing"):
        count = len(window(points, end, span))
        if not count:
            continue
        key = (("alertname", labels["alertname"]), ("severity", labels["severity"]))
        firing[key] = count * EVAL
        # a firing starts at an evaluation point that sees the alert firing when the one before did not
        episodes[key] = sum(
            1
            for at in subquery_points(end, span, EVAL)
            if instant(points, at) is not None and instant(points, at - EVAL) is None
        )
    put_by("service.alert_firing_seconds", firing)
    put_by("service.alert_episodes", episodes)

    # business
    for key, at in (("business.stock_value_start", start), ("business.stock_value_end", end)):
        put_by(key, _by(select("inventory_stock_value"), "currency", lambda p, at=at: instant(p, at)))
    stockout = [
        _sum(instant(p, at) for _, p in select("inventory_out_of_stock_skus"))
        for at in subquery_points(end, span, STEP)
    ]
    present = [v for v in stockout if v is not None]
    put("business.stockout_sku_hours", sum(present) * STEP / 3600 if present else None)
    for key, name in (
        ("business.low_stock_skus_mean", "inventory_low_stock_skus"),
        ("business.below_safety_stock_skus_mean", "inventory_below_safety_stock_skus"),
        ("business.reorder_recommended_skus_mean", "inventory_reorder_recommended_skus"),
        ("business.reorder_recommended_units_mean", "inventory_reorder_recommended_units"),
    ):
        put(key, _sum(_avg(window(p, end, span)) for _, p in select(name)))
    channels = {}
    for labels, points in select("inventory_orders_created_total"):
        created = db_count(points, start, end)
        fulfilled_series = select("inventory_orders_fulfilled_total", channel=labels["channel"])
        fulfilled = db_count(fulfilled_series[0][1], start, end) if fulfilled_series else None
        if created is not None:
            ratio = (fulfilled or 0.0) / created if created else math.nan
            channels[(("channel", labels["channel"]),)] = None if math.isnan(ratio) else ratio
    put_by("business.fulfillment_ratio", channels)
    # the forecast: the known one-day-ahead sums of the period's days; a day whose sums were
    # never published (the analytics was down the whole day after it) leaves no ratio
    days = range(int(start), int(end), d.DAY)
    never_published = d.ANALYTICS_DOWN[0] - d.DAY  # the analytics was down all the day after it
    truth = d.day_sums_between(start, end)
    known = truth is not None and never_published not in days
    put("business.forecast_wape_ratio", truth[0] if known and truth else None)
    put("business.forecast_bias_ratio", truth[1] if known and truth else None)

    # integrations
    def count_in(points):
        return db_count(points, start, end)

    def avg_in(points):
        return _avg(window(points, end, span))

    put_by("integrations.accuracy_ratio", _by(select("inventory_integration_accuracy_ratio"), "integration", avg_in))
    put_by(
        "integrations.mismatch_skus_mean",
        _by(select("inventory_integration_stock_mismatch_skus"), "integration", avg_in),
    )
    stale = {}
    for labels, points in select("inventory_integration_last_sync_success_timestamp_seconds"):
        ages = [at - instant(points, at) for at in subquery_points(end, span, STEP) if instant(points, at) is not None]
        if ages:
            stale[(("integration", labels["integration"]),)] = max(ages)
    put_by("integrations.staleness_max_seconds", stale)
    failed = _by(select("inventory_integration_sync_runs_total", status="failed"), "integration", count_in)
    for labels, points in select("inventory_integration_sync_runs_total"):
        if window(points, end, span):  # synced in the period without a failure: 0
            failed.setdefault((("integration", labels["integration"]),), 0.0)
    put_by("integrations.failed_syncs", failed)
    put_by("integrations.conflicts", _by(select("inventory_integration_sync_conflicts_total"), "integration", count_in))

    # enhancer
    actions = {}
    for labels, points in select("inventory_enhancer_actions_total"):
        value = increase(points, end, span)
        if value is not None:
            actions[(("outcome", labels["outcome"]), ("rule", labels["rule"]))] = float(round(value))
    put_by("enhancer.actions", actions)
    verified_count, effect = {}, {}
    for rule, verified in d.VERIFICATIONS.items():
        inside = [value for at, value in verified if start <= at < end]
        verified_count[(("rule", rule),)] = float(len(inside))
        if inside:  # the mean effect of the actions verified in the period
            effect[(("rule", rule),)] = sum(inside) / len(inside)
    put_by("enhancer.verified_actions", verified_count)
    put_by("enhancer.effect_mean", effect)
    # The dataset has no service-level series (tests/exporter/test_service_level.py checks
    # those figures through a real Prometheus): each is "no data".
    for key in SERVICE_LEVEL_KEYS:
        put(key, None)

    if not capacity:
        return out
    cpu = window(select("inventory_host_cpu_utilization_ratio")[0][1], end, span)
    put("capacity.cpu_peak_ratio", max((v for _, v in cpu), default=None))
    put("capacity.cpu_mean_ratio", _avg(cpu))
    memory_peak = max((v for _, v in window(select("inventory_host_memory_used_bytes")[0][1], end, span)), default=None)
    memory_series = select("inventory_host_memory_total_bytes")[0][1]
    memory_total = max((v for _, v in window(memory_series, end, span)), default=None)
    put("capacity.memory_peak_bytes", memory_peak)
    put("capacity.memory_total_bytes", memory_total)
    put("capacity.memory_peak_ratio", None if not memory_peak or not memory_total else memory_peak / memory_total)
    used = select("inventory_host_disk_used_bytes")[0][1]
    size = select("inventory_host_disk_total_bytes")[0][1]
    mount = (("mountpoint", "/"),)
    inside = window(used, end, span)
    put("capacity.disk_peak_ratio", max(v for _, v in inside) / max(v for _, v in window(size, end, span)), mount)
    put("capacity.disk_growth_bytes", instant(used, end) - instant(used, start), mount)
    slope, intercept = d.least_squares(inside)
    fitted_at_end = intercept + slope * end
    days = (instant(size, end) - fitted_at_end) / slope / 86400
    put("capacity.disk_days_until_full", days if slope > 0 and math.isfinite(days) and days > 0 else None, mount)
    return out
