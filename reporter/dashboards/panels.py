"""Each panel type drawn as HTML with inline SVG, sized to the panel's place in the grid.

Drawn: timeseries (and Grafana 7's graph, migrated as Grafana migrates it), stat (and
singlestat), gauge, bargauge, table, text. Any other type is a labelled placeholder.
"""

from __future__ import annotations

import html
import itertools
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from reporter.dashboards.data import Frame, PanelData
from reporter.dashboards.units import (
    CLASSIC_PALETTE,
    apply_mappings,
    color,
    format_value,
    text_on,
    threshold_color,
    threshold_steps,
)

DRAWN = ("timeseries", "stat", "gauge", "bargauge", "table", "text")
ALIASES = {"graph": "timeseries", "singlestat": "stat", "grafana-singlestat-panel": "stat", "table-old": "table"}
TEXT_COLOR = "#24292E"
_CLIP_IDS = itertools.count(1)
MUTED = "#6E7781"
GRID = "#E4E7EB"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class Shown:
    """One value a stat, gauge or bargauge shows: the tests read these."""

    name: str
    value: float | None
    text: str
    color: str


@dataclass
class Drawn:
    """A panel's HTML body and what it showed."""

    body: str
    status: str  # ok, no data, error, text, placeholder
    points: int = 0
    series: int = 0
    shown: list[Shown] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


# --- reducers ----------------------------------------------------------------------------------


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


REDUCERS: dict[str, Callable[[Sequence[float]], float | None]] = {
    "lastNotNull": lambda v: _finite(v)[-1] if _finite(v) else None,
    "last": lambda v: v[-1] if v else None,
    "firstNotNull": lambda v: _finite(v)[0] if _finite(v) else None,
    "first": lambda v: v[0] if v else None,
    "mean": lambda v: statistics.fmean(_finite(v)) if _finite(v) else None,
    "max": lambda v: max(_finite(v)) if _finite(v) else None,
    "min": lambda v: min(_finite(v)) if _finite(v) else None,
    "sum": lambda v: math.fsum(_finite(v)) if _finite(v) else None,
    "count": lambda v: float(len(v)),
    "range": lambda v: max(_finite(v)) - min(_finite(v)) if _finite(v) else None,
    "delta": lambda v: _delta(_finite(v)),
    "diff": lambda v: _finite(v)[-1] - _finite(v)[0] if _finite(v) else None,
    "median": lambda v: statistics.median(_finite(v)) if _finite(v) else None,
    "stdDev": lambda v: statistics.pstdev(_finite(v)) if _finite(v) else None,
    "variance": lambda v: statistics.pvariance(_finite(v)) if _finite(v) else None,
    "distinctCount": lambda v: float(len(set(_finite(v)))),
    "changeCount": lambda v: float(sum(1 for a, b in zip(v, v[1:]) if a != b)),
    "allIsZero": lambda v: float(all(x == 0 for x in v)),
    "allIsNull": lambda v: float(not _finite(v)),
}
# singlestat's valueName and other old names
REDUCER_ALIASES = {"current": "lastNotNull", "avg": "mean", "total": "sum", "last_time": "last", "diffperc": "diff"}
CALC_NAMES = {"lastNotNull": "Last *", "last": "Last", "max": "Max", "min": "Min", "mean": "Mean", "sum": "Total"}


def _delta(values: list[float]) -> float | None:
    """Grafana's delta: the increase, counter resets counted as a restart from zero."""
    if not values:
        return None
    total = 0.0
    for a, b in zip(values, values[1:]):
        total += b - a if b >= a else b
    return total


def reduce(values: Sequence[float], calc: str) -> float | None:
    calc = REDUCER_ALIASES.get(calc, calc)
    return REDUCERS.get(calc, REDUCERS["lastNotNull"])(values)


# --- field config -----------------------------------------------------------------------------


@dataclass
class FieldConfig:
    unit: str | None
    decimals: int | None
    min: float | None
    max: float | None
    thresholds: dict[str, Any] | None
    mappings: list[dict[str, Any]]
    color: dict[str, Any]
    custom: dict[str, Any]
    display_name: str | None = None


