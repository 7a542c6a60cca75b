"""Alert-quality benchmark: a simulated month of a healthy shop and the same month with faults.

    .venv/bin/python -m benchmarks.alert_quality [--days 30] [--short] [--json out.json]

Measures the SHIPPED rules and routes, read at run time: prometheus/rules/*.yml,
prometheus/prometheus.yml (evaluation interval) and alertmanager/alertmanager.yml.

1. Simulate the series the exporter (and Prometheus's own `up`) would publish for a shop of
   --skus SKUs x 3 locations, one sample a minute: a per-SKU stock simulation (seasonal
   demand, deliveries after a lead time, dead and sell-down items), API traffic with a
   healthy 5xx rate and a latency histogram, integration syncs, fulfilment and service
   level, the audit and data-quality gauges, collectors, memory. Normal dirt is part of the
   healthy shop: single failed scrapes and probes, short failed syncs, mismatches that last
   a few hours, a few new dirty rows a week, three unlogged movements from before go-live.
   Which families to simulate comes from the metric names in the rule expressions; a family
   the rules read that the simulator does not make is reported as "not synthesized".
2. Two eras go into one TSDB (promtool tsdb create-blocks-from openmetrics): the healthy
   month and, a whole number of weeks later, the same month (same random draws) with the
   fault catalogue injected. Each era starts with a warm-up (3 days, the longest rule window)
   whose alerts are evaluated but not counted.
3. A real Prometheus serves the TSDB. Recording rules the alerts need are backfilled level by
   level (query_range of each rule's expression, written back as blocks, Prometheus
   restarted): the same thing `promtool tsdb create-blocks-from rules` does, done here so
   that rules reading other rules' output get it.
4. Each alerting rule's `expr` is query_range'd over each era; `for` / `keep_firing_for`
   are applied here as Prometheus's rule manager does (pending -> firing -> resolved).
5. Alertmanager: the route of every alert label set is resolved in Python from the parsed
   config AND checked against `amtool config routes test` (the receivers must agree); the
   notification pipeline (group_wait, group_interval, repeat_interval, send_resolved, the
   dedup rule of the notification log, inhibit_rules) is a SIMULATION of Alertmanager
   0.25's timing, not a run of it.
6. Scores: notifications per day on the healthy month; for each fault, the first NEW alert
   (firing in the faulted era but not at the same moment of the healthy era) and whether an
   expected alert was notified within the fault's bound.

tests/stack/test_alert_quality.py runs --short.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from exporter.analytics.config import AnalyticsConfig

ROOT = Path(__file__).resolve().parent.parent
RULES_GLOB = str(ROOT / "prometheus" / "rules" / "*.yml")
PROMETHEUS_CONFIG = ROOT / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
AMTOOL = "/usr/bin/amtool"

STEP = 60  # seconds: the simulated scrape and the evaluation step (see docs)
DAY = 86400
T0 = 1704067200  # 2024-01-01 00:00 UTC, a Monday
WARMUP_DAYS = 3  # the longest range in the shipped rules (ratio_rate3d)
LOCATIONS = ("warehouse", "store-1", "store-2")
CHANNELS = ("web", "store")
INTEGRATIONS = {"shopify": ("warehouse",), "pos": ("store-1", "store-2"), "wms": ("warehouse",)}
EXPORTER = {"job": "inventory-exporter", "instance": "exporter:9877"}
API = {"job": "inventory-api", "instance": "api:8080"}
JOBS = {
    "inventory-exporter": "exporter:9877",
    "inventory-api": "api:8080",
    "inventory-enhancer": "enhancer:9878",
    "alertmanager": "alertmanager:9093",
    "prometheus": "prometheus:9090",
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}


# ---- the fault catalogue -----------------------------------------------------------------


@dataclass
class Fault:
    name: str
    description: str
    duration: int  # seconds
    expected: tuple[str, ...]  # alertnames the runbooks name for this failure
    bound: int  # seconds from the fault's start to the expected alert's notification
    start: int = 0  # seconds from the era's month start (set by schedule_faults)


def fault_catalogue(short: bool) -> list[Fault]:
    h, m = 3600, 60
    long = 6 * h if short else 8 * h
    return [
        Fault(
            "api_outage",
            "inventory API process down: not scraped, health probe fails",
            30 * m,
            ("InventoryTargetDown", "InventoryAPIHealthCheckFailing"),
            5 * m,
        ),
        Fault(
            "error_burst",
            "25% of API requests answer 5xx",
            20 * m,
            ("InventoryAPIErrorBudgetBurn", "InventoryAPIHighErrorRatio"),
            10 * m,
        ),
        Fault(
            "stalled_sync",
            "shopify sync stops succeeding (reachable, fetch fine)",
            2 * h,
            ("InventoryIntegrationSyncStale",),
            20 * m,
        ),
        Fault(
            "drift",
            "wms stock drifts: accuracy 99.6% -> 95% over 90 min, mismatches grow",
            4 * h,
            ("InventoryIntegrationOutOfSync", "InventoryIntegrationStockMismatch"),
            1 * h,
        ),
        Fault(
            "bestseller_stockout",
            "the best-selling SKU of store-1 is out of stock",
            long,
            ("InventoryOutOfStock",),
            5 * m,
        ),
        Fault(
            "sku_run",
            "a run on one warehouse SKU: its stock is gone in half the window",
            long,
            ("InventoryDemandSurge", "InventoryLowStock", "InventoryBelowSafetyStock", "InventoryOutOfStock"),
            2 * h,
        ),
        Fault(
            "audit_gap",
            "a writer skips the audit log: one unlogged movement every 2 min",
            3 * h,
            ("InventoryAuditGap",),
            15 * m,
        ),
        Fault(
            "fulfilment_collapse",
            "the warehouse stops shipping web orders",
            long,
            ("InventoryFillRateCollapsed", "InventoryFulfillmentBelowTarget"),
            2 * h,
        ),
        Fault(
            "database_outage", "the inventory database refuses the exporter", 20 * m, ("InventoryDatabaseDown",), 5 * m
        ),
    ]


def schedule_faults(faults: list[Fault], days: int) -> None:
    """One fault per equal slot of the month, starting 10:00 into the slot's first day or
    2 h into the slot; a fault never overlaps the next slot."""
    slot = days * DAY // len(faults)
    for i, fault in enumerate(faults):
        offset = 10 * 3600 if slot >= fault.duration + 10 * 3600 + 3 * 3600 else 2 * 3600
        fault.start = i * slot + offset
        if fault.start + fault.duration > (i + 1) * slot:
            raise SystemExit(f"fault {fault.name} does not fit in its slot of {slot} s: use more --days")


# ---- the simulated shop ------------------------------------------------------------------


def day_profile(t: np.ndarray) -> np.ndarray:
    """Relative demand by time of day (peak mid-afternoon, quiet at night) and weekday."""
    hour = (t % DAY) / 3600.0
    daily = 0.15 + np.clip(np.sin((hour - 7.0) / 15.0 * np.pi), 0, None) ** 1.5
    weekday = ((t - T0) // DAY) % 7
    weekly = np.array([1.0, 0.95, 0.95, 1.0, 1.15, 1.3, 0.7])[weekday]
    return daily * weekly / 0.75


def window(t: np.ndarray, fault: Fault | None, era_start: int) -> np.ndarray:
    if fault is None:
        return np.zeros(len(t), dtype=bool)
    start = era_start + fault.start
    return (t >= start) & (t < start + fault.duration)


def simulate(
    era_start: int, minutes: int, skus: int, faults: dict[str, Fault], seed: int = 22
) -> dict[tuple[str, tuple[tuple[str, str], ...]], np.ndarray]:
    """Series (name, labels) -> values, one per minute from era_start; NaN = absent.
    faults: the injected faults by name (empty for the healthy era); same seed, same draws."""
    rng = np.random.default_rng(seed)
    t = era_start + STEP * np.arange(minutes, dtype=np.int64)
    prof = day_profile(t)
    out: dict[tuple[str, tuple[tuple[str, str], ...]], np.ndarray] = {}

    def put(name: str, labels: dict[str, str], values: np.ndarray) -> None:
        out[(name, tuple(sorted(labels.items())))] = values.astype(float)

    def w(name: str) -> np.ndarray:
        return window(t, faults.get(name), era_start)

    def dirt(n_events: int) -> np.ndarray:
        """n_events single-minute blips per 30 days at random minutes."""
        mask = np.zeros(minutes, dtype=bool)
        count = rng.poisson(n_events * minutes / (30 * 1440))
        mask[rng.integers(0, minutes, count)] = True
        return mask

    # -- up, health probe
    api_down = w("api_outage")
    for job, instance in JOBS.items():
        up = np.where(dirt(2), 0.0, 1.0)
        if job == "inventory-api":
            up[api_down] = 0
        put("up", {"job": job, "instance": instance}, up)
    probe_up = np.where(dirt(3), 0.0, 1.0)
    probe_up[api_down] = 0
    put("inventory_api_up", {**EXPORTER, "target": "http://api:8080/health"}, probe_up)
    probe_s = 0.02 + 0.03 * prof + rng.gamma(2.0, 0.01, minutes)
    probe_s[dirt(4)] = 3.0  # a slow probe now and then
    probe_s[api_down] = 0.001  # connection refused
    put("inventory_api_probe_duration_seconds", {**EXPORTER, "target": "http://api:8080/health"}, probe_s)

    # -- API traffic: requests by code, latency histogram
    requests = rng.poisson(600 * prof)
    p_error = np.full(minutes, 0.0003)
    p_error[dirt(3)] = 0.02  # a failed deploy minute
    p_error[w("error_burst")] = 0.25
    errors = rng.binomial(requests, p_error)
    not_found = rng.binomial(requests - errors, 0.02)
    ok = requests - errors - not_found
    median = 0.06 * (1 + 0.4 * prof)
    sigma = 0.8
    series: dict[tuple[str, tuple[tuple[str, str], ...]], np.ndarray] = {}
    base = {**API, "handler": "/api/stock", "method": "GET"}
    for code, n in (("200", ok), ("404", not_found), ("500", errors)):
        series[("inventory_api_requests_total", tuple(sorted({**base, "code": code}.items())))] = n.astype(float)
    for le in BUCKETS:
        z = (math.log(le) - np.log(median)) / sigma
        cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
        series[("inventory_api_request_duration_seconds_bucket", tuple(sorted({**base, "le": str(le)}.items())))] = (
            requests * cdf
        )
    series[("inventory_api_request_duration_seconds_bucket", tuple(sorted({**base, "le": "+Inf"}.items())))] = (
        requests.astype(float)
    )
    series[("inventory_api_request_duration_seconds_count", tuple(sorted(base.items())))] = requests.astype(float)
    series[("inventory_api_request_duration_seconds_sum", tuple(sorted(base.items())))] = (
        requests * median * math.exp(sigma**2 / 2)
    )
    restart = int(np.argmax(api_down)) + int(api_down.sum()) if api_down.any() else None
    for key, per_minute in series.items():
        counter = np.cumsum(per_minute)
        if restart is not None:  # the process restarts: its counters start again from 0
            counter[restart:] -= counter[restart - 1]
            counter[api_down] = np.nan
        out[key] = counter

    # -- stock: a per-SKU simulation at 15-minute steps
    stock_counts = simulate_stock(rng, era_start, minutes, skus, faults)
    for (name, location), values in stock_counts.items():
        put(name, {**EXPORTER, "location": location}, values)

    # -- orders and service level per channel
    collapse = w("fulfilment_collapse")
    since = np.zeros(minutes)
    if collapse.any():
        first = int(np.argmax(collapse))
        last = first + int(collapse.sum())
        since[first:last] = np.arange(last - first) * STEP
        # after shipping resumes the backlog clears over two hours
        tail = np.arange(minutes - last) * STEP
        since[last:] = np.clip(since[last - 1] * (1 - tail / 7200), 0, None)
    lost = np.minimum(since / DAY, 1.0)  # share of the trailing day's orders not shipped
    for channel, rate, level in (("web", 300, 0.975), ("store", 80, 0.99)):
        noise = ar1(rng, minutes, 0.999, 0.0004)
        hit = lost if channel == "web" else 0 * lost
        labels = {**EXPORTER, "channel": channel}
        put("inventory_order_fulfillment_ratio", labels, np.clip(level + noise, 0, 1) * (1 - hit))
        put("inventory_order_otif_ratio", labels, np.clip(level - 0.04 + 1.5 * noise, 0, 1) * (1 - hit))
        put("inventory_order_unit_fill_ratio", labels, np.clip(level + 0.5 * noise, 0, 1) * (1 - hit))
        put("inventory_orders_due_total", labels, np.cumsum(rng.poisson(rate / 1440 * prof)))
        put("inventory_backorder_oldest_age_seconds", labels, np.maximum(backorder_age(rng, t), since))

    # -- audit, data quality
    audit = np.full(minutes, 3.0)  # three movements from before go-live never got an audit row
    gap = w("audit_gap")
    if gap.any():
        first = int(np.argmax(gap))
        audit[first:] += np.minimum(np.arange(minutes - first), int(gap.sum())) // 2
    put("inventory_audit_unlogged_movements", EXPORTER, audit)
    for check, level, per_week in (("null_cost", 14, 2.0), ("negative_on_hand", 2, 1.0), ("unknown_sku", 0, 0.3)):
        steps = np.zeros(minutes)
        new = rng.poisson(per_week * minutes / (7 * 1440))
        steps[rng.integers(0, minutes, new)] = rng.integers(1, 4, new)
        put("inventory_data_quality_issues", {**EXPORTER, "check": check}, level + np.cumsum(steps))

    # -- integrations
    stalled, drifting = w("stalled_sync"), w("drift")
    for integration, locations in INTEGRATIONS.items():
        labels = {**EXPORTER, "integration": integration}
        put("inventory_integration_up", labels, np.where(dirt(2), 0.0, 1.0))
        put("inventory_integration_fetch_success", labels, np.ones(minutes))
        synced = np.ones(minutes, dtype=bool)
        for _ in range(rng.poisson(6 * minutes / (30 * 1440))):  # a few failed sync runs
            first = int(rng.integers(0, minutes))
            synced[first : first + int(rng.integers(2, 9))] = False
        if integration == "shopify":
            synced &= ~stalled
        last = np.where(synced, t - 7, np.nan).astype(float)
        last = forward_fill(last, float(t[0] - 60))
        put("inventory_integration_last_sync_success_timestamp_seconds", labels, last)
        accuracy = np.clip(0.996 + ar1(rng, minutes, 0.99, 0.0005), 0, 1)
        drift = np.zeros(minutes)
        if integration == "wms" and drifting.any():
            first = int(np.argmax(drifting))
            span = int(drifting.sum())
            ramp = np.minimum(np.arange(span) / 90.0, 1.0)
            drift[first : first + span] = ramp
        if integration == "shopify" and stalled.any():
            first = int(np.argmax(stalled))
            span = int(stalled.sum())
            drift[first : first + span] = np.minimum(np.arange(span) / 240.0, 1.0) * 0.5
        accuracy = accuracy - 0.046 * drift
        put("inventory_integration_accuracy_ratio", labels, accuracy)
        for location in locations:
            mismatch = rng.poisson(0.3, minutes).astype(float)
            for _ in range(rng.poisson(1.5 * minutes / (30 * 1440))):  # a bundle SKU counted differently
                first = int(rng.integers(0, minutes))
                mismatch[first : first + int(rng.integers(120, 600))] += 1
            mismatch += np.round(40 * drift)
            put("inventory_integration_stock_mismatch_skus", {**labels, "location": location}, mismatch)

    # -- the exporter itself, memory
    db_down = w("database_outage")
    put("inventory_exporter_collector_success", {**EXPORTER, "collector": "business"}, np.where(db_down, 0.0, 1.0))
    for collector in ("integrations", "api_probe", "analytics"):
        put("inventory_exporter_collector_success", {**EXPORTER, "collector": collector}, np.ones(minutes))
    for query in ("stock_levels", "orders", "audit"):
        put(
            "inventory_exporter_query_success",
            {**EXPORTER, "collector": "business", "query": query},
            np.where(db_down, 0.0, 1.0),
        )
    total = 16 * 2**30
    put("inventory_host_memory_total_bytes", {**EXPORTER, "host": "shop-1"}, np.full(minutes, float(total)))
    put(
        "inventory_host_memory_used_bytes",
        {**EXPORTER, "host": "shop-1"},
        total * np.clip(0.55 + 0.1 * prof + ar1(rng, minutes, 0.995, 0.003), 0, 1),
    )
    for job, rss in (("inventory-exporter", 120), ("inventory-api", 220), ("inventory-enhancer", 90)):
        put(
            "process_resident_memory_bytes",
            {"job": job, "instance": JOBS[job]},
            rss * 2**20 * (1 + 0.1 * prof + ar1(rng, minutes, 0.999, 0.003)),
        )

    # the database outage: the business collector publishes nothing but its failure
    if db_down.any():
        business = {
            "inventory_low_stock_skus",
            "inventory_out_of_stock_skus",
            "inventory_below_safety_stock_skus",
            "inventory_stockout_selling_skus",
            "inventory_stockout_demand_units_per_day",
            "inventory_stockout_risk_skus",
            "inventory_below_safety_stock_unordered_skus",
            "inventory_forecast_daily_demand_units",
            "inventory_order_fulfillment_ratio",
            "inventory_order_otif_ratio",
            "inventory_order_unit_fill_ratio",
            "inventory_orders_due_total",
            "inventory_backorder_oldest_age_seconds",
            "inventory_audit_unlogged_movements",
            "inventory_data_quality_issues",
        }
        for (name, _labels), values in out.items():
            if name in business:
                values[db_down] = np.nan
    return out


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """A slowly wandering AR(1) noise with stationary standard deviation sd."""
    shocks = rng.normal(0, sd * math.sqrt(1 - phi**2), n)
    values = np.empty(n)
    level = 0.0
    for i in range(n):
        level = phi * level + shocks[i]
        values[i] = level
    return values


def forward_fill(values: np.ndarray, first: float) -> np.ndarray:
    index = np.where(~np.isnan(values), np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    filled[np.isnan(filled)] = first
    return filled


def backorder_age(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Oldest backorder: one appears, waits 6-40 h for stock, is filled; the next appears."""
    age = np.zeros(len(t))
    i = 0
    while i < len(t):
        wait = int(rng.integers(6 * 60, 40 * 60))
        age[i : i + wait] = np.arange(min(wait, len(t) - i)) * STEP
        i += wait + int(rng.integers(0, 12 * 60))
    return age


