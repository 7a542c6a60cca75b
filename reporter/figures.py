"""Every figure of a report, as PromQL over the period, for the period and the one before.

A figure is evaluated once at the period's end (or start) with a range of exactly the
period's length, so each period sees only its own samples. Tokens in the templates:
  $w       the period as a range, e.g. 604800s
  $sub     a subquery over the period at the report resolution, e.g. 604799999ms:300s
           (one millisecond short, so the point at the period's start, which belongs to
           the period before, is not counted twice)
  $step    the resolution in seconds; $seconds the period's length; $eval the rule
           evaluation interval
An empty answer is "no data" (None), never 0. Counts of events come from increase(),
which extrapolates to the window's edges; they are rounded to whole events.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from reporter.config import Config, Objectives
from reporter.periods import Period
from reporter.prometheus import Prometheus, QueryError, Series

SECTIONS = {
    "service": "Service",
    "business": "Business",
    "integrations": "Integrations",
    "enhancer": "Enhancer",
    "capacity": "Capacity",
}

_REQUESTS = "sum(increase(inventory_api_requests_total[$w]))"
_ERRORS = 'sum(increase(inventory_api_requests_total{code=~"5.."}[$w]))'
_QUANTILE = "histogram_quantile({q}, sum by (le) (increase(inventory_api_request_duration_seconds_bucket[$w])))"


@dataclass(frozen=True)
class FigureSpec:
    key: str
    section: str
    title: str
    unit: str            # ratio, seconds, per_second, count, units, money, bytes, days, score, sku_hours
    query: str | None    # None: derived in Python from other figures
    by: tuple[str, ...] = ()
    at: str = "end"      # "end" or "start": when the instant query is evaluated
    better: str | None = None   # higher | lower | zero | None (neutral)
    objective: Callable[[Objectives], float] | None = None
    objective_op: str = ">="    # the figure meets its objective when value <op> objective
    whole: bool = False  # a count of events: round increase()'s extrapolation away
    fallback: str | None = None  # for label sets the query misses (episodes without ALERTS_FOR_STATE)
    positive_only: bool = False  # values <= 0 or infinite mean "not applicable" (days until full)
    # Said of a label set seen in one period only: for alerts, no ALERTS series means it did not fire.
    absent_note: str | None = None
    description: str = ""


SPECS: list[FigureSpec] = [
    # Service: the inventory API's requests (counter and histogram from its middleware).
    FigureSpec("service.availability_ratio", "service", "Availability (non-5xx share of requests)", "ratio",
               f"1 - ({_ERRORS} or vector(0)) / {_REQUESTS}", better="higher",
               objective=lambda o: o.availability),
    FigureSpec("service.error_budget_remaining_ratio", "service", "Error budget left", "ratio", None,
               better="higher", objective=lambda o: 0.0,
               description="1 - error ratio / (1 - availability objective); below 0 the budget is overspent"),
    FigureSpec("service.error_ratio", "service", "Error ratio (5xx)", "ratio",
               f"({_ERRORS} or vector(0)) / {_REQUESTS}", better="lower"),
    FigureSpec("service.request_rate_mean", "service", "Request rate, mean", "per_second",
               f"{_REQUESTS} / $seconds"),
    FigureSpec("service.request_rate_peak", "service", "Request rate, peak (5m)", "per_second",
               "max_over_time(sum(rate(inventory_api_requests_total[5m]))[$sub])"),
    FigureSpec("service.latency_p50_seconds", "service", "Latency p50", "seconds", _QUANTILE.format(q=0.5),
               better="lower"),
    FigureSpec("service.latency_p95_seconds", "service", "Latency p95", "seconds", _QUANTILE.format(q=0.95),
               better="lower", objective=lambda o: o.latency_p95_seconds, objective_op="<="),
    FigureSpec("service.latency_p99_seconds", "service", "Latency p99", "seconds", _QUANTILE.format(q=0.99),
               better="lower"),
    FigureSpec("service.performance_score_mean", "service", "Performance score, mean", "score",
               "avg(avg_over_time(job:inventory_api_performance_score:weighted_avg5m[$w]))", better="higher",
               objective=lambda o: o.performance_score),
    FigureSpec("service.alert_firing_seconds", "service", "Alert firing time", "seconds",
               'sum by (alertname, severity) (count_over_time(ALERTS{alertstate="firing"}[$w])) * $eval',
               by=("alertname", "severity"), better="lower", absent_note="did not fire"),
    FigureSpec("service.alert_episodes", "service", "Alert firings", "count",
               # Each new activeAt of ALERTS_FOR_STATE is a new episode; only alerts that fired count.
               "sum by (alertname, severity) ((changes(ALERTS_FOR_STATE[$w]) + 1)"
               ' and ignoring (alertstate) count_over_time(ALERTS{alertstate="firing"}[$w]))',
               by=("alertname", "severity"), better="lower", absent_note="did not fire",
               fallback='count by (alertname, severity) (count_over_time(ALERTS{alertstate="firing"}[$w]))'),
    # Business: the exporter's stock and order gauges, the analytics sums.
    FigureSpec("business.stock_value_start", "business", "Stock value at start", "money",
               "sum by (currency) (inventory_stock_value)", by=("currency",), at="start"),
    FigureSpec("business.stock_value_end", "business", "Stock value at end", "money",
               "sum by (currency) (inventory_stock_value)", by=("currency",)),
    FigureSpec("business.stockout_sku_hours", "business", "Stock-out SKU-hours", "sku_hours",
               "sum_over_time(sum(inventory_out_of_stock_skus)[$sub]) * $step / 3600", better="lower"),
    FigureSpec("business.low_stock_skus_mean", "business", "Low-stock SKUs, mean", "count",
               "sum(avg_over_time(inventory_low_stock_skus[$w]))", better="lower"),
    FigureSpec("business.below_safety_stock_skus_mean", "business", "Below safety stock SKUs, mean", "count",
               "sum(avg_over_time(inventory_below_safety_stock_skus[$w]))", better="lower"),
    FigureSpec("business.fulfillment_ratio", "business", "Order fulfilment", "ratio",
               "avg by (channel) (avg_over_time(inventory_order_fulfillment_ratio[$w]))", by=("channel",),
               better="higher", objective=lambda o: o.fulfillment),
    FigureSpec("business.forecast_wape_ratio", "business", "Forecast WAPE", "ratio",
               "sum(avg_over_time(inventory_forecast_abs_error_units[$w]))"
               " / sum(avg_over_time(inventory_forecast_actual_units[$w]))", better="lower"),
    FigureSpec("business.forecast_bias_ratio", "business", "Forecast bias (> 0: over-forecast)", "ratio",
               "sum(avg_over_time(inventory_forecast_error_units[$w]))"
               " / sum(avg_over_time(inventory_forecast_actual_units[$w]))", better="zero"),
    FigureSpec("business.reorder_recommended_skus_mean", "business", "Reorder recommendations (SKU-locations), mean",
               "count", "sum(avg_over_time(inventory_reorder_recommended_skus[$w]))"),
    FigureSpec("business.reorder_recommended_units_mean", "business", "Units recommended to order, mean", "units",
               "sum(avg_over_time(inventory_reorder_recommended_units[$w]))"),
    # Integrations.
    FigureSpec("integrations.accuracy_ratio", "integrations", "Inventory record accuracy", "ratio",
               "avg by (integration) (avg_over_time(inventory_integration_accuracy_ratio[$w]))",
               by=("integration",), better="higher", objective=lambda o: o.integration_accuracy),
    FigureSpec("integrations.mismatch_skus_mean", "integrations", "Mismatching SKU-locations, mean", "count",
               "sum by (integration) (avg_over_time(inventory_integration_stock_mismatch_skus[$w]))",
               by=("integration",), better="lower"),
    FigureSpec("integrations.staleness_max_seconds", "integrations", "Longest time since a successful sync",
               "seconds",
               "max by (integration) (max_over_time("
               "(time() - inventory_integration_last_sync_success_timestamp_seconds)[$sub]))",
               by=("integration",), better="lower", objective=lambda o: o.sync_staleness, objective_op="<="),
    FigureSpec("integrations.failed_syncs", "integrations", "Failed syncs", "count",
               'sum by (integration) (increase(inventory_integration_sync_runs_total{status="failed"}[$w]))',
               by=("integration",), better="lower", whole=True),
    FigureSpec("integrations.conflicts", "integrations", "Sync conflicts", "count",
               "sum by (integration) (increase(inventory_integration_sync_conflicts_total[$w]))",
               by=("integration",), better="lower", whole=True),
    # Enhancer.
    FigureSpec("enhancer.actions", "enhancer", "Actions", "count",
               "sum by (rule, outcome) (increase(inventory_enhancer_actions_total[$w]))",
               by=("rule", "outcome"), whole=True),
    FigureSpec("enhancer.improvement_ratio", "enhancer", "Measured improvement (last verified action)", "ratio",
               "avg by (rule) (last_over_time(inventory_enhancer_action_improvement_ratio[$w]))",
               by=("rule",), better="higher"),
    # Capacity (monthly and quarterly by default).
    FigureSpec("capacity.cpu_peak_ratio", "capacity", "CPU peak", "ratio",
               "max(max_over_time(inventory_host_cpu_utilization_ratio[$w]))", better="lower",
               objective=lambda o: o.capacity_peak, objective_op="<="),
    FigureSpec("capacity.cpu_mean_ratio", "capacity", "CPU mean", "ratio",
               "avg(avg_over_time(inventory_host_cpu_utilization_ratio[$w]))", better="lower"),
    FigureSpec("capacity.memory_peak_bytes", "capacity", "Memory used, peak", "bytes",
               "max(max_over_time(inventory_host_memory_used_bytes[$w]))", better="lower"),
    FigureSpec("capacity.memory_total_bytes", "capacity", "Memory installed", "bytes",
               "max(max_over_time(inventory_host_memory_total_bytes[$w]))"),
    FigureSpec("capacity.memory_peak_ratio", "capacity", "Memory peak / installed", "ratio", None, better="lower",
               objective=lambda o: o.capacity_peak, objective_op="<="),
    FigureSpec("capacity.disk_peak_ratio", "capacity", "Disk used, peak / size", "ratio",
               "max by (mountpoint) (max_over_time(inventory_host_disk_used_bytes[$w]))"
               " / max by (mountpoint) (max_over_time(inventory_host_disk_total_bytes[$w]))",
               by=("mountpoint",), better="lower", objective=lambda o: o.capacity_peak, objective_op="<="),
    FigureSpec("capacity.disk_growth_bytes", "capacity", "Disk growth over the period", "bytes",
               "max by (mountpoint) (inventory_host_disk_used_bytes)"
               " - max by (mountpoint) (inventory_host_disk_used_bytes offset $w)",
               by=("mountpoint",), better="lower"),
    FigureSpec("capacity.disk_days_until_full", "capacity", "Days until the disk is full (linear trend)", "days",
               "(max by (mountpoint) (inventory_host_disk_total_bytes)"
               " - max by (mountpoint) (predict_linear(inventory_host_disk_used_bytes[$w], 0)))"
               " / max by (mountpoint) (deriv(inventory_host_disk_used_bytes[$w])) / 86400",
               by=("mountpoint",), better="higher", objective=lambda o: o.days_until_full, positive_only=True),
]
FIGURE_KEYS = frozenset(spec.key for spec in SPECS)
SPEC_BY_KEY = {spec.key: spec for spec in SPECS}


@dataclass(frozen=True)
class ChartSpec:
    key: str
    section: str
    title: str
    unit: str
    query: str   # $rw: the rate window, at least 5m and at least one step
    legend: str | None = None


CHARTS: list[ChartSpec] = [
    ChartSpec("service.request_rate", "service", "Requests per second", "per_second",
              "sum(rate(inventory_api_requests_total[$rw]))"),
    ChartSpec("service.error_ratio", "service", "Error ratio (5xx)", "ratio",
              '(sum(rate(inventory_api_requests_total{code=~"5.."}[$rw]))'
              " or 0 * sum(rate(inventory_api_requests_total[$rw])))"
              " / sum(rate(inventory_api_requests_total[$rw]))"),
    ChartSpec("service.latency_p95", "service", "Latency p95", "seconds",
              "histogram_quantile(0.95, sum by (le) (rate(inventory_api_request_duration_seconds_bucket[$rw])))"),
    ChartSpec("business.stock_value", "business", "Stock value", "money",
              "sum by (currency) (inventory_stock_value)", legend="currency"),
    ChartSpec("business.out_of_stock", "business", "Out-of-stock SKUs", "count",
              "sum(inventory_out_of_stock_skus)"),
    ChartSpec("integrations.accuracy", "integrations", "Inventory record accuracy", "ratio",
              "avg by (integration) (inventory_integration_accuracy_ratio)", legend="integration"),
    ChartSpec("capacity.cpu", "capacity", "CPU utilisation", "ratio",
              "max(inventory_host_cpu_utilization_ratio)"),
    ChartSpec("capacity.disk", "capacity", "Disk used / size", "ratio",
              "max by (mountpoint) (inventory_host_disk_used_bytes / inventory_host_disk_total_bytes)",
              legend="mountpoint"),
]


@dataclass
class Figure:
    key: str
    section: str
    title: str
    unit: str
    labels: dict[str, str]
    value: float | None
    previous: float | None
    better: str | None = None
    objective: float | None = None
    objective_op: str = ">="
    note: str | None = None
    previous_note: str | None = None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def delta_ratio(self) -> float | None:
        delta = self.delta
        if delta is None or self.previous == 0:
            return None
        return delta / abs(self.previous)

    def meets(self, value: float | None) -> bool | None:
        if value is None or self.objective is None:
            return None
        return value >= self.objective if self.objective_op == ">=" else value <= self.objective

    @property
    def met(self) -> bool | None:
        return self.meets(self.value)

    @property
    def previous_met(self) -> bool | None:
        return self.meets(self.previous)

    def label_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items())

    def to_dict(self) -> dict:
        return {
            "key": self.key, "section": self.section, "title": self.title, "unit": self.unit,
            "labels": self.labels, "value": self.value, "previous": self.previous,
            "delta": self.delta, "delta_ratio": self.delta_ratio,
            "objective": self.objective, "objective_op": self.objective_op if self.objective is not None else None,
            "objective_met": self.met, "previous_objective_met": self.previous_met,
            "better": self.better, "note": self.note, "previous_note": self.previous_note,
        }


@dataclass
class Chart:
    key: str
    section: str
    title: str
    unit: str
    legend: str | None
    current: list[Series]
    previous: list[Series]
    step: float

    @property
    def has_data(self) -> bool:
        return any(series.points for series in self.current + self.previous)


@dataclass
class Report:
    title: str
    period: Period
    previous_period: Period
    generated_at: float
    sections: list[str]
    figures: list[Figure]
    charts: list[Chart]
    changes: list = field(default_factory=list)   # reporter.changes.Change

    def section_figures(self, section: str) -> list[Figure]:
        return [f for f in self.figures if f.section == section]

    def section_has_data(self, section: str) -> bool:
        return any(f.value is not None for f in self.section_figures(section))


def sections_for(config: Config, period: Period) -> list[str]:
    sections = ["service", "business", "integrations", "enhancer"]
    capacity = period.kind in config.output.capacity_periods or (
        period.kind == "custom" and period.seconds >= 28 * 86400)
    return sections + (["capacity"] if capacity else [])


def render_query(template: str, period: Period, config: Config) -> str:
    seconds = period.seconds
    step = int(config.output.resolution)
    return (template.replace("$sub", f"{seconds * 1000 - 1}ms:{step}s")
            .replace("$w", f"{seconds}s")
            .replace("$seconds", str(seconds))
            .replace("$step", str(step))
            .replace("$eval", f"{config.prometheus.rule_evaluation_interval:g}"))


def chart_step(period: Period) -> int:
    # About 300 points per line, in whole minutes.
    return max(60, math.ceil(period.seconds / 300 / 60) * 60)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _key(labels: dict[str, str], by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in by)


async def _evaluate(prom: Prometheus, spec: FigureSpec, period: Period, which: str,
                    config: Config) -> dict[tuple, tuple[float | None, str | None]]:
    """label values -> (value, note) for one period."""
    at = period.end_ts if spec.at == "end" else period.start_ts
    name = f"{spec.key} ({which} period {period.name})"
    samples = await prom.query(name, render_query(spec.query, period, config), at)
    result: dict[tuple, tuple[float | None, str | None]] = {}
    for sample in samples:
        result[_key(sample.labels, spec.by)] = _postprocess(spec, sample.value)
    if spec.fallback:
        for sample in await prom.query(name + " fallback", render_query(spec.fallback, period, config), at):
            result.setdefault(_key(sample.labels, spec.by), _postprocess(spec, sample.value))
    return result


def _postprocess(spec: FigureSpec, raw: float) -> tuple[float | None, str | None]:
    if spec.positive_only and (not math.isfinite(raw) or raw <= 0):
        return None, "not filling up" if not math.isnan(raw) else "no trend"
    if math.isnan(raw):
        return None, "undefined (nothing to divide by)"
    value = _finite(raw)
    if value is not None and spec.whole:
        value = float(round(value))
    return value, None


def _figures_of(spec: FigureSpec, current: dict, previous: dict, objectives: Objectives) -> list[Figure]:
    keys = sorted(set(current) | set(previous))
    if not keys:
        keys = [tuple("" for _ in spec.by)]
    figures = []
    for key in keys:
        labels = {name: value for name, value in zip(spec.by, key)} if any(key) else {}
        absent = (None, spec.absent_note if any(key) else None)
        value, note = current.get(key, absent)
        prev, prev_note = previous.get(key, absent)
        figures.append(Figure(spec.key, spec.section, spec.title, spec.unit, labels, value, prev, spec.better,
                              spec.objective(objectives) if spec.objective else None, spec.objective_op,
                              note, prev_note))
    return figures


def _derive(spec: FigureSpec, figures: dict[str, Figure], objectives: Objectives) -> Figure:
    def pair(fn):
        return fn("value"), fn("previous")

    if spec.key == "service.error_budget_remaining_ratio":
        availability = figures["service.availability_ratio"]
        allowed = 1 - objectives.availability
        value, prev = pair(lambda side: None if getattr(availability, side) is None
                           else 1 - (1 - getattr(availability, side)) / allowed)
    elif spec.key == "capacity.memory_peak_ratio":
        peak, total = figures["capacity.memory_peak_bytes"], figures["capacity.memory_total_bytes"]
        value, prev = pair(lambda side: None if not getattr(peak, side) or not getattr(total, side)
                           else getattr(peak, side) / getattr(total, side))
    else:
        raise KeyError(spec.key)
    return Figure(spec.key, spec.section, spec.title, spec.unit, {}, value, prev, spec.better,
                  spec.objective(objectives) if spec.objective else None, spec.objective_op)


async def _run_all(coroutines: list) -> list:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except* QueryError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def compute(prom: Prometheus, config: Config, period: Period, *, now: float | None = None) -> Report:
    previous = period.previous()
    sections = sections_for(config, period)
    specs = [s for s in SPECS if s.section in sections]
    queried = [s for s in specs if s.query is not None]
    charts = [c for c in CHARTS if c.section in sections]

    jobs = []
    for spec in queried:
        jobs.append(_evaluate(prom, spec, period, "this", config))
        jobs.append(_evaluate(prom, spec, previous, "previous", config))
    for chart in charts:
        for which, p in (("this", period), ("previous", previous)):
            step = chart_step(period)
            rate_window = max(300, step)
            promql = chart.query.replace("$rw", f"{rate_window}s")
            jobs.append(prom.query_range(f"chart {chart.key} ({which} period {p.name})", promql,
                                         p.start_ts + step, p.end_ts, step))
    results = await _run_all(jobs)

    by_key: dict[str, list[Figure]] = {}
    for index, spec in enumerate(queried):
        by_key[spec.key] = _figures_of(spec, results[2 * index], results[2 * index + 1], config.objectives)
    figures: list[Figure] = []
    first_of = {key: items[0] for key, items in by_key.items()}
    for spec in specs:
        if spec.query is None:
            derived = _derive(spec, first_of, config.objectives)
            by_key[spec.key] = [derived]
        figures.extend(by_key[spec.key])

    chart_results = results[2 * len(queried):]
    built_charts = []
    for index, chart in enumerate(charts):
        built_charts.append(Chart(chart.key, chart.section, chart.title, chart.unit, chart.legend,
                                  chart_results[2 * index], chart_results[2 * index + 1], chart_step(period)))
    return Report(config.output.title, period, previous, time.time() if now is None else now, sections,
                  figures, built_charts)


def format_value(unit: str, value: float | None, note: str | None = None) -> str:
    """A figure's value in words and units, as the report shows it."""
    if value is None:
        return note or "no data"
    if unit == "ratio":
        digits = 3 if 0.99 <= abs(value) < 1 else 2
        return f"{value * 100:.{digits}f} %"
    if unit == "seconds":
        magnitude = abs(value)
        if magnitude < 1:
            return f"{value * 1000:.0f} ms"
        if magnitude < 120:
            return f"{value:.2f} s"
        if magnitude < 7200:
            return f"{value / 60:.1f} min"
        return f"{value / 3600:.1f} h"
    if unit == "per_second":
        return f"{value:.2f}/s"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "bytes":
        for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.2f} {suffix}"
        return f"{value:.0f} B"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "sku_hours":
        return f"{value:,.1f} SKU-h"
    if unit == "units":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def format_delta(figure: Figure) -> str:
    delta = figure.delta
    if delta is None:
        return "–"
    if figure.unit == "ratio":
        return f"{delta * 100:+.2f} pp"
    text = format_value(figure.unit, abs(delta))
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    ratio = figure.delta_ratio
    return f"{sign}{text}" + (f" ({ratio * 100:+.0f} %)" if ratio is not None and delta else "")
