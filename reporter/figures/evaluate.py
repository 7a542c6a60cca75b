"""The catalogue's figures and charts as values: PromQL for a period and the one before.

Every query of a report runs concurrently (a few at a time, reporter/prometheus.py);
the first failure cancels the rest and raises QueryError naming the query. An empty
answer is "no data" (None), never 0. Counts of events come from increase(), which
extrapolates to the window's edges; they are rounded to whole events.
"""

from __future__ import annotations

import asyncio
import math
import time
from string import Template

from reporter.config import Config, Objectives
from reporter.figures.catalogue import CHARTS, SPECS, FigureSpec
from reporter.periods import Period
from reporter.prometheus import Prometheus, QueryError
from reporter.report import Chart, Figure, Report


def sections_for(config: Config, period: Period) -> list[str]:
    sections = ["service", "business", "integrations", "enhancer"]
    capacity = period.kind in config.output.capacity_periods or (
        period.kind == "custom" and period.seconds >= 28 * 86400
    )
    return sections + (["capacity"] if capacity else [])


def render_query(template: str, period: Period, config: Config) -> str:
    """A figure's PromQL for one period (placeholders: reporter/figures/catalogue.py)."""
    seconds = period.seconds
    step = int(config.output.resolution)
    return Template(template).substitute(
        w=f"{seconds}s",
        sub=f"{seconds * 1000 - 1}ms:{step}s",
        seconds=seconds,
        step=step,
        eval=f"{config.prometheus.rule_evaluation_interval:g}",
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


async def _evaluate(
    prom: Prometheus, spec: FigureSpec, period: Period, which: str, config: Config
) -> dict[tuple, tuple[float | None, str | None]]:
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
    def pair(fn):
        return fn("value"), fn("previous")

    if spec.key == "service.error_budget_remaining_ratio":
        availability = figures["service.availability_ratio"]
        allowed = 1 - objectives.availability
        value, prev = pair(
            lambda side: (
                None if getattr(availability, side) is None else 1 - (1 - getattr(availability, side)) / allowed
            )
        )
    elif spec.key == "capacity.memory_peak_ratio":
        peak, total = figures["capacity.memory_peak_bytes"], figures["capacity.memory_total_bytes"]
        value, prev = pair(
            lambda side: (
                None
                if not getattr(peak, side) or not getattr(total, side)
                else getattr(peak, side) / getattr(total, side)
            )
        )
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


async def _run_all(coroutines: list) -> list:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except* QueryError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def compute(prom: Prometheus, config: Config, period: Period) -> Report:
    previous = period.previous()
    sections = sections_for(config, period)
    specs = [s for s in SPECS if s.section in sections]
    queried = [s for s in specs if s.query is not None]
    charts = [c for c in CHARTS if c.section in sections]

    jobs = []
    for spec in queried:
        jobs.append(_evaluate(prom, spec, period, "this", config))
        jobs.append(_evaluate(prom, spec, previous, "previous", config))
    step = chart_step(period)
    for chart in charts:
        promql = render_chart_query(chart.query, period)
        for which, p in (("this", period), ("previous", previous)):
            jobs.append(
                prom.query_range(
                    f"chart {chart.key} ({which} period {p.name})", promql, p.start_ts + step, p.end_ts, step
                )
            )
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

    chart_results = results[2 * len(queried) :]
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