def field_config(panel: dict[str, Any]) -> FieldConfig:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}

    def num(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    decimals = defaults.get("decimals")
    return FieldConfig(
        unit=defaults.get("unit") or None,
        decimals=int(decimals) if isinstance(decimals, (int, float)) else None,
        min=num(defaults.get("min")),
        max=num(defaults.get("max")),
        thresholds=defaults.get("thresholds"),
        mappings=list(defaults.get("mappings") or []),
        color=dict(defaults.get("color") or {}),
        custom=dict(defaults.get("custom") or {}),
        display_name=defaults.get("displayName") or None,
    )


def override_for(panel: dict[str, Any], base: FieldConfig, name: str, ref: str) -> FieldConfig:
    """The field config of one series: defaults with the overrides that match it applied."""
    out = FieldConfig(**{**base.__dict__, "custom": dict(base.custom), "color": dict(base.color)})
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        matcher = override.get("matcher") or {}
        kind, option = matcher.get("id"), matcher.get("options")
        matched = (
            (kind in ("byName", "byDisplayName") and option == name)
            or (kind == "byFrameRefID" and option == ref)
            or (kind == "byRegexp" and isinstance(option, str) and _regex_match(option, name))
        )
        if not matched:
            continue
        for prop in override.get("properties") or []:
            pid, value = prop.get("id"), prop.get("value")
            if pid == "color" and isinstance(value, dict):
                out.color = value
            elif pid == "unit":
                out.unit = value
            elif pid == "decimals":
                out.decimals = value
            elif pid == "min":
                out.min = value
            elif pid == "max":
                out.max = value
            elif pid == "displayName":
                out.display_name = value
            elif pid == "thresholds":
                out.thresholds = value
            elif pid == "mappings":
                out.mappings = value or []
            elif isinstance(pid, str) and pid.startswith("custom."):
                out.custom[pid[7:]] = value
    return out


def _regex_match(pattern: str, text: str) -> bool:
    slashed = re.fullmatch(r"/(.*)/([a-z]*)", pattern)
    try:
        if slashed:
            return re.search(slashed.group(1), text, re.I if "i" in slashed.group(2) else 0) is not None
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


def _display_name(cfg: FieldConfig, frame: Frame) -> str:
    if cfg.display_name:
        return re.sub(
            r"\$\{__field\.labels\.(\w+)\}|\$\{__series\.name\}",
            lambda m: frame.labels.get(m.group(1), "") if m.group(1) else frame.name,
            cfg.display_name,
        )
    return frame.name


def series_color(cfg: FieldConfig, index: int, value: float | None = None) -> str:
    mode = cfg.color.get("mode") or "palette-classic"
    if mode == "fixed" and cfg.color.get("fixedColor"):
        return color(cfg.color.get("fixedColor"))
    if mode == "thresholds":
        lo, hi = cfg.min if cfg.min is not None else 0.0, cfg.max if cfg.max is not None else 100.0
        return threshold_color(value, cfg.thresholds, lo, hi) or CLASSIC_PALETTE[index % len(CLASSIC_PALETTE)]
    return CLASSIC_PALETTE[index % len(CLASSIC_PALETTE)]


# --- helpers -----------------------------------------------------------------------------------


def no_data(message: str = "No data") -> Drawn:
    return Drawn(f'<div class="gd-nodata">{esc(message)}</div>', "no data")


def _path(points: list[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


_DURATION_STEPS: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
_DURATION_STEPS += (43200, 86400, 172800, 604800, 1209600, 2419200, 31536000)
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _nice_step(span: float, count: int, unit: str | None = None) -> float:
    """A tick step of 1, 2, 2.5 or 5 times a power of ten; whole minutes, hours, days for durations."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    per = _SECONDS_PER_UNIT.get(unit or "")
    if per is not None and raw * per >= 1:
        seconds = next((s for s in _DURATION_STEPS if s >= raw * per), None)
        if seconds is not None:
            return seconds / per
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


_TIME_STEPS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def time_ticks(start: float, end: float, width: float, tz: tzinfo) -> list[tuple[float, str]]:
    span = max(end - start, 1.0)
    wanted = max(2, int(width / 110))
    step = next((s for s in _TIME_STEPS if span / s <= wanted), _TIME_STEPS[-1])
    offset = datetime.fromtimestamp(start, tz).utcoffset() or timedelta(0)
    shift = offset.total_seconds()
    first = math.ceil((start + shift) / step) * step - shift
    if step >= 86400:
        fmt = "%m/%d"
    elif span > 86400:
        fmt = "%m/%d %H:%M"
    elif step < 60:
        fmt = "%H:%M:%S"
    else:
        fmt = "%H:%M"
    out = []
    at = first
    while at <= end:
        out.append((at, datetime.fromtimestamp(at, tz).strftime(fmt)))
        at += step
    return out


# --- timeseries --------------------------------------------------------------------------------


def draw_timeseries(
    panel: dict[str, Any], data: PanelData, width: float, height: float, start: float, end: float, tz: tzinfo
) -> Drawn:
    frames = [f for f in data.frames if f.times]
    if not frames:
        return no_data()
    base = field_config(panel)
    options = panel.get("options") or {}
    legend_opts = options.get("legend") or {}
    show_legend = legend_opts.get("showLegend", legend_opts.get("show", True)) is not False and (
        legend_opts.get("displayMode") != "hidden"
    )
    placement = legend_opts.get("placement") or "bottom"
    calcs = [REDUCER_ALIASES.get(c, c) for c in legend_opts.get("calcs") or []]
    configs = [override_for(panel, base, f.name, f.ref) for f in frames]
    names = [_display_name(c, f) for c, f in zip(configs, frames)]
    colors = [series_color(c, i) for i, c in enumerate(configs)]

    legend_w, legend_h = 0.0, 0.0
    if show_legend:
        if placement == "right":
            legend_w = min(width * 0.45, 120 + 70 * len(calcs) + 6 * max(len(n) for n in names))
        else:
            rows = len(frames) if legend_opts.get("displayMode") == "table" else math.ceil(len(frames) / 3)
            legend_h = min(height * 0.4, 18 * rows + (18 if calcs else 0) + 4)
    plot_w, plot_h = max(width - legend_w, 80), max(height - legend_h, 60)

    # stacking: cumulative values per group, in series order
    stacked: list[list[float]] = [list(f.values) for f in frames]
    if (base.custom.get("stacking") or {}).get("mode") in ("normal", "percent"):
        running: dict[tuple[str, float], float] = {}
        for i, (frame, cfg) in enumerate(zip(frames, configs)):
            group = str((cfg.custom.get("stacking") or {}).get("group", "A"))
            for j, (t, v) in enumerate(zip(frame.times, frame.values)):
                if math.isnan(v):
                    continue
                total = running.get((group, t), 0.0) + v
                running[(group, t)] = total
                stacked[i][j] = total

    finite = [v for values in stacked for v in values if math.isfinite(v)]
    if not finite:
        return no_data()
    lo = base.min if base.min is not None else min(finite)
    hi = base.max if base.max is not None else max(finite)
    soft_min, soft_max = base.custom.get("axisSoftMin"), base.custom.get("axisSoftMax")
    if base.min is None and isinstance(soft_min, (int, float)):
        lo = min(lo, soft_min)
    if base.max is None and isinstance(soft_max, (int, float)):
        hi = max(hi, soft_max)
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if lo != 0 else (0.0, 1.0)
    ystep = _nice_step(hi - lo, max(2, int(plot_h / 40)), base.unit)
    if base.min is None:
        lo = math.floor(lo / ystep) * ystep
    if base.max is None:
        hi = math.ceil(hi / ystep) * ystep
    left, right, top, bottom = 62.0, 8.0, 6.0, 20.0
    inner_w, inner_h = max(plot_w - left - right, 10), max(plot_h - top - bottom, 10)

    def sx(t: float) -> float:
        return left + (t - start) / max(end - start, 1e-9) * inner_w

    def sy(v: float) -> float:
        clamped = min(max(v, lo - (hi - lo)), hi + (hi - lo))
        return top + (hi - clamped) / (hi - lo) * inner_h

    parts = [
        f'<svg class="gd-chart" width="{plot_w:.0f}" height="{plot_h:.0f}" viewBox="0 0 {plot_w:.0f} {plot_h:.0f}">'
    ]
    decimals = base.decimals if base.decimals is not None else _tick_decimals(ystep, base.unit, max(abs(lo), abs(hi)))
    first_tick = math.ceil(lo / ystep - 1e-9)
    for n in range(first_tick, first_tick + 1000):
        tick = round(n * ystep, 12)
        if tick > hi + ystep * 1e-6:
            break
        y = sy(tick)
        label = format_value(tick, base.unit, decimals)
        parts.append(
            f'<line x1="{left:.1f}" x2="{left + inner_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 4:.1f}" y="{y + 3.5:.1f}" class="gd-ytick">{esc(label)}</text>'
        )
    for at, label in time_ticks(start, end, inner_w, tz):
        x = sx(at)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{top + inner_h:.1f}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{top + inner_h + 14:.1f}" class="gd-xtick">{esc(label)}</text>'
        )
    threshold_mode = str((base.custom.get("thresholdsStyle") or {}).get("mode") or "off")
    if threshold_mode != "off":
        steps = threshold_steps(base.thresholds, lo, hi)
        for k, (value, shade) in enumerate(steps):
            upper = steps[k + 1][0] if k + 1 < len(steps) else hi
            if "area" in threshold_mode:
                y0, y1 = sy(min(max(value, lo), hi)), sy(min(max(upper, lo), hi))
                parts.append(
                    f'<rect x="{left:.1f}" y="{y1:.1f}" width="{inner_w:.1f}" height="{max(y0 - y1, 0):.1f}" '
                    f'fill="{shade}" fill-opacity="0.12"/>'
                )
            if ("line" in threshold_mode or "dashed" in threshold_mode) and math.isfinite(value) and lo <= value <= hi:
                dash = ' stroke-dasharray="6 4"' if "dashed" in threshold_mode else ""
                parts.append(
                    f'<line x1="{left:.1f}" x2="{left + inner_w:.1f}" y1="{sy(value):.1f}" y2="{sy(value):.1f}" '
                    f'stroke="{shade}"{dash}/>'
                )
    points_total = 0
    clip = f"gd-clip-{next(_CLIP_IDS)}"  # unique in a page that stacks several dashboards
    parts.append(f'<clipPath id="{clip}"><rect x="{left}" y="{top}" width="{inner_w:.1f}" height="{inner_h:.1f}"/>')
    parts.append(f'</clipPath><g clip-path="url(#{clip})">')
    for i, frame in enumerate(frames):
        cfg = configs[i]
        if (cfg.custom.get("hideFrom") or {}).get("viz"):
            continue
        values = stacked[i]
        gap = _gap(frame.times, data.interval)
        segments: list[list[tuple[float, float]]] = [[]]
        previous = None
        for t, v in zip(frame.times, values):
            if not math.isfinite(v):
                segments.append([])
                previous = None
                continue
            if previous is not None and t - previous > gap and not cfg.custom.get("spanNulls"):
                segments.append([])
            segments[-1].append((sx(t), sy(v)))
            previous = t
        segments = [s for s in segments if s]
        points_total += sum(len(s) for s in segments)
        style = cfg.custom.get("drawStyle") or "line"
        width_px = float(cfg.custom.get("lineWidth") or 1)
        fill = float(cfg.custom.get("fillOpacity") or 0) / 100
        stroke = colors[i]
        name = esc(names[i])
        if style == "bars":
            bar = max(inner_w / max(len(frame.times), 1) * 0.6, 1)
            base_y = sy(max(lo, 0.0)) if lo < 0 < hi else sy(lo)
            rects = "".join(
                f'<rect x="{x - bar / 2:.1f}" y="{min(y, base_y):.1f}" width="{bar:.1f}" '
                f'height="{abs(base_y - y):.1f}"/>'
                for s in segments
                for x, y in s
            )
            parts.append(f'<g class="gd-series" data-name="{name}" fill="{stroke}">{rects}</g>')
            continue
        paths = []
        for segment in segments:
            if fill > 0 and len(segment) > 1:
                floor_y = sy(max(lo, 0.0)) if lo <= 0 else sy(lo)
                area = segment + [(segment[-1][0], floor_y), (segment[0][0], floor_y)]
                paths.append(f'<path d="{_path(area)}Z" fill="{stroke}" fill-opacity="{fill:.2f}" stroke="none"/>')
            if len(segment) == 1 or style == "points" or cfg.custom.get("showPoints") == "always":
                paths.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{1.5 + width_px:.1f}"/>' for x, y in segment)
            if style != "points" and len(segment) > 1:
                paths.append(f'<path d="{_path(segment)}" fill="none" stroke-width="{width_px:g}"/>')
        parts.append(
            f'<g class="gd-series" data-name="{name}" data-points="{sum(len(s) for s in segments)}" '
            f'stroke="{stroke}" fill="{stroke}" stroke-linejoin="round">{"".join(paths)}</g>'
        )
    parts.append("</g></svg>")
    svg = "".join(parts)
    body = svg
    if show_legend:
        body = _legend_html(frames, names, colors, configs, calcs, legend_opts, placement, legend_w, legend_h, svg)
    return Drawn(body, "ok" if points_total else "no data", points_total, len(frames))


def _tick_decimals(step: float, unit: str | None, top: float) -> int | None:
    """Decimals for axis labels: as many as the step needs, while the unit shows the value unscaled
    (durations, and values from 1000 up, rescale: their formatter chooses)."""
    if unit in _SECONDS_PER_UNIT or (unit != "percentunit" and abs(top) >= 1000):
        return None
    if unit == "percentunit":
        step *= 100
    if step >= 1 or step <= 0:
        return None  # whole ticks print without decimals, 2.5 with one
    return max(0, -math.floor(math.log10(step) + 1e-9) + (1 if f"{step:g}".endswith("5") else 0))


def _gap(times: list[float], interval: float) -> float:
    if len(times) < 2:
        return math.inf
    spacing = min(b - a for a, b in zip(times, times[1:]))
    return max(spacing, interval) * 1.5


def _legend_html(
    frames: list[Frame],
    names: list[str],
    colors: list[str],
    configs: list[Any],
    calcs: list[str],
    opts: dict[str, Any],
    placement: str,
    legend_w: float,
    legend_h: float,
    svg: str,
) -> str:
    swatch = '<span class="gd-swatch" style="background:{0}"></span>'
    if opts.get("displayMode") == "table" or calcs:
        head = "".join(f"<th>{esc(CALC_NAMES.get(c, c))}</th>" for c in calcs)
        rows = []
        for frame, name, shade, cfg in zip(frames, names, colors, configs):
            cells = "".join(
                f"<td>{esc(format_value(reduce(frame.values, c), cfg.unit, cfg.decimals))}</td>" for c in calcs
            )
            rows.append(f"<tr><th>{swatch.format(shade)}{esc(name)}</th>{cells}</tr>")
        legend = f'<table class="gd-legend-table"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
    else:
        legend = "".join(
            f'<span class="gd-legend-item">{swatch.format(shade)}{esc(name)}</span>'
            for name, shade in zip(names, colors)
        )
    if placement == "right":
        return (
            f'<div class="gd-ts gd-ts-right">{svg}'
            f'<div class="gd-legend" style="width:{legend_w:.0f}px">{legend}</div></div>'
        )
    return f'<div class="gd-ts">{svg}<div class="gd-legend" style="max-height:{legend_h:.0f}px">{legend}</div></div>'


# --- stat, gauge, bargauge ---------------------------------------------------------------------


def _reduced(panel: dict[str, Any], data: PanelData) -> list[tuple[Frame, FieldConfig, str, float | None]]:
    """(frame, its field config, display name, value) as reduceOptions asks."""
    options = panel.get("options") or {}
    reduce_opts = options.get("reduceOptions") or {}
    calcs = reduce_opts.get("calcs") or ["lastNotNull"]
    base = field_config(panel)
    out = []
    for frame in data.frames:
        cfg = override_for(panel, base, frame.name, frame.ref)
        name = _display_name(cfg, frame)
        if reduce_opts.get("values"):
            limit = int(reduce_opts.get("limit") or 5000)
            for v in frame.values[:limit]:
                out.append((frame, cfg, name, None if math.isnan(v) else v))
        else:
            out.append((frame, cfg, name, reduce(frame.values, str(calcs[0]))))
    return out


def _shown(cfg: FieldConfig, name: str, value: float | None, lo: float, hi: float, index: int) -> Shown:
    mapped = apply_mappings(value, cfg.mappings)
    text = mapped.text if mapped and mapped.text is not None else format_value(value, cfg.unit, cfg.decimals)
    mode = cfg.color.get("mode") or "thresholds"
    if mapped and mapped.color:
        shade = mapped.color
    elif mode == "thresholds" or mode.startswith("continuous"):
        shade = threshold_color(value, cfg.thresholds, lo, hi) or TEXT_COLOR
    else:
        shade = series_color(cfg, index, value)
    return Shown(name, value, text, shade)


def _bounds(cfg: FieldConfig, values: list[float | None], default_lo: float = 0.0) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = cfg.min if cfg.min is not None else min([default_lo, *finite])
    hi = cfg.max if cfg.max is not None else (max(finite) if finite else 100.0)
    if cfg.max is None and cfg.unit == "percentunit":
        hi = max(hi, 1.0)
    elif cfg.max is None and cfg.unit == "percent":
        hi = max(hi, 100.0)
    if hi <= lo:
        hi = lo + 1
    return lo, hi


def _grid(count: int, width: float, height: float, aspect: float) -> tuple[int, int]:
    best, best_score = (1, count), -1.0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        score = min(width / cols / aspect, height / rows)
        if score > best_score:
            best, best_score = (cols, rows), score
    return best


def _text_size(text: str, box_w: float, box_h: float, share: float = 0.5) -> float:
    return max(9.0, min(box_h * share, box_w / max(len(text), 1) * 1.45, 64.0))


def draw_stat(panel: dict[str, Any], data: PanelData, width: float, height: float) -> Drawn:
    items = _reduced(panel, data)
    if not items:
        return no_data()
    options = panel.get("options") or {}
    color_mode = options.get("colorMode") or "value"
    graph_mode = options.get("graphMode") or "area"
    text_mode = options.get("textMode") or "auto"
    shown_all = []
    base_lo, base_hi = _bounds(field_config(panel), [v for *_, v in items])
    for index, (_, cfg, name, value) in enumerate(items):
        lo, hi = (cfg.min, cfg.max) if cfg.min is not None and cfg.max is not None else (base_lo, base_hi)
        shown_all.append(_shown(cfg, name, value, lo, hi, index))
    cols, rows = _grid(len(items), width, height, 2.2 if len(items) > 1 else 1.0)
    tile_w, tile_h = (width - 4 * (cols - 1)) / cols, (height - 4 * (rows - 1)) / rows
    show_name = text_mode in ("value_and_name", "name") or (text_mode == "auto" and len(items) > 1)
    show_value = text_mode != "name"
    tiles = []
    for (frame, _, _, _), shown in zip(items, shown_all):
        background = shown.color if color_mode == "background" else "transparent"
        foreground = (
            text_on(shown.color)
            if color_mode == "background"
            else (shown.color if color_mode == "value" else TEXT_COLOR)
        )
        value_size = _text_size(shown.text, tile_w, tile_h, 0.45 if show_name else 0.55)
        name_size = max(8.0, min(value_size * 0.45, 16.0, tile_w / max(len(shown.name), 1) * 1.6))
        spark = ""
        if graph_mode == "area" and len(frame.times) > 1 and not frame.instant:
            spark = _sparkline(frame, tile_w, tile_h, foreground if color_mode == "background" else shown.color)
        name_html = f'<div class="gd-stat-name" style="font-size:{name_size:.0f}px">{esc(shown.name)}</div>'
        value_html = f'<div class="gd-stat-value" style="font-size:{value_size:.0f}px">{esc(shown.text)}</div>'
        tiles.append(
            f'<div class="gd-stat-tile" data-name="{esc(shown.name)}" data-value="{shown.value}" '
            f'data-text="{esc(shown.text)}" style="background:{background};color:{foreground};'
            f'width:{tile_w:.0f}px;height:{tile_h:.0f}px">{spark}'
            f"{name_html if show_name else ''}{value_html if show_value else ''}</div>"
        )
    body = f'<div class="gd-stat" style="grid-template-columns:repeat({cols},1fr)">{"".join(tiles)}</div>'
    found = any(s.value is not None for s in shown_all)
    return Drawn(body, "ok" if found else "no data", sum(len(f.times) for f in data.frames), len(items), shown_all)


def _sparkline(frame: Frame, width: float, height: float, stroke: str) -> str:
    pairs = [(t, v) for t, v in zip(frame.times, frame.values) if math.isfinite(v)]
    if len(pairs) < 2:
        return ""
    t0, t1 = pairs[0][0], pairs[-1][0]
    lo, hi = min(v for _, v in pairs), max(v for _, v in pairs)
    span = hi - lo or 1.0
    top = height * 0.55
    points = [((t - t0) / max(t1 - t0, 1e-9) * width, top + (hi - v) / span * (height - top - 2)) for t, v in pairs]
    area = points + [(width, height), (0.0, height)]
    return (
        f'<svg class="gd-spark" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f'<path d="{_path(area)}Z" fill="{stroke}" fill-opacity="0.18" stroke="none"/>'
        f'<path d="{_path(points)}" fill="none" stroke="{stroke}" stroke-opacity="0.6"/></svg>'
    )


def _arc(cx: float, cy: float, r: float, a0: float, a1: float) -> str:
    """An SVG arc from angle a0 to a1 (degrees, 0 = up, clockwise)."""
    a1 = min(a1, a0 + 359.99)

    def point(a: float) -> tuple[float, float]:
        rad = math.radians(a - 90)
        return cx + r * math.cos(rad), cy + r * math.sin(rad)

    (x0, y0), (x1, y1) = point(a0), point(a1)
    large = 1 if a1 - a0 > 180 else 0
    return f"M{x0:.1f},{y0:.1f}A{r:.1f},{r:.1f} 0 {large} 1 {x1:.1f},{y1:.1f}"


def draw_gauge(panel: dict[str, Any], data: PanelData, width: float, height: float) -> Drawn:
    items = _reduced(panel, data)
    if not items:
        return no_data()
    options = panel.get("options") or {}
    base = field_config(panel)
    base_lo, base_hi = _bounds(base, [v for *_, v in items])
    cols, rows = _grid(len(items), width, height, 1.2)
    cell_w, cell_h = width / cols, height / rows
    shown_all, cells = [], []
    for index, (_, cfg, name, value) in enumerate(items):
        lo = cfg.min if cfg.min is not None else base_lo
        hi = cfg.max if cfg.max is not None else base_hi
        shown = _shown(cfg, name, value, lo, hi, index)
        shown_all.append(shown)
        name_h = 16.0 if len(items) > 1 else 0.0
        r = max(min(cell_w * 0.42, (cell_h - name_h) * 0.55), 10)
        cx, cy = cell_w / 2, name_h + r + 6
        thick = r * 0.22
        parts = [
            f'<svg width="{cell_w:.0f}" height="{cell_h:.0f}" viewBox="0 0 {cell_w:.0f} {cell_h:.0f}">',
            f'<path d="{_arc(cx, cy, r - thick / 2, -120, 120)}" stroke="{GRID}" stroke-width="{thick:.1f}" '
            'fill="none"/>',
        ]
        if options.get("showThresholdMarkers", True):
            steps = threshold_steps(cfg.thresholds, lo, hi)
            for k, (step_lo, shade) in enumerate(steps):
                step_hi = steps[k + 1][0] if k + 1 < len(steps) else hi
                a0 = -120 + 240 * (min(max(step_lo, lo), hi) - lo) / (hi - lo)
                a1 = -120 + 240 * (min(max(step_hi, lo), hi) - lo) / (hi - lo)
                if a1 > a0:
                    parts.append(
                        f'<path d="{_arc(cx, cy, r + 3, a0, a1)}" stroke="{shade}" stroke-width="4" fill="none"/>'
                    )
        if value is not None and math.isfinite(value):
            fraction = min(max((value - lo) / (hi - lo), 0.0), 1.0)
            if fraction > 0:
                parts.append(
                    f'<path class="gd-gauge-value" d="{_arc(cx, cy, r - thick / 2, -120, -120 + 240 * fraction)}" '
                    f'stroke="{shown.color}" stroke-width="{thick:.1f}" fill="none"/>'
                )
        size = _text_size(shown.text, r * 1.3, r, 0.45)
        parts.append(
            f'<text x="{cx:.1f}" y="{cy + size * 0.35:.1f}" text-anchor="middle" font-size="{size:.0f}" '
            f'fill="{shown.color}" font-weight="500">{esc(shown.text)}</text>'
        )
        if name_h:
            parts.append(
                f'<text x="{cx:.1f}" y="12" text-anchor="middle" font-size="12" fill="{TEXT_COLOR}">{esc(name)}</text>'
            )
        parts.append("</svg>")
        cells.append(
            f'<div class="gd-gauge" data-name="{esc(name)}" data-value="{value}" data-text="{esc(shown.text)}">'
            f"{''.join(parts)}</div>"
        )
    body = f'<div class="gd-cells" style="grid-template-columns:repeat({cols},1fr)">{"".join(cells)}</div>'
    found = any(s.value is not None for s in shown_all)
    return Drawn(body, "ok" if found else "no data", sum(len(f.times) for f in data.frames), len(items), shown_all)


def draw_bargauge(panel: dict[str, Any], data: PanelData, width: float, height: float) -> Drawn:
    items = _reduced(panel, data)
    if not items:
        return no_data()
    options = panel.get("options") or {}
    base = field_config(panel)
    base_lo, base_hi = _bounds(base, [v for *_, v in items])
    vertical = options.get("orientation") == "vertical"
    mode = options.get("displayMode") or "gradient"
    shown_all, rows = [], []
    count = len(items)
    for index, (_, cfg, name, value) in enumerate(items):
        lo = cfg.min if cfg.min is not None else base_lo
        hi = cfg.max if cfg.max is not None else base_hi
        shown = _shown(cfg, name, value, lo, hi, index)
        shown_all.append(shown)
        fraction = 0.0
        if value is not None and math.isfinite(value):
            fraction = min(max((value - lo) / (hi - lo), 0.0), 1.0)
        fill = shown.color
        if mode == "gradient":
            fill = f"linear-gradient({'0deg' if vertical else '90deg'}, {shown.color}55, {shown.color})"
        elif mode == "lcd":
            fill = f"repeating-linear-gradient(90deg, {shown.color} 0 6px, transparent 6px 8px)"
        size = "height" if vertical else "width"
        rows.append(
            f'<div class="gd-bar-row" data-name="{esc(name)}" data-value="{value}" data-text="{esc(shown.text)}">'
            f'<div class="gd-bar-name">{esc(name)}</div>'
            f'<div class="gd-bar-track"><div class="gd-bar-fill" style="{size}:{fraction * 100:.1f}%;'
            f'background:{fill}"></div></div>'
            f'<div class="gd-bar-value" style="color:{shown.color}">{esc(shown.text)}</div></div>'
        )
    style = (
        f"grid-template-columns:repeat({count},1fr)"
        if vertical
        else f"grid-template-rows:repeat({count},minmax(0,{max(height / count, 12):.0f}px))"
    )
    cls = "gd-bars gd-bars-vertical" if vertical else "gd-bars"
    body = f'<div class="{cls}" style="{style}">{"".join(rows)}</div>'
    found = any(s.value is not None for s in shown_all)
    return Drawn(body, "ok" if found else "no data", sum(len(f.times) for f in data.frames), count, shown_all)


# --- table -------------------------------------------------------------------------------------


def draw_table(panel: dict[str, Any], data: PanelData, tz: tzinfo) -> Drawn:
    if not data.frames:
        return no_data()
    cfg = field_config(panel)
    several = len({f.ref for f in data.frames}) > 1
    columns: list[str] = ["Time"]
    for frame in data.frames:
        for key in sorted(frame.labels, key=lambda k: (k != "__name__", k)):
            if key not in columns:
                columns.append(key)
    value_columns = []
    for frame in data.frames:
        column = f"Value #{frame.ref}" if several else "Value"
        if column not in value_columns:
            value_columns.append(column)
    columns += value_columns
    records: list[dict[str, Any]] = []
    for frame in data.frames:
        pairs = [(t, v) for t, v in zip(frame.times, frame.values)]
        if not pairs:
            continue
        at, value = pairs[-1] if frame.instant else (pairs[-1][0], reduce(frame.values, "lastNotNull"))
        record: dict[str, Any] = {"Time": at, **frame.labels}
        record[f"Value #{frame.ref}" if several else "Value"] = value
        records.append(record)
    if not records:
        return no_data()
    names = {c: c for c in columns}
    for transform in panel.get("transformations") or []:
        if transform.get("disabled"):
            continue
        if transform.get("id") == "merge":
            # one row for the records that agree on every field but the values (Time and labels)
            merged: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
            for record in records:
                fields = tuple(sorted((k, v) for k, v in record.items() if not k.startswith("Value")))
                merged.setdefault(fields, {}).update(record)
            records = list(merged.values())
        elif transform.get("id") == "organize":
            opts = transform.get("options") or {}
            excluded = {k for k, v in (opts.get("excludeByName") or {}).items() if v}
            columns = [c for c in columns if c not in excluded]
            index = opts.get("indexByName") or {}
            if index:
                columns.sort(key=lambda c: index.get(c, len(columns) + columns.index(c)))
            for old, new in (opts.get("renameByName") or {}).items():
                if new and old in names:
                    names[old] = new
    rows = []
    for record in records:
        cells = []
        for column in columns:
            value = record.get(column)
            if column == "Time" and isinstance(value, float):
                text = datetime.fromtimestamp(value, tz).strftime("%Y-%m-%d %H:%M:%S")
            elif column.startswith("Value"):
                text = format_value(value, cfg.unit, cfg.decimals) if value is not None else ""
            else:
                text = "" if value is None else str(value)
            cells.append(text)
        rows.append(cells)
    head = "".join(f"<th>{esc(names[c])}</th>" for c in columns)
    body_rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    show_header = (panel.get("options") or {}).get("showHeader", True)
    thead = f"<thead><tr>{head}</tr></thead>" if show_header else ""
    table = f'<table class="gd-table">{thead}<tbody>{body_rows}</tbody></table>'
    drawn = Drawn(f'<div class="gd-table-wrap">{table}</div>', "ok", len(rows), len(data.frames))
    drawn.rows = [[names[c] for c in columns], *rows]
    return drawn


# --- text --------------------------------------------------------------------------------------


_BULLET = re.compile(r"^\s*([-*+]|\d+\.)\s+")


def draw_text(panel: dict[str, Any], content: str) -> Drawn:
    """Markdown's common forms (headings, emphasis, code, links' text, lists); HTML as plain text."""
    mode = (panel.get("options") or {}).get("mode") or panel.get("mode") or "markdown"
    if mode == "html":
        content = re.sub(r"<[^>]+>", " ", content)
    blocks, lines = [], []
    for line in content.splitlines() + [""]:
        if line.strip():
            lines.append(line)
            continue
        if lines:
            blocks.append(lines)
            lines = []
    out = []
    for block in blocks:
        if all(re.match(r"\s*([-*+]|\d+\.)\s", b) for b in block):
            items = "".join(f"<li>{_inline(_BULLET.sub('', b))}</li>" for b in block)
            out.append(f"<ul>{items}</ul>")
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", block[0])
        if heading and len(block) == 1:
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        out.append(f"<p>{_inline(' '.join(block))}</p>")
    return Drawn(f'<div class="gd-text">{"".join(out)}</div>', "text")


def _inline(text: str) -> str:
    text = esc(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<!\*)\*([^*]+)\*(?!\*)", r"<em>\1</em>", text)
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"<u>\1</u>", text)


def placeholder(kind: str) -> Drawn:
    return Drawn(f'<div class="gd-placeholder">panel type {esc(kind)} not rendered</div>', "placeholder")