def simulate_stock(
    rng: np.random.Generator,
    era_start: int,
    minutes: int,
    skus: int,
    faults: dict[str, Fault],
    surge: AnalyticsConfig | None = None,
) -> dict[tuple[str, str], np.ndarray]:
    """Per SKU and location: lognormal daily demand shaped by day_profile, lost sales when
    empty, a reorder when available <= reorder point delivered at 06:00 after a 3-6 day lead
    time; 1.5% dead items (never stocked: always out), 2% sell-down items (never reordered).
    Returns the three count gauges and the analytics collector's five action gauges per
    location, one value a minute."""
    step = 900
    steps = minutes * STEP // step + 1
    n_loc = len(LOCATIONS)
    scale = np.array([3.0, 1.0, 0.7])
    mu = rng.lognormal(0.0, 1.0, (skus, n_loc)) * scale  # units a day
    kind = rng.random((skus, n_loc))
    dead, selldown = kind < 0.015, (kind >= 0.015) & (kind < 0.035)
    mu[dead] = 0
    safety = np.ceil(3 * mu)
    rop = np.ceil(10 * mu)
    order_qty = np.ceil(14 * mu) + 1
    avail = rng.uniform(rop, rop + order_qty)
    avail[dead] = 0
    avail[selldown] = rng.uniform(0, rop[selldown] + 1)
    avail = np.floor(avail)
    arrival = np.full((skus, n_loc), np.inf)
    best = int(np.argmax(mu[:, 1]))
    run_sku = int(np.argsort(mu[:, 0])[skus // 2])
    t_steps = era_start + step * np.arange(steps)
    prof = day_profile(t_steps)
    counts = {
        name: np.zeros((steps, n_loc))
        for name in ("low", "out", "safety", "selling_out", "selling_units", "at_risk", "safety_unordered", "surge")
    }
    # The analytics collector's action gauges (exporter/collectors/analytics.py, action_masks):
    # only replenished SKU-locations count (a reorder point or purchase orders: not dead, not
    # sold down; sell-down items carry no reorder point, so they are never low stock); the forecast
    # is the true mean demand, the lead time its mean (3-6 days plus the wait for 06:00).
    replenished = ~dead & ~selldown
    lead_days = 5.0
    # The surge gauge, with the shipped analytics defaults unless `surge` says otherwise
    # (benchmarks/surge_sweep.py): units sold over the last surge_window (whole steps of 15
    # minutes). Every unit is a customer here, so surge_min_sales holds whenever
    # surge_min_units does.
    surge = surge or AnalyticsConfig()
    surge_steps, surge_days = int(surge.surge_window) // step, surge.surge_window / DAY
    sold_ring = np.zeros((surge_steps, skus, n_loc))
    last_sale = np.full((skus, n_loc), -np.inf)
    stockout = faults.get("bestseller_stockout")
    run = faults.get("sku_run")
    for i in range(steps):
        now = t_steps[i]
        demand = rng.poisson(mu * (prof[i] * step / DAY))
        if run is not None and era_start + run.start <= now < era_start + run.start + run.duration:
            demand[run_sku, 0] += math.ceil((rop[run_sku, 0] + order_qty[run_sku, 0]) / (run.duration / step / 2))
        last_sale[(demand > 0) & (avail > 0)] = now
        sold_ring[i % surge_steps] = np.minimum(demand, avail)
        avail = np.maximum(avail - demand, 0)
        arrived = arrival <= now
        avail[arrived] += order_qty[arrived]
        arrival[arrived] = np.inf
        reorder = (avail <= rop) & np.isinf(arrival) & ~dead & ~selldown
        if reorder.any():
            lead = rng.integers(3, 7, reorder.sum()) * DAY
            due = now + lead
            arrival[reorder] = due - (due % DAY) + DAY + 6 * 3600
        if stockout is not None:
            start = era_start + stockout.start
            if start <= now < start + stockout.duration:
                avail[best, 1] = 0
                arrival[best, 1] = start + stockout.duration  # the emergency delivery
        active = ~dead
        counts["out"][i] = ((avail <= 0) & (dead | (mu > 0))).sum(axis=0)
        counts["low"][i] = ((avail > 0) & (avail <= rop) & active & ~selldown).sum(axis=0)
        counts["safety"][i] = ((avail < safety) & active).sum(axis=0)
        selling_out = replenished & (avail <= 0) & (now - last_sale < 7 * DAY)
        counts["selling_out"][i] = selling_out.sum(axis=0)
        counts["selling_units"][i] = np.where(selling_out, mu, 0.0).sum(axis=0)
        unordered = replenished & np.isinf(arrival) & (mu > 0) & (avail > 0)
        counts["at_risk"][i] = (unordered & (avail <= mu * lead_days)).sum(axis=0)
        counts["safety_unordered"][i] = (unordered & (avail < safety)).sum(axis=0)
        recent = sold_ring.sum(axis=0)
        surging = (
            (recent >= surge.surge_min_units)
            & (recent >= surge.surge_factor * mu * surge_days)
            & (avail < recent / surge_days * surge.surge_cover / DAY)
        )
        counts["surge"][i] = (replenished & (avail > 0) & surging).sum(axis=0)
    per_minute = np.arange(minutes) * STEP // step
    names = {
        "low": "inventory_low_stock_skus",
        "out": "inventory_out_of_stock_skus",
        "safety": "inventory_below_safety_stock_skus",
        "selling_out": "inventory_stockout_selling_skus",
        "selling_units": "inventory_stockout_demand_units_per_day",
        "at_risk": "inventory_stockout_risk_skus",
        "safety_unordered": "inventory_below_safety_stock_unordered_skus",
        "surge": "inventory_demand_surge_skus",
    }
    out = {(names[key], location): counts[key][per_minute, j] for key in counts for j, location in enumerate(LOCATIONS)}
    for j, location in enumerate(LOCATIONS):  # the forecast is the true mean demand
        out[("inventory_forecast_daily_demand_units", location)] = np.full(minutes, float(mu[:, j].sum()))
    return out


SeriesData = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[np.ndarray, np.ndarray]]


def era_series(eras: list[tuple[int, dict]]) -> SeriesData:
    """The eras' minute arrays as (timestamps, values) per series, absent samples dropped."""
    out: dict[tuple, tuple[list, list]] = {}
    for era_start, series in eras:
        for key, values in series.items():
            keep = ~np.isnan(values)
            stamps = (era_start + STEP * np.arange(len(values)))[keep]
            have = out.setdefault(key, ([], []))
            have[0].append(stamps)
            have[1].append(values[keep])
    return {key: (np.concatenate(s), np.concatenate(v)) for key, (s, v) in out.items()}


def backfill(tsdb: Path, workdir: Path, data: SeriesData) -> int:
    """promtool tsdb create-blocks-from openmetrics, one input file per 2 h block range:
    promtool 2.42 re-reads its whole input for every 2 h block it writes, so one big file
    would cost (blocks x file). All series are typed gauge: promtool keeps the names."""
    block = 7200
    families: dict[str, list[tuple[tuple, np.ndarray, np.ndarray]]] = defaultdict(list)
    ranges: set[int] = set()
    for (name, labels), (stamps, values) in data.items():
        order = np.argsort(stamps, kind="stable")
        families[name].append((labels, stamps[order], values[order]))
        ranges.update(np.unique(stamps // block).tolist())
    samples = 0
    running: list[subprocess.Popen[bytes]] = []
    for index, r in enumerate(sorted(ranges)):
        path = workdir / f"backfill-{index}.om.txt"
        with path.open("w") as out:
            for name, entries in families.items():
                out.write(f"# TYPE {name} gauge\n")
                for labels, stamps, values in entries:
                    lo, hi = np.searchsorted(stamps, [r * block, (r + 1) * block])
                    if lo == hi:
                        continue
                    prefix = name + "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels) + "} "
                    lines = [f"{prefix}{v!r} {s}" for v, s in zip(values[lo:hi].tolist(), stamps[lo:hi].tolist())]
                    samples += len(lines)
                    out.write("\n".join(lines) + "\n")
            out.write("# EOF\n")
        running.append(
            subprocess.Popen(
                [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(tsdb)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        )
        while len(running) >= 2 or (running and index == len(ranges) - 1):
            process = running.pop(0)
            if process.wait() != 0:
                raise RuntimeError("promtool create-blocks-from openmetrics failed")
        for old in workdir.glob("backfill-*.om.txt"):
            if int(old.name.split("-")[1].split(".")[0]) < index - 2:
                old.unlink()
    for process in running:
        process.wait()
    for old in workdir.glob("backfill-*.om.txt"):
        old.unlink()
    return samples


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- a real Prometheus over the backfilled TSDB ------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tsdb = directory / "tsdb"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = self.directory / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n")
        log = open(self.directory / "prometheus.log", "ab")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tsdb}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
                "--query.max-samples=200000000",
                "--query.timeout=10m",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited: " + (self.directory / "prometheus.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def query_range(self, expr: str, start: int, end: int, step: int) -> list[dict[str, Any]]:
        """query_range in chunks of at most 10,000 steps; results merged by label set."""
        merged: dict[tuple, dict[str, Any]] = {}
        chunk = 10000 * step
        t = start
        while t <= end:
            stop = min(end, t + chunk - step)
            data = urllib.parse.urlencode({"query": expr, "start": t, "end": stop, "step": step}).encode()
            with urllib.request.urlopen(f"{self.url}/api/v1/query_range", data=data, timeout=900) as response:
                body = json.load(response)
            for result in body["data"]["result"]:
                key = tuple(sorted(result["metric"].items()))
                merged.setdefault(key, {"metric": result["metric"], "values": []})["values"].extend(result["values"])
            t = stop + step
        return list(merged.values())


# ---- the shipped rules -------------------------------------------------------------------

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan", "start", "end", "atan2",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects (functions, keywords and labels left out)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if match.group(2) or match.group(1).lower() in PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", match.group(1)):
            continue
        names.add(match.group(1))
    return names


def parse_duration(text: str | None) -> int:
    if not text:
        return 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text)):
        total += int(number) * units[unit]
    return int(total)


