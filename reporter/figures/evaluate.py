"""The catalogue's figures and charts as values: PromQL for a period and the one before.

Every query of a report runs concurrently (a few at a time, reporter/prometheus.py), and
each distinct one once; the first failure cancels the rest and raises QueryError naming
the query. An empty answer is "no data" (None), never 0. Counts of events come from
increase(), which extrapolates to the window's edges; they are rounded to whole events.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Any

from reporter.config import Config, Objectives
from reporter.figures.catalogue import CHARTS, SPECS
from reporter.figures.spec import DAY_SUMS_LAG, FigureSpec
from reporter.periods import Period
from reporter.prometheus import Prometheus, QueryError, Sample, Series
from reporter.report import Chart, Figure, Report


def sections_for(config: Config, period: Period) -> list[str]:
    sections = ["service", "business", "integrations", "enhancer"]
    capacity = period.kind in config.output.capacity_periods or (
        period.kind == "custom" and period.seconds >= 28 * 86400
    )
    return sections + (["capacity"] if capacity else [])


# "The last value before the period" looks back this far at least: a counter absent for
# longer (an exporter down for weeks) counts as new, from 0.
BEFORE_DAYS = 31


def render_query(template: str, period: Period, config: Config) -> str:
    """A figure's PromQL for one period (placeholders: reporter/figures/catalogue.py)."""
    seconds = period.seconds
    step = int(config.output.resolution)
    eval_ms = max(1, round(config.prometheus.rule_evaluation_interval * 1000))
    return Template(template).substitute(
        w=f"{seconds}s",
        sub=f"{seconds * 1000 - 1}ms:{step}s",
        seconds=seconds,
        step=step,
        eval=f"{config.prometheus.rule_evaluation_interval:g}",
        evalms=f"{eval_ms}ms",
        esub=f"{seconds * 1000 - 1}ms:{eval_ms}ms",
        before=f"{max(seconds, BEFORE_DAYS * 86400)}s",
        wdays=f"{seconds + DAY_SUMS_LAG}s",
    )


def chart_step(period: Period) -> int:
    # About 300 points per line, in whole minutes.
    return max(60, math.ceil(period.seconds / 300 / 60) * 60)


def render_chart_query(template: str, period: Period) -> str:
    """A chart's PromQL: rates over at least 5 minutes and at least one step."""
    return Template(template).substitute(rw=f"{max(300, chart_step(period))}s")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _key(labels: dict[str, str], by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in by)


Values = dict[tuple[str, ...], tuple[float | None, str | None]]  # label values -> (value, note)


@dataclass(frozen=True)
class _Instant:
    """One instant query: PromQL evaluated at a moment."""

    promql: str
    at: float


@dataclass(frozen=True)
class _Asked:
    """The instant queries of one figure for one period."""

    query: _Instant
    fallback: _Instant | None


def _values(spec: FigureSpec, samples: list[Sample], fallback: list[Sample]) -> Values:
    """label values -> (value, note) for one period; the fallback fills label sets the query missed."""
    result: Values = {}
    for sample in samples:
        result[_key(sample.labels, spec.by)] = _postprocess(spec, sample.value)
    for sample in fallback:
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


DAY = 86400


def period_days(period: Period) -> list[int]:
    """The UTC days (start, Unix time) of a period: those whose noon falls in it.

    In UTC these are exactly the period's days; in another time zone, the UTC days with
    the same dates as the local ones (for offsets of less than 12 hours), so consecutive
    periods share no day and leave none out.
    """
    first = math.ceil((period.start_ts - DAY / 2) / DAY) * DAY
    return list(range(int(first), int(period.end_ts - DAY / 2), DAY))


def _utc_date(day: int) -> str:
    return datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%d")


def _day_sums_values(samples: list[Sample], period: Period) -> Values:
    """sum(numerator) / sum(actual) over the period's UTC days, each day counted once.

    Per day, the exporter instance with the largest actual is taken (replicas read the
    same rows; the one with the most demand saw the latest ones). A day of the period
    without sums (the analytics had not run since it ended, or was down the whole day
    after it) makes the figure "not enough data", with the days covered: never a ratio
    of a part of the period.
    """
    wanted = {_utc_date(day): day for day in period_days(period)}
    parts: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]] = {}
    for sample in samples:
        labels = dict(sample.labels)
        day, part = labels.pop("day", None), labels.pop("part", None)
        labels.pop("__name__", None)
        if day in wanted and part in ("numerator", "actual"):
            parts.setdefault((day, tuple(sorted(labels.items()))), {})[part] = sample.value
    by_day: dict[str, tuple[float, float]] = {}
    for (day, _), found in sorted(parts.items()):
        if "numerator" in found and "actual" in found:
            if day not in by_day or found["actual"] > by_day[day][1]:
                by_day[day] = (found["numerator"], found["actual"])
    if not wanted:
        return {(): (None, "no whole UTC day in the period")}
    if not samples:
        return {}  # no data: no day's sums at all around the period
    missing = sorted(set(wanted) - set(by_day))
    if missing:
        listed = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return {(): (None, f"not enough data: sums for {len(by_day)} of {len(wanted)} days (none for {listed})")}
    numerator = math.fsum(n for n, _ in by_day.values())
    actual = math.fsum(a for _, a in by_day.values())
    if actual <= 0 or not math.isfinite(numerator / actual):
        return {(): (None, "undefined (no demand)")}
    return {(): (numerator / actual, None)}


