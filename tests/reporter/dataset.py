"""Known series over two past weeks, and Prometheus's arithmetic redone in plain Python.

Timeline (UTC): the current week is [B, E), the previous week [A, B); E is the last
Monday 00:00 UTC at least 3 hours ago (blocks must be older than Prometheus's head).
Counters are sampled every 2 minutes, gauges every 5, ALERTS every minute, all 30 s after the minute,
so no sample ever sits on a period boundary.

Built in on purpose:
- every figure differs between the two weeks (deltas);
- the business gauges have a gap: no samples on day B+4d (a daily report of that
  day says "no data", and the weekly figures use only the samples that exist);
- the forecast: known one-day-ahead sums per UTC day (DAY_SUMS), published as the
  analytics does (labelled with the day, from its first cycle after the day ends until
  its first cycle of the next day; day X's until 30 minutes after E, as a report run
  just after midnight sees them). The current week has a heavy day (B+5d) with a large
  error among light days with small ones; the analytics was down all of ANALYTICS_DOWN
  (day A+3d), so day A+2d's sums were never published ("not enough data" for the
  previous week). The trailing-window gauges (inventory_forecast_abs_error_units ...)
  are the sums of the last TRAILING_DAYS days, as the report used to average them.

and the day X (the current week's last day) holds the known truths of issue 18:
- a 2-hour outage of the inventory API (OUTAGE): `up` and the probe are 0, no request
  is served and no request counter sample exists; InventoryTargetDown fires;
- 5xx bursts (ERROR_BURSTS) and an InventoryAPIHighErrorRatio firing, plus a pending-only
  episode of the same alert and a pending-only InventoryLowStock (PENDING_ONLY);
- uneven order volume (ORDERS: busy hours with a low fulfilment, quiet hours with all
  orders fulfilled); the exporter's trailing-24-hour fulfilment gauge is derived from
  the same orders;
- odoo's first failed sync ever (ODOO_FIRST_FAILURE): its status="failed" series
  appears at 1, as the exporter published it before it knew every status from the start;
- no enhancer action (the last one is on the day before, verified an hour later).
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
        (B + 6 * DAY + 3 * HOUR + 5 * MINUTE, B + 6 * DAY + 3 * HOUR + 20 * MINUTE),
    ],
    # the outage: 2 hours down, firing after its `for` of 1 minute (pending 2 minutes here)
    ("InventoryTargetDown", "critical", True): [(B + 6 * DAY + 10 * HOUR + MINUTE, B + 6 * DAY + 12 * HOUR)],
    ("InventoryExporterDown", "critical", False): [(B + 2 * DAY, B + 2 * DAY + 10 * MINUTE)],
    ("InventoryLowStock", "warning", True): [(A + 3 * DAY, A + 3 * DAY + 20 * MINUTE)],
}
FAILED_SYNCS = {
    "shopify": [A + 2 * DAY, A + 5 * DAY, B + DAY, B + 2 * DAY, B + 2 * DAY + HOUR, B + 4 * DAY, B + 6 * DAY],
    "square": [A + DAY],
}
CONFLICTS = {"shopify": [(A + DAY, 4), (B + 3 * DAY, 10)], "square": [(B + 2 * DAY, 2)]}
# Episodes that stayed pending and never fired: (alertname, severity): [(pending start, end)].
PENDING_ONLY = {
    ("InventoryAPIHighErrorRatio", "warning"): [(B + 6 * DAY + 16 * HOUR, B + 6 * DAY + 16 * HOUR + 3 * MINUTE)],
    ("InventoryLowStock", "warning"): [(B + 6 * DAY + 8 * HOUR, B + 6 * DAY + 8 * HOUR + MINUTE)],
}
ACTIONS = {
    ("resync-stale", "success"): [A + 4 * DAY, B + DAY, B + 2 * DAY, B + 5 * DAY],
    ("resync-stale", "failed"): [B + 3 * DAY],
}
SQUARE_STALL = (B + 2 * DAY, B + 2 * DAY + 2 * HOUR)

# One-day-ahead forecast accuracy per UTC day (start): (sum |forecast - actual|,
# sum (forecast - actual), sum actual), summed over the SKU-locations.
_LIGHT_PREV, _LIGHT_CUR = (30.0, -10.0, 200.0), (12.0, 6.0, 120.0)
DAY_SUMS: dict[int, tuple[float, float, float]] = {
    **{A + i * DAY: _LIGHT_PREV for i in range(-5, 7)},
    **{B + i * DAY: _LIGHT_CUR for i in range(5)},
    B + 5 * DAY: (600.0, -450.0, 1500.0),  # the heavy day: 40 % off, under-forecast
    B + 6 * DAY: (45.0, 15.0, 300.0),  # day X
}
# No analytics sample all of day A+3d (back 5 minutes after midnight): day A+2d's sums were never published.
ANALYTICS_DOWN = (A + 3 * DAY, A + 4 * DAY + 5 * MINUTE)
TRAILING_DAYS = 3  # the trailing accuracy window of the old gauges
# Day sums are sampled after E too (until E + 30 minutes): day X's, published after midnight.
DAY_SUM_TIMES = GAUGE_TIMES + list(range(E + 30, E + 30 * MINUTE, 5 * MINUTE))


def analytics_day(t: float) -> int:
    """The last closed UTC day the analytics described at t: it runs 2 minutes after each 5."""
    return int((t - 2 * MINUTE) // DAY) * DAY - DAY


def day_sums_between(start: float, end: float) -> tuple[float, float, float] | None:
    """(WAPE, bias, days) of the UTC days starting in [start, end): the truth the reporter must give."""
    days = [day for day in DAY_SUMS if start <= day < end]
    if not days:
        return None
    abs_error, error, actual = (sum(DAY_SUMS[day][i] for day in days) for i in range(3))
    return abs_error / actual, error / actual, float(len(days))


X = B + 6 * DAY  # the day of issue 18's known truths
OUTAGE = (X + 10 * HOUR, X + 12 * HOUR)  # the inventory API serves nothing
ERROR_BURSTS = [(X + 3 * HOUR, X + 3 * HOUR + 15 * MINUTE, 3.0), (X + 16 * HOUR, X + 16 * HOUR + 10 * MINUTE, 2.0)]
ODOO_FIRST_FAILURE = X + 15 * HOUR
# Verifications of the successful actions: (time, improvement of that action).
VERIFICATIONS = {
    "resync-stale": [
        (A + 4 * DAY + HOUR, 0.2),
        (B + DAY + HOUR, 0.5),
        (B + 2 * DAY + HOUR, 0.45),
        (B + 5 * DAY + HOUR, 0.35),
    ]
}


def orders_in_hour(channel: str, hour_start: int) -> tuple[int, int]:
    """(orders created, orders fulfilled) in the hour: created at :10, fulfilled at :40 of the same hour."""
    if X <= hour_start < X + DAY and channel == "online":
        busy = 12 <= (hour_start - X) // HOUR < 21
        return (100, 80) if busy else (5, 5)
    if channel == "online":
        return (40, 39) if hour_start < B else (40, 38)
    return (50, 49)


CHANNELS = ("online", "pos")
ORDER_EVENTS: dict[str, list[tuple[int, int, int]]] = {
    channel: [(h + 10 * MINUTE, h + 40 * MINUTE, *orders_in_hour(channel, h)) for h in range(START, E, HOUR)]
    for channel in CHANNELS
}


def orders_between(channel: str, start: float, end: float) -> tuple[int, int]:
    """Orders created and fulfilled in [start, end): the truth the fulfilment figure reports."""
    created = sum(c for at, _, c, _ in ORDER_EVENTS[channel] if start <= at < end)
    fulfilled = sum(f for _, at, _, f in ORDER_EVENTS[channel] if start <= at < end)
    return created, fulfilled


def utc_date(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


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


def in_outage(t: float) -> bool:
    return OUTAGE[0] <= t < OUTAGE[1]


def error_rate(t: float) -> float:
    """5xx responses per second."""
    if in_outage(t):
        return 0.0
    return ERR_RATE[phase(t)] + sum(extra for start, end, extra in ERROR_BURSTS if start <= t < end)


def build_series() -> dict[tuple[str, tuple], list[tuple[int, float]]]:
    series: dict[tuple[str, tuple], list[tuple[int, float]]] = {}

    def add(name: str, labels: dict[str, str], points):
        series[(name, tuple(sorted(labels.items())))] = list(points)

    api = {"job": "inventory-api", "handler": "/stock", "method": "GET"}
    # During the outage nothing is served and Prometheus cannot scrape the API: no samples.
    served = [t for t in COUNTER_TIMES if not in_outage(t)]
    add(
        "inventory_api_requests_total",
        {**api, "code": "200"},
        _counter(served, lambda t: 0.0 if in_outage(t) else OK_RATE[phase(t)] + _spike(t), 5_000_000),
    )
    add("inventory_api_requests_total", {**api, "code": "500"}, _counter(served, error_rate, 7_000))
    for index, le in enumerate(LE):
        add(
            "inventory_api_request_duration_seconds_bucket",
            {**api, "le": le},
            _counter(
                served,
                lambda t, i=index: 0.0 if in_outage(t) else sum(BUCKET_RATES[phase(t)][: i + 1]),
                1_000_000 * (index + 1),
            ),
        )
    up = [(t, 0.0 if in_outage(t) else 1.0) for t in ALERT_TIMES]  # scraped every minute
    add("up", {"job": "inventory-api", "instance": "demo:8080"}, up)
    add("inventory_api_up", {"job": "inventory-exporter", "target": "http://demo:8080/health"}, up)
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
            for s, e in PENDING_ONLY.get((alertname, severity), []):
                points += [(t, float(s)) for t in ALERT_TIMES if s <= t < e]
            add("ALERTS_FOR_STATE", labels, sorted(points))
            pending = [t for t in ALERT_TIMES if any(s - 2 * MINUTE <= t < s for s, _ in episodes)]
            pending += [t for t in ALERT_TIMES for s, e in PENDING_ONLY.get((alertname, severity), []) if s <= t < e]
            add("ALERTS", {**labels, "alertstate": "pending"}, [(t, 1.0) for t in sorted(pending)])

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
    for channel in CHANNELS:
        events = ORDER_EVENTS[channel]
        # DB-derived counters: every order row ever, and those fulfilled, by channel.
        add(
            "inventory_orders_created_total",
            {**exporter, "channel": channel},
            _steps(COUNTER_TIMES, [(at, float(c)) for at, _, c, _ in events], 100_000.0),
        )
        add(
            "inventory_orders_fulfilled_total",
            {**exporter, "channel": channel},
            _steps(COUNTER_TIMES, [(at, float(f)) for _, at, _, f in events], 90_000.0),
        )
        # the exporter's gauge: fulfilled over created in the trailing 24 hours
        trailing = []
        for t in GAUGE_TIMES:
            created = sum(c for at, _, c, _ in events if t - DAY < at <= t)
            fulfilled = sum(f for _, at, _, f in events if t - DAY < at <= t)
            if created:
                trailing.append((t, fulfilled / created))
        add("inventory_order_fulfillment_ratio", {**exporter, "channel": channel}, trailing)
    analytics_times = [t for t in DAY_SUM_TIMES if not ANALYTICS_DOWN[0] <= t < ANALYTICS_DOWN[1]]
    for index, part in enumerate(("abs_error", "error", "actual")):
        # the last closed day, labelled with its date; one series per day
        by_day: dict[int, list[tuple[int, float]]] = {}
        for t in analytics_times:
            by_day.setdefault(analytics_day(t), []).append((t, DAY_SUMS[analytics_day(t)][index]))
        for day_start, points in by_day.items():
            add(f"inventory_forecast_day_{part}_units", {**exporter, "day": utc_date(day_start)}, points)
        # the trailing window: the TRAILING_DAYS closed days, recomputed every cycle
        trailing = []
        for t in analytics_times:
            if t < E:
                last = analytics_day(t)
                trailing.append((t, sum(DAY_SUMS[last - i * DAY][index] for i in range(TRAILING_DAYS))))
        add(f"inventory_forecast_{part}_units", exporter, trailing)
    add(
        "inventory_forecast_day_timestamp_seconds",
        exporter,
        [(t, float(analytics_day(t))) for t in analytics_times],
    )
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

    # odoo syncs hourly and never failed until ODOO_FIRST_FAILURE; the failed series appears at 1.
    odoo = {**exporter, "integration": "odoo"}
    add(
        "inventory_integration_sync_runs_total",
        {**odoo, "status": "success"},
        _steps(GAUGE_TIMES, [(h + 5 * MINUTE, 1.0) for h in range(START, E, HOUR)], 300.0),
    )
    add(
        "inventory_integration_sync_runs_total",
        {**odoo, "status": "failed"},
        [(t, 1.0) for t in GAUGE_TIMES if t >= ODOO_FIRST_FAILURE],
    )

    enhancer = {"job": "inventory-enhancer"}
    for (rule, outcome), events in ACTIONS.items():
        add(
            "inventory_enhancer_actions_total",
            {**enhancer, "rule": rule, "outcome": outcome},
            _steps(GAUGE_TIMES, [(at, 1.0) for at in events], 10.0),
        )
    # the gauge holds the last verified action's improvement, from the first verification on
    for rule, verified in VERIFICATIONS.items():
        points = []
        for t in GAUGE_TIMES:
            done = [value for at, value in verified if at <= t]
            if done:
                points.append((t, done[-1]))
        add("inventory_enhancer_action_improvement_ratio", {**enhancer, "rule": rule}, points)
        # The counters the report's effect figures read: verifications and their summed
        # effects (here the same values), 0 from the start of the enhancer.
        acted = {**enhancer, "rule": rule, "group": "acted"}
        add(
            "inventory_enhancer_verified_actions_total",
            acted,
            [(t, float(sum(1 for at, _ in verified if at <= t))) for t in GAUGE_TIMES],
        )
        for direction, sign in (("better", 1.0), ("worse", -1.0)):
            add(
                "inventory_enhancer_verified_effect_total",
                {**acted, "direction": direction},
                [(t, sum(max(sign * v, 0.0) for at, v in verified if at <= t)) for t in GAUGE_TIMES],
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