@dataclass
class Rule:
    group: str
    interval: int
    data: dict[str, Any]

    @property
    def expr(self) -> str:
        return str(self.data["expr"])


def load_rules() -> tuple[list[Rule], list[Rule], int]:
    global_interval = parse_duration(
        (yaml.safe_load(PROMETHEUS_CONFIG.read_text()).get("global") or {}).get("evaluation_interval", "1m")
    )
    recording, alerting = [], []
    for path in sorted(glob.glob(RULES_GLOB)):
        for group in (yaml.safe_load(Path(path).read_text()) or {}).get("groups", []):
            interval = parse_duration(group.get("interval")) or global_interval
            for data in group.get("rules", []):
                rule = Rule(group["name"], interval, data)
                (alerting if "alert" in data else recording).append(rule)
    return recording, alerting, global_interval


def recording_levels(recording: list[Rule], alerting: list[Rule]) -> list[list[Rule]]:
    """The recording rules the alerts need, in dependency levels (level n reads levels < n)."""
    by_name: dict[str, list[Rule]] = defaultdict(list)
    for rule in recording:
        by_name[rule.data["record"]].append(rule)
    needed: set[str] = set()
    todo = [name for rule in alerting for name in metric_names(rule.expr) if name in by_name]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(n for rule in by_name[name] for n in metric_names(rule.expr) if n in by_name)
    level: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in level:
            parents = [n for rule in by_name[name] for n in metric_names(rule.expr) if n in by_name and n not in seen]
            level[name] = 1 + max((depth(n, (*seen, name)) for n in parents), default=-1)
        return level[name]

    levels: list[list[Rule]] = []
    for name in sorted(needed):
        d = depth(name)
        while len(levels) <= d:
            levels.append([])
        levels[d].extend(by_name[name])
    return levels


