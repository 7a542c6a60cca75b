"""A panel's queries run as Grafana's Prometheus data source runs them.

Step: the panel's interval is the time range over maxDataPoints (the panel's width in
pixels unless the panel says otherwise) rounded as Grafana rounds it, at least the panel's
min interval or the data source's scrape interval (timeInterval, 15s by default); then per
target max(interval * intervalFactor, the target's min step, range / 11000). The range is
aligned to the step. `$__rate_interval` is max($__interval + scrape interval, 4 * scrape
interval), the scrape interval being the target's min step when it has one.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass, field
from typing import Any

from reporter.dashboards.variables import Scope, duration_seconds, format_duration, round_interval
from servicekit.prometheus import PrometheusClient, PrometheusError

LEGEND_RE = re.compile(r"\{\{\s*(.+?)\s*\}\}")


@dataclass
class Frame:
    """One series of one target: the legend Grafana would show, and its points."""

    ref: str
    labels: dict[str, str]
    name: str
    times: list[float]
    values: list[float]  # NaN for a sample Prometheus answered as NaN
    instant: bool = False


@dataclass
class PanelData:
    frames: list[Frame] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)  # what was sent, for the record
    interval: float = 0.0


def legend(fmt: str | None, labels: dict[str, str], expr: str) -> str:
    """legendFormat with {{label}} filled in; none or __auto: Grafana's metric{labels} name."""
    if fmt and fmt != "__auto":
        return LEGEND_RE.sub(lambda m: labels.get(m.group(1), ""), fmt)
    name = labels.get("__name__", "")
    rest = [f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__"]
    if not name and not rest:
        return expr
    return name + ("{" + ", ".join(rest) + "}" if rest else "")


class Source:
    """Prometheus through servicekit's client (auth, TLS, retries), answers parsed with
    every label kept (__name__ too, for legends) and NaN/Inf values as floats."""

    def __init__(self, client: PrometheusClient, concurrency: int = 8):
        self.client = client
        self._limit = asyncio.Semaphore(concurrency)

    async def _data(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        async with self._limit:
            return await self.client.api(path, params)

    async def range(self, expr: str, start: float, end: float, step: float) -> list[tuple[dict[str, str], Any]]:
        data = await self._data(
            "/api/v1/query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        )
        return [(_labels(item), item.get("values") or []) for item in _result(data)]

    async def instant(self, expr: str, at: float) -> list[tuple[dict[str, str], Any]]:
        data = await self._data("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return [({}, [result])]
        if kind == "string":
            return []
        return [(_labels(item), [item.get("value")]) for item in _result(data)]

    async def lookup(self, kind: str, what: str, selector: Any, start: float, end: float) -> list[str]:
        """Values for a query variable, as Grafana finds them over the dashboard's range."""
        window = format_duration(max(60, math.ceil(end - start)))
        if kind == "label_values":
            series = selector or f'{{{what}!=""}}'
            expr = f"count by ({what}) (last_over_time({series}[{window}]))"
            found = {labels.get(what, "") for labels, _ in await self.instant(expr, end)}
            return sorted(v for v in found if v)
        if kind == "label_names":
            if not selector:
                raise ValueError("label_names() without a series selector is not supported")
            names: set[str] = set()
            for labels, _ in await self.instant(f"last_over_time({selector}[{window}])", end):
                names.update(labels)
            return sorted(names)
        # query_result(expr): each result as Grafana prints it, `name{labels} value timestamp`
        out = []
        for labels, points in await self.instant(what, end):
            name = labels.get("__name__", "")
            rest = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
            at, value = points[0] if points and points[0] else (end, "")
            out.append(f"{name}{{{rest}}} {value} {round(float(at) * 1000)}")
        return out


def _result(data: dict[str, Any]) -> list[dict[str, Any]]:
    result = data.get("result")
    return [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []


def _labels(item: dict[str, Any]) -> dict[str, str]:
    metric = item.get("metric")
    return {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def panel_interval(
    panel: dict[str, Any], scope: Scope, width_px: float, scrape_interval: float
) -> tuple[float, float | None]:
    """Grafana's panel interval (seconds) and the panel's own min interval, if any."""
    span = max(scope.end - scope.start, 1.0)
    max_points = panel.get("maxDataPoints") or max(int(width_px), 1)
    raw_min = panel.get("interval")
    min_interval = None
    if raw_min:
        try:
            min_interval = duration_seconds(scope.interpolate(str(raw_min), prometheus=False).lstrip("><"))
        except ValueError:
            min_interval = None
    low = min_interval if min_interval is not None else scrape_interval
    return max(round_interval(span / float(max_points)), low), min_interval


async def run_panel(
    source: Source,
    panel: dict[str, Any],
    scope: Scope,
    width_px: float,
    scrape_interval: float = 15.0,
    instant_only: bool = False,
) -> PanelData:
    interval, _ = panel_interval(panel, scope, width_px, scrape_interval)
    out = PanelData(interval=interval)
    span = scope.end - scope.start
    jobs = []
    for target in panel.get("targets") or []:
        if target.get("hide") or not str(target.get("expr") or "").strip():
            continue
        factor = float(target.get("intervalFactor") or 1)
        target_min = None
        if target.get("interval"):
            try:
                target_min = duration_seconds(scope.interpolate(str(target["interval"]), prometheus=False).lstrip("><"))
            except ValueError:
                target_min = None
        safe = span / 11000
        if safe > 1:
            safe = math.ceil(safe)
        step = max(interval * factor, target_min if target_min is not None else interval, safe)
        scrape = target_min if target_min is not None else scrape_interval
        rate_interval = max(step + scrape, 4 * scrape)
        expr = scope.interpolate(str(target["expr"]), interval=step, rate_interval=rate_interval)
        instant = instant_only or (bool(target.get("instant")) and not target.get("range"))
        jobs.append(_run_target(source, target, expr, scope, step, instant, out))
    await asyncio.gather(*jobs)
    # Grafana keeps the targets' order (A, B, ...)
    order = {str(t.get("refId", "")): i for i, t in enumerate(panel.get("targets") or [])}
    out.frames.sort(key=lambda f: order.get(f.ref, 0))
    return out


async def _run_target(
    source: Source, target: dict[str, Any], expr: str, scope: Scope, step: float, instant: bool, out: PanelData
) -> None:
    ref = str(target.get("refId") or "A")
    fmt = target.get("legendFormat")
    try:
        if instant:
            out.queries.append({"ref": ref, "expr": expr, "instant": True, "time": scope.end})
            answer = await source.instant(expr, scope.end)
        else:
            start = math.floor(scope.start / step) * step
            end = math.floor(scope.end / step) * step
            out.queries.append({"ref": ref, "expr": expr, "start": start, "end": end, "step": step})
            answer = await source.range(expr, start, end, step)
    except PrometheusError as exc:  # the query's fault: the panel says so; unreachable Prometheus propagates
        out.errors.append(f"{ref}: {exc}")
        return
    frames = []
    for labels, points in answer:
        pairs = [p for p in points if isinstance(p, list) and len(p) == 2]
        frames.append(
            Frame(
                ref=ref,
                labels=labels,
                name=legend(fmt, labels, expr),
                times=[float(p[0]) for p in pairs],
                values=[_number(p[1]) for p in pairs],
                instant=instant,
            )
        )
    frames.sort(key=lambda f: sorted(f.labels.items()))
    out.frames.extend(frames)