def _figures_of(spec: FigureSpec, current: Values, previous: Values, objectives: Objectives) -> list[Figure]:
    keys = sorted(set(current) | set(previous))
    if not keys:
        keys = [tuple("" for _ in spec.by)]
    figures = []
    for key in keys:
        labels = {name: value for name, value in zip(spec.by, key)} if any(key) else {}
        absent = (None, spec.absent_note if any(key) else None)
        value, note = current.get(key, absent)
        prev, prev_note = previous.get(key, absent)
        figures.append(
            Figure(
                spec.key,
                spec.section,
                spec.title,
                spec.unit,
                labels,
                value,
                prev,
                spec.better,
                spec.objective(objectives) if spec.objective else None,
                spec.objective_op,
                note,
                prev_note,
            )
        )
    return figures


def _derive(spec: FigureSpec, figures: dict[str, Figure], objectives: Objectives) -> Figure:
    if spec.key == "service.error_budget_remaining_ratio":
        allowed = 1 - objectives.request_success

        def remaining(success: float | None) -> float | None:
            return None if success is None else 1 - (1 - success) / allowed

        success = figures["service.request_success_ratio"]
        value, prev = remaining(success.value), remaining(success.previous)
    elif spec.key == "capacity.memory_peak_ratio":

        def ratio(peak: float | None, total: float | None) -> float | None:
            return None if not peak or not total else peak / total

        peak, total = figures["capacity.memory_peak_bytes"], figures["capacity.memory_total_bytes"]
        value, prev = ratio(peak.value, total.value), ratio(peak.previous, total.previous)
    else:
        raise KeyError(spec.key)
    return Figure(
        spec.key,
        spec.section,
        spec.title,
        spec.unit,
        {},
        value,
        prev,
        spec.better,
        spec.objective(objectives) if spec.objective else None,
        spec.objective_op,
    )


async def _run_all(
    instant: list[Coroutine[Any, Any, list[Sample]]], ranges: list[Coroutine[Any, Any, list[Series]]]
) -> tuple[list[list[Sample]], list[list[Series]]]:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    try:
        async with asyncio.TaskGroup() as group:
            samples = [group.create_task(c) for c in instant]
            series = [group.create_task(c) for c in ranges]
    except* QueryError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in samples], [task.result() for task in series]


async def compute(prom: Prometheus, config: Config, period: Period) -> Report:
    previous = period.previous()
    sections = sections_for(config, period)
    specs = [s for s in SPECS if s.section in sections]
    queried = [(s, s.query) for s in specs if s.query is not None]
    charts = [c for c in CHARTS if c.section in sections]
    periods = {"this": period, "previous": previous}

    # Each distinct instant query is sent once, under the name of the first figure asking
    # it: the stock value at this period's start is the one at the previous period's end.
    names: dict[_Instant, str] = {}

    def ask(name: str, template: str, p: Period, at: float) -> _Instant:
        instant = _Instant(render_query(template, p, config), at)
        names.setdefault(instant, name)
        return instant

    asked: dict[tuple[str, str], _Asked] = {}
    for spec, query in queried:
        for which, p in periods.items():
            at = p.end_ts if spec.at == "end" else p.start_ts
            if spec.day_sums:
                at = p.end_ts + DAY_SUMS_LAG  # every day's sums published by then
            name = f"{spec.key} ({which} period {p.name})"
            main = ask(name, query, p, at)
            fallback = ask(f"{name} fallback", spec.fallback, p, at) if spec.fallback else None
            asked[spec.key, which] = _Asked(main, fallback)
    step = chart_step(period)
    ranges = [
        prom.query_range(
            f"chart {chart.key} ({which} period {p.name})",
            render_chart_query(chart.query, period),
            p.start_ts + step,
            p.end_ts,
            step,
        )
        for chart in charts
        for which, p in periods.items()
    ]
    samples, chart_results = await _run_all([prom.query(name, i.promql, i.at) for i, name in names.items()], ranges)
    answers = dict(zip(names, samples))

    def values(spec: FigureSpec, which: str) -> Values:
        instants = asked[spec.key, which]
        if spec.day_sums:
            return _day_sums_values(answers[instants.query], periods[which])
        fallback = answers[instants.fallback] if instants.fallback is not None else []
        return _values(spec, answers[instants.query], fallback)

    by_key: dict[str, list[Figure]] = {}
    for spec, _ in queried:
        by_key[spec.key] = _figures_of(spec, values(spec, "this"), values(spec, "previous"), config.objectives)
    figures: list[Figure] = []
    first_of = {key: items[0] for key, items in by_key.items()}
    for spec in specs:
        if spec.query is None:
            derived = _derive(spec, first_of, config.objectives)
            by_key[spec.key] = [derived]
        figures.extend(by_key[spec.key])

    built_charts = []
    for index, chart in enumerate(charts):
        built_charts.append(
            Chart(
                chart.key,
                chart.section,
                chart.title,
                chart.unit,
                chart.legend,
                chart_results[2 * index],
                chart_results[2 * index + 1],
                step,
            )
        )
    return Report(config.output.title, period, previous, time.time(), sections, figures, built_charts)