def raw_families(recording: list[Rule], alerting: list[Rule]) -> set[str]:
    records = {rule.data["record"] for rule in recording}
    names: set[str] = set()
    for rule in [*recording, *alerting]:
        names |= metric_names(rule.expr)
    return names - records


def expand(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), str(template))


@dataclass
class AlertInterval:
    labels: dict[str, str]
    active_at: int  # StartsAt as Prometheus sends it
    fired_at: int
    resolved_at: float  # math.inf: still firing at the era's end

    @property
    def fp(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))


def evaluate_alert(prom: Prometheus, rule: Rule, start: int, end: int, step: int) -> list[AlertInterval]:
    """The rule manager's state machine over query_range results at `step`."""
    hold = parse_duration(rule.data.get("for"))
    keep = parse_duration(rule.data.get("keep_firing_for"))
    present: dict[tuple, set[int]] = defaultdict(set)
    labels_of: dict[tuple, dict[str, str]] = {}
    for result in prom.query_range(rule.expr, start, end, step):
        labels = {k: v for k, v in result["metric"].items() if k != "__name__"}
        for k, v in (rule.data.get("labels") or {}).items():
            labels[k] = expand(v, labels)
        labels["alertname"] = rule.data["alert"]
        key = tuple(sorted(labels.items()))
        labels_of[key] = labels
        present[key].update(int(s) for s, _ in result["values"])
    intervals = []
    for key, stamps in present.items():
        active: int | None = None
        fired: int | None = None
        last_true = 0
        for t in range(start, end + 1, step):
            if t in stamps:
                last_true = t
                if active is None:
                    active = t
                if fired is None and t - active >= hold:
                    fired = t
            elif active is not None:
                if fired is not None and keep and t - last_true < keep:
                    continue
                if fired is not None:
                    intervals.append(AlertInterval(labels_of[key], active, fired, t))
                active = fired = None
        if fired is not None and active is not None:
            intervals.append(AlertInterval(labels_of[key], active, fired, math.inf))
    return intervals


