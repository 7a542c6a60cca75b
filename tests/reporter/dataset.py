"""Known series over two past weeks, and Prometheus's arithmetic redone in plain Python.

Timeline (UTC): the current week is [B, E), the previous week [A, B); E is the last
Monday 00:00 UTC at least 3 hours ago (blocks must be older than Prometheus's head).
Counters are sampled every 2 minutes, gauges every 5, ALERTS every minute, all 30 s after the minute,
so no sample ever sits on a period boundary.

Built in on purpose:
- every figure differs between the two weeks (deltas);
- the business gauges have a gap: no samples on day B+4d (a daily report of that
  day says "no data", and the weekly figures use only the samples that exist);
- the forecast sums exist only in the previous week ("no data" now, never 0).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

DAY, HOUR, MINUTE, WEEK = 86400, 3600, 60, 7 * 86400
LOOKBACK = 300


def _last_monday(now: float) -> int:
    day = int((now - 3 * HOUR) // DAY) * DAY
    # 1970-01-01 was a Thursday: day number 4 is a Monday
    while (day // DAY - 4) % 7 != 0:
        day -= DAY
    return day


E = _last_monday(time.time())
B = E - WEEK
A = B - WEEK
START = A - 2 * HOUR
GAP = (B + 4 * DAY, B + 5 * DAY)  # business gauges missing
SPIKES = {
    "prev": (A + 2 * DAY + 10 * HOUR, A + 2 * DAY + 11 * HOUR),
    "cur": (B + 3 * DAY + 14 * HOUR, B + 3 * DAY + 15 * HOUR),
}

COUNTER_TIMES = list(range(START + 30, E, 2 * MINUTE))
ALERT_TIMES = list(range(START + 30, E, MINUTE))  # one sample per rule evaluation (60 s)
GAUGE_TIMES = list(range(START + 30, E, 5 * MINUTE))

LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
# requests per second falling in each bucket (not cumulative)
BUCKET_RATES = {
    "prev": [0, 0, 1, 3, 4, 1, 0.6, 0.3, 0.1, 0, 0, 0],
    "cur": [0, 0, 0.5, 2, 3, 2, 1.5, 0.6, 0.3, 0.1, 0, 0],
}
OK_RATE = {"prev": 9.995, "cur": 11.976}
ERR_RATE = {"prev": 0.005, "cur": 0.024}
SPIKE_EXTRA = {"prev": 10.0, "cur": 30.0}
ALERT_EPISODES = {  # (alertname, severity, with ALERTS_FOR_STATE): [(firing start, end)]
    ("InventoryAPIHighErrorRatio", "warning", True): [
        (B + DAY, B + DAY + 30 * MINUTE),
        (B + 3 * DAY, B + 3 * DAY + HOUR),
    ],
    ("InventoryExporterDown", "critical", False): [(B + 2 * DAY, B + 2 * DAY + 10 * MINUTE)],
    ("InventoryLowStock", "warning", True): [(A + 3 * DAY, A + 3 * DAY + 20 * MINUTE)],
}
FAILED_SYNCS = {
    "shopify": [A + 2 * DAY, A + 5 * DAY, B + DAY, B + 2 * DAY, B + 2 * DAY + HOUR, B + 4 * DAY, B + 6 * DAY],
    "square": [A + DAY],
}
CONFLICTS = {"shopify": [(A + DAY, 4), (B + 3 * DAY, 10)], "square": [(B + 2 * DAY, 2)]}
ACTIONS = {
    ("resync-stale", "success"): [A + 4 * DAY, B + DAY, B + 2 * DAY, B + 5 * DAY],
    ("resync-stale", "failed"): [B + 3 * DAY],
}
SQUARE_STALL = (B + 2 * DAY, B + 2 * DAY + 2 * HOUR)


def phase(t: float) -> str:
    return "prev" if t < B else "cur"


def _spike(t: float) -> float:
    start, end = SPIKES[phase(t)]
    return SPIKE_EXTRA[phase(t)] if start <= t < end else 0.0


def _integral(rate, t0: int, t1: int) -> float:
    """Counter growth between two sample times, minute by minute (rates change on minutes)."""
    return sum(rate(t) * MINUTE for t in range(t0, t1, MINUTE))


def _counter(times, rate, base: float) -> list[tuple[int, float]]:
    value, out, last = base, [], times[0]
    for t in times:
        value += _integral(rate, last, t)
        last = t
        out.append((t, value))
    return out


def _steps(times, events, base: float) -> list[tuple[int, float]]:
    out = []
    for t in times:
        out.append((t, base + sum(weight for at, weight in events if at <= t)))
    return out


def _in_gap(t: float) -> bool:
    return GAP[0] <= t < GAP[1]


def build_series() -> dict[tuple[str, tuple], list[tuple[int, float]]]:
    series: dict[tuple[str, tuple], list[tuple[int, float]]] = {}

    def add(name: str, labels: dict[str, str], points):
        series[(name, tuple(sorted(labels.items())))] = list(points)

    api = {"job": "inventory-api", "handler": "/stock", "method": "GET"}
    add(
        "inventory_api_requests_total",
        {**api, "code": "200"},
        _counter(COUNTER_TIMES, lambda t: OK_RATE[phase(t)] + _spike(t), 5_000_000),
    )
    add(
        "inventory_api_requests_total",
        {**api, "code": "500"},
        _counter(COUNTER_TIMES, lambda t: ERR_RATE[phase(t)], 7_000),
    )
    for index, le in enumerate(LE):
        add(
            "inventory_api_request_duration_seconds_bucket",
            {**api, "le": le},
            _counter(COUNTER_TIMES, lambda t, i=index: sum(BUCKET_RATES[phase(t)][: i + 1]), 1_000_000 * (index + 1)),
        )
    add(
        "job:inventory_api_performance_score:weighted_avg5m",
        {"job": "inventory-api"},
        [(t, (90 + (t // 300) % 3) if phase(t) == "prev" else (70 + (t // 300) % 5)) for t in GAUGE_TIMES],
    )

    for (alertname, severity, for_state), episodes in ALERT_EPISODES.items():
        labels = {"alertname": alertname, "severity": severity, "job": "inventory-api"}
        firing = [t for t in ALERT_TIMES if any(s <= t < e for s, e in episodes)]
        add("ALERTS", {**labels, "alertstate": "firing"}, [(t, 1.0) for t in firing])
        if for_state:
            # pending for 2 minutes before firing; the value is the episode's activeAt
            points = []
            for t in ALERT_TIMES:
                for s, e in episodes:
                    if s - 2 * MINUTE <= t < e:
                        points.append((t, float(s - 2 * MINUTE)))
            add("ALERTS_FOR_STATE", labels, points)

    business_times = [t for t in GAUGE_TIMES if not _in_gap(t)]
    exporter = {"job": "inventory-exporter"}
    for location, base, slope in (("wh-east", 100_000.0, 5.0), ("store-1", 20_000.0, -1.0)):
        add(
            "inventory_stock_value",
            {**exporter, "location": location, "currency": "USD"},
            [(t, base + slope * (t - START) / HOUR + (3000.0 if phase(t) == "cur" else 0.0)) for t in business_times],
        )
    add(
        "inventory_out_of_stock_skus",
        {**exporter, "location": "wh-east"},
        [(t, 2.0 if phase(t) == "prev" else (4.0 if t < B + 2 * DAY else 1.0)) for t in business_times],
    )
    add(
        "inventory_out_of_stock_skus",
        {**exporter, "location": "store-1"},
        [(t, 1.0 if phase(t) == "prev" else 0.0) for t in business_times],
    )
    add(
        "inventory_low_stock_skus",
        {**exporter, "location": "wh-east"},
        [(t, 5.0 + (t // 300) % 2 if phase(t) == "prev" else 8.0) for t in business_times],
    )
    add(
        "inventory_below_safety_stock_skus",
        {**exporter, "location": "wh-east"},
        [(t, 3.0 if phase(t) == "prev" else 2.0 + (t // 300) % 3) for t in business_times],
    )
    for channel, prev, cur in (("online", 0.97, 0.95), ("pos", 0.99, 0.985)):
        add(
            "inventory_order_fulfillment_ratio",
            {**exporter, "channel": channel},
            [(t, prev if phase(t) == "prev" else cur) for t in GAUGE_TIMES],
        )
    prev_times = [t for t in GAUGE_TIMES if phase(t) == "prev"]
    add("inventory_forecast_abs_error_units", exporter, [(t, 120.0 + (t // 300) % 7) for t in prev_times])
    add("inventory_forecast_actual_units", exporter, [(t, 800.0) for t in prev_times])
    add("inventory_forecast_error_units", exporter, [(t, -40.0 + (t // 300) % 3) for t in prev_times])
    add(
        "inventory_reorder_recommended_skus",
        {**exporter, "location": "wh-east"},
        [(t, 6.0 if phase(t) == "prev" else 9.0) for t in GAUGE_TIMES],
    )
    add(
        "inventory_reorder_recommended_units",
        {**exporter, "location": "wh-east"},
        [(t, 300.0 if phase(t) == "prev" else 420.0) for t in GAUGE_TIMES],
    )

    for integration, prev, cur in (("shopify", 0.99, 0.995), ("square", 0.985, 0.96)):
        add(
            "inventory_integration_accuracy_ratio",
            {**exporter, "integration": integration},
            [(t, prev if phase(t) == "prev" else cur) for t in GAUGE_TIMES],
        )
        add(
            "inventory_integration_stock_mismatch_skus",
            {**exporter, "integration": integration, "location": "wh-east"},
            [(t, (2.0 if integration == "shopify" else 3.0) * (1 if phase(t) == "prev" else 2)) for t in GAUGE_TIMES],
        )

        def last_success(t, integration=integration):
            if integration == "square" and SQUARE_STALL[0] <= t < SQUARE_STALL[1]:
                return float(SQUARE_STALL[0])
            return float(t - 30)

        add(
            "inventory_integration_last_sync_success_timestamp_seconds",
            {**exporter, "integration": integration},
            [(t, last_success(t)) for t in GAUGE_TIMES],
        )
        add(
            "inventory_integration_sync_runs_total",
            {**exporter, "integration": integration, "status": "failed"},
            _steps(GAUGE_TIMES, [(at, 1.0) for at in FAILED_SYNCS[integration]], 40.0),
        )
        add(
            "inventory_integration_sync_conflicts_total",
            {**exporter, "integration": integration},
            _steps(GAUGE_TIMES, CONFLICTS[integration], 100.0),
        )

    enhancer = {"job": "inventory-enhancer"}
    for (rule, outcome), events in ACTIONS.items():
        add(
            "inventory_enhancer_actions_total",
            {**enhancer, "rule": rule, "outcome": outcome},
            _steps(GAUGE_TIMES, [(at, 1.0) for at in events], 10.0),
        )
    add(
        "inventory_enhancer_action_improvement_ratio",
        {**enhancer, "rule": "resync-stale"},
        [(t, 0.2 if phase(t) == "prev" else (0.5 if t < B + 5 * DAY else 0.35)) for t in GAUGE_TIMES],
    )

    add(
        "inventory_host_cpu_utilization_ratio",
        exporter,
        [
            (
                t,
                0.3 + 0.2 * ((t // 300) % 12) / 11
                if phase(t) == "prev"
                else (0.95 if t == B + 2 * DAY + 30 else 0.4 + 0.1 * ((t // 300) % 4) / 3),
            )
            for t in GAUGE_TIMES
        ],
    )
    gib = 2.0**30
    add("inventory_host_memory_total_bytes", exporter, [(t, 8 * gib) for t in GAUGE_TIMES])
    add(
        "inventory_host_memory_used_bytes",
        exporter,
        [
            (
                t,
                (4 + (t // 300) % 3 * 0.25) * gib
                if phase(t) == "prev"
                else (7.5 * gib if t == B + 3 * DAY + 30 else 5 * gib),
            )
            for t in GAUGE_TIMES
        ],
    )
    add("inventory_host_disk_total_bytes", {**exporter, "mountpoint": "/"}, [(t, 100e9) for t in GAUGE_TIMES])
    add(
        "inventory_host_disk_used_bytes",
        {**exporter, "mountpoint": "/"},
        [(t, 50e9 + (t - A) / DAY * 1e9 if phase(t) == "prev" else 57e9 + (t - B) / DAY * 2e9) for t in GAUGE_TIMES],
    )
    return series


SERIES = build_series()


def write_openmetrics(path: Path) -> None:
    with path.open("w") as out:
        seen = set()
        for (name, labels), points in SERIES.items():
            if name not in seen:
                # typed as gauges: promtool then takes the names as they are
                out.write(f"# TYPE {name} gauge\n")
                seen.add(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            for t, v in points:
                out.write(f"{name}{{{label_text}}} {v!r} {t}\n")
        out.write("# EOF\n")


# ---- Prometheus semantics, redone -------------------------------------------


def select(name: str, **match) -> list[tuple[dict, list[tuple[int, float]]]]:
    out = []
    for (series_name, labels), points in SERIES.items():
        labels = dict(labels)
        if series_name == name and all(labels.get(k) == v for k, v in match.items()):
            out.append((labels, points))
    return out


def window(points, t: float, seconds: float):
    return [(s, v) for s, v in points if t - seconds <= s <= t]


def instant(points, t: float) -> float | None:
    eligible = [(s, v) for s, v in points if t - LOOKBACK < s <= t]
    return eligible[-1][1] if eligible else None


def increase(points, t: float, seconds: float) -> float | None:
    """extrapolatedRate(isCounter=true, isRate=false) of Prometheus 2.42."""
    samples = window(points, t, seconds)
    if len(samples) < 2:
        return None
    result = samples[-1][1] - samples[0][1]
    previous = samples[0][1]
    for _, v in samples[1:]:
        if v < previous:
            result += previous
        previous = v
    first_t, last_t = samples[0][0], samples[-1][0]
    to_start, to_end = first_t - (t - seconds), t - last_t
    sampled = last_t - first_t
    average = sampled / (len(samples) - 1)
    if result > 0 and samples[0][1] >= 0:
        to_start = min(to_start, sampled * (samples[0][1] / result))
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled)


def rate(points, t: float, seconds: float) -> float | None:
    value = increase(points, t, seconds)
    return None if value is None else value / seconds


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """buckets: (upper bound, cumulative count) sorted; Prometheus's linear interpolation."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != math.inf:
        return None
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    if index == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end = (0.0 if index == 0 else buckets[index - 1][0]), buckets[index][0]
    below = 0.0 if index == 0 else buckets[index - 1][1]
    return start + (end - start) * ((rank - below) / (buckets[index][1] - below))


def subquery_points(end: float, seconds: float, step: int) -> list[int]:
    """[seconds*1000-1 ms : step] evaluated at end: aligned points in (end - seconds, end]."""
    first = math.ceil((end - seconds + 0.001) / step) * step
    return list(range(int(first), int(end) + 1, step))


def least_squares(points) -> tuple[float, float]:
    """(slope, intercept at t=0) as Prometheus's deriv and predict_linear fit them."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    slope = cov / var
    return slope, mean_v - slope * mean_t