# ---- Alertmanager: routes (checked with amtool), inhibition, notification timing ------------


def parse_matcher(text: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"\s*([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", text)
    if not match:
        raise ValueError(f"cannot parse matcher {text!r}")
    name, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = json.loads(value)
    return name, op, value


def route_matchers(route: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    out = [parse_matcher(m) for m in route.get(prefix + "matchers", [])]
    out += [(k, "=", str(v)) for k, v in (route.get(prefix + "match") or {}).items()]
    out += [(k, "=~", str(v)) for k, v in (route.get(prefix + "match_re") or {}).items()]
    return out


def matches(matchers: list[tuple[str, str, str]], labels: dict[str, str]) -> bool:
    for name, op, value in matchers:
        have = labels.get(name, "")
        ok = {
            "=": have == value,
            "!=": have != value,
            "=~": re.fullmatch(value, have) is not None,
            "!~": re.fullmatch(value, have) is None,
        }[op]
        if not ok:
            return False
    return True


@dataclass
class RouteOpts:
    path: str
    receiver: str
    group_by: tuple[str, ...] | None  # None: "...", all labels
    group_wait: int
    group_interval: int
    repeat_interval: int


def match_routes(route: dict[str, Any], labels: dict[str, str], parent: RouteOpts | None, path: str) -> list[RouteOpts]:
    group_by = route.get("group_by")
    opts = RouteOpts(
        path=path,
        receiver=route.get("receiver") or (parent.receiver if parent else ""),
        group_by=(None if "..." in group_by else tuple(group_by))
        if group_by is not None
        else (parent.group_by if parent else ()),
        group_wait=parse_duration(route.get("group_wait")) if "group_wait" in route else (
            parent.group_wait if parent else 30),
        group_interval=parse_duration(route.get("group_interval")) if "group_interval" in route else (
            parent.group_interval if parent else 300),
        repeat_interval=parse_duration(route.get("repeat_interval")) if "repeat_interval" in route else (
            parent.repeat_interval if parent else 4 * 3600),
    )  # fmt: skip
    found: list[RouteOpts] = []
    for i, child in enumerate(route.get("routes") or []):
        if not matches(route_matchers(child), labels):
            continue
        found += match_routes(child, labels, opts, f"{path}/{i}")
        if not child.get("continue", False):
            break
    return found or [opts]


class Alertmanager:
    def __init__(self) -> None:
        self.config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
        self.send_resolved = {}
        for receiver in self.config.get("receivers", []):
            flags = [c.get("send_resolved", True) for key, configs in receiver.items() if key.endswith("_configs")
                     for c in configs]  # fmt: skip
            self.send_resolved[receiver["name"]] = any(flags)
        self.inhibit = [
            (route_matchers(r, "source_"), route_matchers(r, "target_"), tuple(r.get("equal", [])))
            for r in self.config.get("inhibit_rules", [])
        ]
        self.amtool_checked = 0
        self.amtool_disagreements: list[str] = []

    def routes(self, labels: dict[str, str]) -> list[RouteOpts]:
        return match_routes(self.config["route"], labels, None, "root")

    def check_with_amtool(self, label_sets: list[dict[str, str]]) -> None:
        for labels in label_sets:
            args = [f"{k}={v}" for k, v in sorted(labels.items())]
            result = subprocess.run(
                [AMTOOL, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *args],
                capture_output=True,
                text=True,
                check=False,
            )
            amtool = result.stdout.strip().split(",") if result.stdout.strip() else []
            ours = [opts.receiver for opts in self.routes(labels)]
            self.amtool_checked += 1
            if [r.strip() for r in amtool] != ours:
                self.amtool_disagreements.append(f"{labels}: amtool {amtool} vs simulated {ours}")


@dataclass
class Notification:
    at: int
    receiver: str
    firing: list[dict[str, str]]
    resolved: list[dict[str, str]]

    @property
    def severity(self) -> str:
        alerts = self.firing or self.resolved
        return max((a.get("severity", "none") for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 0))

    @property
    def alertnames(self) -> set[str]:
        return {a["alertname"] for a in self.firing or self.resolved}


def simulate_notifications(am: Alertmanager, intervals: list[AlertInterval], horizon: int) -> list[Notification]:
    """Alertmanager 0.25's dispatcher, aggregation groups, inhibitor and dedup stage."""
    # inhibition: per (rule, target alert), the time intervals some source alert is firing
    sources: list[list[AlertInterval]] = [[a for a in intervals if matches(src, a.labels)] for src, _, _ in am.inhibit]
    muted_cache: dict[tuple, list[tuple[float, float]]] = {}

    def muted_spans(alert: AlertInterval) -> list[tuple[float, float]]:
        if alert.fp not in muted_cache:
            spans = []
            for (src, tgt, equal), candidates in zip(am.inhibit, sources):
                if not matches(tgt, alert.labels):
                    continue
                two_sided = matches(src, alert.labels)
                for s in candidates:
                    if any(s.labels.get(k, "") != alert.labels.get(k, "") for k in equal):
                        continue
                    if two_sided and matches(tgt, s.labels):
                        continue
                    spans.append((float(s.fired_at), s.resolved_at))
            spans.sort()
            merged: list[tuple[float, float]] = []
            for a, b in spans:
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            muted_cache[alert.fp] = merged
        return muted_cache[alert.fp]

    def inhibited(alert: AlertInterval, t: int) -> bool:
        spans = muted_spans(alert)
        i = bisect_right(spans, (t, math.inf)) - 1
        return i >= 0 and spans[i][0] <= t < spans[i][1]

    groups: dict[tuple, tuple[RouteOpts, list[AlertInterval]]] = {}
    for alert in intervals:
        for opts in am.routes(alert.labels):
            names = sorted(alert.labels) if opts.group_by is None else opts.group_by
            key = (opts.path, opts.receiver, tuple((n, alert.labels.get(n, "")) for n in names))
            groups.setdefault(key, (opts, []))[1].append(alert)

    notifications: list[Notification] = []
    for opts, alerts in groups.values():
        alerts.sort(key=lambda a: a.fired_at)
        send_resolved = am.send_resolved.get(opts.receiver, True)
        entry: tuple[set, set, int] | None = None  # the notification log survives the group
        i = 0
        members: dict[tuple, AlertInterval] = {}
        next_flush: float | None = None
        flushed = False
        while True:
            if not members:
                if i >= len(alerts):
                    break
                first = alerts[i]
                members = {first.fp: first}
                i += 1
                next_flush = max(first.fired_at, first.active_at + opts.group_wait)
                flushed = False
            assert next_flush is not None
            while i < len(alerts) and alerts[i].fired_at <= next_flush:
                alert = alerts[i]
                members[alert.fp] = alert
                if not flushed and alert.active_at + opts.group_wait <= alert.fired_at:
                    next_flush = min(next_flush, alert.fired_at)
                i += 1
            t = int(next_flush)
            if t > horizon:
                break
            firing = [a for a in members.values() if a.resolved_at > t and not inhibited(a, t)]
            resolved = [a for a in members.values() if a.resolved_at <= t and not inhibited(a, t)]
            firing_fps, resolved_fps = {a.fp for a in firing}, {a.fp for a in resolved}
            if entry is None:
                update = bool(firing)
            elif not firing_fps <= entry[0]:
                update = True
            elif not firing:
                update = bool(entry[0])
            elif send_resolved and not resolved_fps <= entry[1]:
                update = True
            else:
                update = entry[2] <= t - opts.repeat_interval
            if update:
                if firing or send_resolved:
                    notifications.append(
                        Notification(t, opts.receiver, [a.labels for a in firing],
                                     [a.labels for a in resolved] if send_resolved else [])
                    )  # fmt: skip
                entry = (firing_fps, resolved_fps, t)
            flushed = True
            for fp in [fp for fp, a in members.items() if a.resolved_at <= t]:
                del members[fp]
            next_flush = t + opts.group_interval
    notifications.sort(key=lambda n: n.at)
    return notifications


# ---- the benchmark -----------------------------------------------------------------------


@dataclass
class Era:
    name: str
    start: int  # first sample (warm-up included)
    month_start: int
    end: int  # last evaluation
    faults: dict[str, Fault] = field(default_factory=dict)


def run(days: int, skus: int, short: bool, workdir: Path, log: Any = sys.stderr) -> dict[str, Any]:
    began = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=log, flush=True)

    warmup = 1 if short else WARMUP_DAYS
    length = (warmup + days) * DAY
    weeks = math.ceil((warmup + days + WARMUP_DAYS + 1) / 7)
    faults = fault_catalogue(short)
    schedule_faults(faults, days)
    healthy = Era("healthy", T0, T0 + warmup * DAY, T0 + length - STEP)
    second = T0 + weeks * 7 * DAY
    faulted = Era("faulted", second, second + warmup * DAY, second + length - STEP, {f.name: f for f in faults})
    for fault in faults:  # fault starts are relative to the month's start
        fault.start += warmup * DAY
    eras = [healthy, faulted]

    recording, alerting, eval_interval = load_rules()
    step = max(STEP, eval_interval)
    levels = recording_levels(recording, alerting)
    say(f"{len(alerting)} alerting rules, {sum(map(len, levels))} recording rules in {len(levels)} levels")

    minutes = length // STEP
    simulated = {era.name: simulate(era.start, minutes, skus, era.faults) for era in eras}
    families = {name for name, _ in simulated["healthy"]}
    wanted = raw_families(recording, alerting)
    missing = sorted(wanted - families)
    series_count = len(simulated["healthy"])
    data = era_series([(era.start, simulated[era.name]) for era in eras])
    del simulated
    say(f"simulated {series_count} series x 2 eras; backfilling")
    prom = Prometheus(workdir)
    samples = backfill(prom.tsdb, workdir, data)
    del data
    say(f"{samples} samples backfilled")
    prom.start()
    try:
        for n, level in enumerate(levels):
            results: dict[tuple, tuple[list, list]] = {}
            for rule in level:
                began_rule = time.monotonic()
                for era in eras:
                    # a recording rule's output starts at the era's first sample
                    for result in prom.query_range(rule.expr, era.start, era.end, max(STEP, rule.interval)):
                        labels = {k: v for k, v in result["metric"].items() if k != "__name__"}
                        labels.update({k: str(v) for k, v in (rule.data.get("labels") or {}).items()})
                        points = [(int(t), float(v)) for t, v in result["values"] if v not in ("NaN", "+Inf", "-Inf")]
                        have = results.setdefault((rule.data["record"], tuple(sorted(labels.items()))), ([], []))
                        have[0].extend(t for t, _ in points)
                        have[1].extend(v for _, v in points)
                say(f"  {rule.data['record']}: {time.monotonic() - began_rule:.1f}s")
            prom.stop()
            count = backfill(
                prom.tsdb, workdir, {k: (np.array(t, dtype=np.int64), np.array(v)) for k, (t, v) in results.items()}
            )
            prom.start()
            say(f"recording level {n}: {len(level)} rules, {count} samples backfilled")

        intervals: dict[str, list[AlertInterval]] = {}
        for era in eras:
            found: list[AlertInterval] = []
            for rule in alerting:
                found += evaluate_alert(prom, rule, era.start, era.end, max(step, rule.interval))
            intervals[era.name] = found
        say("alerting rules evaluated")
    finally:
        prom.stop()

    am = Alertmanager()
    label_sets = {a.fp: a.labels for era in eras for a in intervals[era.name]}
    am.check_with_amtool(list(label_sets.values()))
    notified = {era.name: simulate_notifications(am, intervals[era.name], era.end) for era in eras}
    say(f"routes checked with amtool for {am.amtool_checked} label sets; notifications simulated")

    report: dict[str, Any] = {
        "command": "python -m benchmarks.alert_quality " + (f"--short --days {days}" if short else f"--days {days}"),
        "days": days,
        "skus": skus,
        "locations": len(LOCATIONS),
        "series": series_count,
        "samples": samples,
        "evaluation_step_seconds": step,
        "alerting_rules": len(alerting),
        "recording_rules_backfilled": sum(map(len, levels)),
        "families_not_synthesized": missing,
        "amtool_label_sets_checked": am.amtool_checked,
        "amtool_disagreements": am.amtool_disagreements,
        "healthy": score_healthy(healthy, notified["healthy"], intervals["healthy"], days),
        "faulted_notifications": sum(1 for n in notified["faulted"] if n.at >= faulted.month_start),
        "faults": score_faults(faults, healthy, faulted, intervals, notified),
        "runtime_seconds": round(time.monotonic() - began, 1),
    }
    return report


def score_healthy(era: Era, notifications: list[Notification], intervals: list[AlertInterval], days: int) -> dict:
    month = [n for n in notifications if n.at >= era.month_start]
    per_day = Counter((n.at - era.month_start) // DAY for n in month)
    daily = [per_day.get(d, 0) for d in range(days)]
    by_alert: Counter[str] = Counter()
    for n in month:
        by_alert.update(n.alertnames)
    firing_at_end = sorted({a.labels["alertname"] for a in intervals if a.resolved_at == math.inf})
    return {
        "notifications": len(month),
        "per_day_median": statistics.median(daily) if daily else 0,
        "per_day_max": max(daily, default=0),
        "per_day": daily,
        "by_severity": dict(Counter(n.severity for n in month).most_common()),
        "by_receiver": dict(Counter(n.receiver for n in month).most_common()),
        "resolved_only": sum(1 for n in month if not n.firing),
        "top_alerts": by_alert.most_common(10),
        "alerts_firing_at_month_end": firing_at_end,
        "goal_met": max(daily, default=0) <= 1 and all(n.severity in ("info", "warning") for n in month),
    }


def score_faults(
    faults: list[Fault],
    healthy: Era,
    faulted: Era,
    intervals: dict[str, list[AlertInterval]],
    notified: dict[str, list[Notification]],
) -> list[dict[str, Any]]:
    offset = faulted.start - healthy.start
    baseline: dict[tuple, list[AlertInterval]] = defaultdict(list)
    for a in intervals["healthy"]:
        baseline[a.fp].append(a)
    rule_names = {a.get("alert") for a in _alert_rules()}
    runbook = RUNBOOKS.read_text() if RUNBOOKS.exists() else ""

    def firing_in_healthy(alert: AlertInterval, t: int) -> bool:
        return any(b.fired_at <= t - offset < b.resolved_at for b in baseline.get(alert.fp, []))

    rows = []
    for fault in faults:
        start = faulted.start + fault.start
        stop = start + fault.duration
        new = sorted(
            (a for a in intervals["faulted"]
             if start <= a.fired_at <= stop + fault.bound
             and a.labels.get("severity") != "info" and not firing_in_healthy(a, a.fired_at)),
            key=lambda a: a.fired_at,
        )  # fmt: skip
        new_fps = {a.fp for a in new}
        first_notified: dict[tuple, int] = {}
        for n in notified["faulted"]:
            if start <= n.at <= stop + fault.bound:
                for labels in n.firing:
                    fp = tuple(sorted(labels.items()))
                    if fp in new_fps:
                        first_notified.setdefault(fp, n.at)
        expected_new = [a for a in new if a.labels["alertname"] in fault.expected]
        expected_notified = sorted(
            ((first_notified[a.fp], a) for a in expected_new if a.fp in first_notified), key=lambda pair: pair[0]
        )
        masked = sorted(
            {a.labels["alertname"] for a in intervals["faulted"]
             if a.labels["alertname"] in fault.expected and a.fired_at <= start < a.resolved_at}
        )  # fmt: skip
        row: dict[str, Any] = {
            "fault": fault.name,
            "description": fault.description,
            "start_offset": fmt_offset(fault.start - (faulted.month_start - faulted.start)),
            "duration_seconds": fault.duration,
            "expected": list(fault.expected),
            "expected_missing_from_rules": [n for n in fault.expected if n not in rule_names],
            "expected_missing_from_runbooks": [n for n in fault.expected if f"### {n}" not in runbook],
            "bound_seconds": fault.bound,
            "first_new_alert": new[0].labels["alertname"] if new else None,
            "first_new_alert_delay_seconds": new[0].fired_at - start if new else None,
            "new_alerts": sorted({a.labels["alertname"] for a in new}),
            "expected_already_firing_at_start": masked,
            "caught": False,
            "caught_by": None,
            "fired_delay_seconds": None,
            "notified_delay_seconds": None,
        }
        if expected_new:
            row["fired_delay_seconds"] = expected_new[0].fired_at - start
        if expected_notified:
            at, alert = expected_notified[0]
            row["notified_delay_seconds"] = at - start
            row["caught_by"] = alert.labels["alertname"]
            row["caught"] = at - start <= fault.bound
        rows.append(row)
    return rows


def _alert_rules() -> list[dict[str, Any]]:
    return [rule.data for rule in load_rules()[1]]


def fmt_offset(seconds: int) -> str:
    return f"day {seconds // DAY + 1} {seconds % DAY // 3600:02d}:{seconds % 3600 // 60:02d}"


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def render(report: dict[str, Any]) -> str:
    h = report["healthy"]
    lines = [
        f"Alert quality: {report['days']} simulated days, {report['skus']} SKUs x {report['locations']} locations, "
        f"{report['series']} series, {report['samples']} samples, "
        f"evaluated every {report['evaluation_step_seconds']} s "
        f"by a real Prometheus; {report['alerting_rules']} alerting rules, "
        f"{report['recording_rules_backfilled']} recording rules backfilled.",
        f"Routes checked with amtool for {report['amtool_label_sets_checked']} label sets; "
        f"disagreements: {len(report['amtool_disagreements'])}.",
    ]
    if report["families_not_synthesized"]:
        lines.append("Families the rules read that the simulator does not make: "
                     + ", ".join(report["families_not_synthesized"]))  # fmt: skip
    for line in report["amtool_disagreements"]:
        lines.append(f"  amtool disagrees: {line}")
    lines += [
        "",
        f"Healthy month: {h['notifications']} notifications, per day median {h['per_day_median']}, "
        f"max {h['per_day_max']} (goal: <= 1 a day, info or warning only: {'met' if h['goal_met'] else 'NOT met'})",
        "  by severity: " + ", ".join(f"{k} {v}" for k, v in h["by_severity"].items()),
        "  by receiver: " + ", ".join(f"{k} {v}" for k, v in h["by_receiver"].items()),
        f"  of which resolved-only: {h['resolved_only']}",
        "  per day: " + " ".join(str(v) for v in h["per_day"]),
        "  noisiest alerts (notifications): " + ", ".join(f"{name} {count}" for name, count in h["top_alerts"]),
        "  still firing at the month's end: " + (", ".join(h["alerts_firing_at_month_end"]) or "none"),
        "",
        f"Faulted month: {report['faulted_notifications']} notifications.",
        "",
        f"{'fault':<20} {'starts':<13} {'lasts':>6} {'bound':>6} {'caught':<6} {'notified':>8} {'fired':>8}  "
        "caught by / first new alert / expected",
    ]
    for row in report["faults"]:
        expected = "|".join(row["expected"])
        note = row["caught_by"] or "-"
        extra = f"first new: {row['first_new_alert'] or 'none'}"
        if row["first_new_alert_delay_seconds"] is not None:
            extra += f" after {fmt_seconds(row['first_new_alert_delay_seconds'])}"
        if row["expected_already_firing_at_start"]:
            extra += "; already firing at start: " + ",".join(row["expected_already_firing_at_start"])
        if row["expected_missing_from_rules"]:
            extra += "; no such rule: " + ",".join(row["expected_missing_from_rules"])
        lines.append(
            f"{row['fault']:<20} {row['start_offset']:<13} {fmt_seconds(row['duration_seconds']):>6} "
            f"{fmt_seconds(row['bound_seconds']):>6} {'yes' if row['caught'] else 'NO':<6} "
            f"{fmt_seconds(row['notified_delay_seconds']):>8} {fmt_seconds(row['fired_delay_seconds']):>8}  "
            f"{note} / {extra} / expected {expected}"
        )
    caught = sum(1 for row in report["faults"] if row["caught"])
    lines += [
        "",
        f"Caught within bound: {caught} of {len(report['faults'])} faults. Runtime {report['runtime_seconds']} s.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="simulated days (default 30, --short 3)")
    parser.add_argument("--skus", type=int, default=None, help="SKUs per location (default 2000, --short 300)")
    parser.add_argument("--short", action="store_true", help="3 days, 300 SKUs: the make test form")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (TSDB, logs)")
    args = parser.parse_args(argv)
    days = args.days or (3 if args.short else 30)
    skus = args.skus or (300 if args.short else 2000)
    for binary in (PROMETHEUS, PROMTOOL, AMTOOL):
        if not Path(binary).exists():
            print(f"{binary} is missing: install the prometheus and prometheus-alertmanager packages", file=sys.stderr)
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="alert-quality-"))
    try:
        report = run(days, skus, args.short, workdir)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
