"""A dashboard's JSON (the files Grafana is provisioned with) drawn without Grafana.

Variables are resolved against Prometheus for the time range, each panel's queries run
concurrently, and the panels are placed on Grafana's grid: 24 columns, rows 30 px high with
8 px between them (react-grid-layout's geometry), collapsed rows expanded in place as
Grafana expands them. The HTML is self-contained (inline SVG and CSS, no script, no
external reference); the PNG is a headless Chromium screenshot of that HTML.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

import reporter.dashboards.panels as draw
from reporter.dashboards.data import PanelData, Source, run_panel
from reporter.dashboards.panels import Drawn, Shown, esc
from reporter.dashboards.variables import Scope, resolve_variables
from servicekit.prometheus import PrometheusClient, PrometheusConfig, PrometheusUnavailable

log = logging.getLogger("reporter.dashboards")

GRID_COLUMNS = 24
CELL_HEIGHT = 30
MARGIN = 8
HEADER = 28  # panel title bar
PADDING = 6  # inside a panel, around its body
DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"


@dataclass
class RenderedPanel:
    title: str
    type: str
    status: str  # ok, no data, error, text, placeholder, row
    points: int = 0
    series: int = 0
    shown: list[Shown] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height in px


@dataclass
class RenderedDashboard:
    title: str
    fragment: str  # a <section> with its own <style>, to embed in another page
    document: str  # a whole HTML page
    panels: list[RenderedPanel]
    variables: dict[str, list[str]]
    start: float
    end: float
    width: int
    height: int
    png: bytes | None = None

    def as_tuple(self) -> tuple[str, str, bytes | None]:
        return self.title, self.fragment, self.png


def find_dashboard(name: str | Path, directory: Path = DASHBOARDS_DIR) -> Path:
    """A path as it is, or a shipped dashboard's name: 'overview' is grafana/dashboards/overview.json."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (directory / f"{name}.json", directory / str(name)):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no dashboard {str(name)!r} (neither a file nor one of {directory})")


def load_dashboard(dashboard: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(dashboard, dict):
        data = dashboard
    else:
        data = json.loads(find_dashboard(dashboard).read_text(encoding="utf-8"))
    # an export wrapped by the HTTP API: {"dashboard": {...}, "meta": {...}}
    if "panels" not in data and isinstance(data.get("dashboard"), dict):
        data = data["dashboard"]
    if not data.get("panels") and isinstance(data.get("rows"), list):
        data = {**data, "panels": _rows_to_grid(data["rows"])}
    return data


def _grid_height(height: Any) -> int:
    try:
        pixels = int(str(height).replace("px", "")) if height not in (None, "") else 250
    except ValueError:
        pixels = 250
    return math.ceil(max(pixels, CELL_HEIGHT * 3) / (CELL_HEIGHT + MARGIN))


def _rows_to_grid(rows: list[Any]) -> list[dict[str, Any]]:
    """Schema < 16 dashboards (Grafana 4's rows of spans, 12 to a row) on the 24-column grid,
    as Grafana's DashboardMigrator.upgradeToGridLayout places them."""
    rows = [r for r in rows if isinstance(r, dict) and not r.get("repeatIteration")]
    show_rows = any(r.get("collapse") or r.get("showTitle") or r.get("repeat") for r in rows)
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        row_height = _grid_height(row.get("height"))
        header: dict[str, Any] | None = None
        if show_rows:
            header = {
                "type": "row",
                "title": row.get("title") or "",
                "collapsed": bool(row.get("collapse")),
                "panels": [],
                "gridPos": {"x": 0, "y": y, "w": GRID_COLUMNS, "h": 1},
            }
            y += 1
        x, line_y, line_h = 0, y, 0
        for panel in row.get("panels") or []:
            if not isinstance(panel, dict):
                continue
            w = min(max(int(math.floor(float(panel.get("span") or 4))) * 2, 1), GRID_COLUMNS)
            h = _grid_height(panel["height"]) if panel.get("height") else row_height
            if x + w > GRID_COLUMNS:
                x, line_y, line_h = 0, line_y + line_h, 0
            placed = {**panel, "gridPos": {"x": x, "y": line_y, "w": w, "h": h}}
            x, line_h = x + w, max(line_h, h)
            if header is not None and header["collapsed"]:
                header["panels"].append(placed)
            else:
                panels.append(placed)
        if header is not None:
            panels.append(header)
        if not (header is not None and header["collapsed"]):
            y = max(y + row_height, line_y + line_h)
    return panels


def _timezone(name: str | None, dashboard: dict[str, Any]) -> tzinfo:
    name = name or str(dashboard.get("timezone") or "")
    if not name or name.lower() in ("utc", "browser"):
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:  # an unknown zone name: UTC, and say so
        log.warning("unknown time zone %r, using UTC", name)
        return UTC


# --- layout ------------------------------------------------------------------------------------


@dataclass
class Placed:
    panel: dict[str, Any]
    x: int
    y: int
    w: int
    h: int
    collapsed_row: bool = False


def _pos(panel: dict[str, Any]) -> tuple[int, int, int, int]:
    grid = panel.get("gridPos") or {}

    def get(key: str, default: int) -> int:
        value = grid.get(key)
        return int(value) if isinstance(value, (int, float)) else default

    w = min(max(get("w", 12), 1), GRID_COLUMNS)
    return min(max(get("x", 0), 0), GRID_COLUMNS - w), max(get("y", 0), 0), w, max(get("h", 8), 1)


def layout(dashboard: dict[str, Any], expand_collapsed: bool = True) -> list[Placed]:
    """Panels with their grid positions; collapsed rows' panels put back as Grafana expands them."""
    top = sorted(dashboard.get("panels") or [], key=lambda p: (_pos(p)[1], _pos(p)[0]))
    out: list[Placed] = []
    shift = 0
    for panel in top:
        x, y, w, h = _pos(panel)
        y += shift
        if panel.get("type") == "row":
            children = panel.get("panels") or []
            collapsed = bool(panel.get("collapsed"))
            out.append(Placed(panel, 0, y, GRID_COLUMNS, 1, collapsed_row=collapsed))
            if collapsed and children and expand_collapsed:
                first = min(_pos(c)[1] for c in children)
                diff = first - (y + 1)
                bottom = y + 1
                for child in sorted(children, key=lambda p: (_pos(p)[1], _pos(p)[0])):
                    cx, cy, cw, ch = _pos(child)
                    out.append(Placed(child, cx, cy - diff, cw, ch))
                    bottom = max(bottom, cy - diff + ch)
                shift += bottom - (y + 1)
            continue
        if panel.get("panels") and not panel.get("type"):
            continue
        out.append(Placed(panel, x, y, w, h))
    return out


def _box(placed: Placed, width: int) -> tuple[int, int, int, int]:
    col = (width - MARGIN * (GRID_COLUMNS - 1)) / GRID_COLUMNS
    left = round(col * placed.x + MARGIN * placed.x)
    top = round(CELL_HEIGHT * placed.y + MARGIN * placed.y)
    w = round(col * placed.w + MARGIN * max(placed.w - 1, 0))
    h = round(CELL_HEIGHT * placed.h + MARGIN * max(placed.h - 1, 0))
    return left, top, w, h


# --- legacy panels, as Grafana migrates them on load -------------------------------------------


def _migrate(panel: dict[str, Any]) -> dict[str, Any]:
    kind = str(panel.get("type") or "")
    if kind not in draw.ALIASES:
        return panel
    panel = copy.deepcopy(panel)
    for key in ("fieldConfig", "options", "legend"):
        if not isinstance(panel.get(key), dict):
            panel.pop(key, None)  # some old exports hold a bool or a list there
    defaults = panel.setdefault("fieldConfig", {}).setdefault("defaults", {})
    if kind == "graph":
        yaxes = panel.get("yaxes") or []
        if yaxes and isinstance(yaxes[0], dict):
            defaults.setdefault("unit", yaxes[0].get("format"))
            for key in ("min", "max"):
                if yaxes[0].get(key) not in (None, ""):
                    defaults.setdefault(key, float(yaxes[0][key]))
            if yaxes[0].get("decimals") is not None:
                defaults.setdefault("decimals", yaxes[0]["decimals"])
        custom = defaults.setdefault("custom", {})
        if panel.get("stack"):
            custom.setdefault("stacking", {"mode": "normal", "group": "A"})
        if panel.get("fill"):
            custom.setdefault("fillOpacity", int(panel["fill"]) * 10)
        if panel.get("bars") and not panel.get("lines", True):
            custom.setdefault("drawStyle", "bars")
        old = panel.get("legend") or {}
        calcs = [
            c
            for c, key in (("min", "min"), ("max", "max"), ("mean", "avg"), ("lastNotNull", "current"))
            if old.get(key)
        ]
        panel.setdefault("options", {}).setdefault(
            "legend",
            {
                "showLegend": old.get("show", True),
                "displayMode": "table" if old.get("alignAsTable") else "list",
                "placement": "right" if old.get("rightSide") else "bottom",
                "calcs": calcs,
            },
        )
    elif kind in ("singlestat", "grafana-singlestat-panel"):
        defaults.setdefault("unit", panel.get("format"))
        if panel.get("decimals") is not None:
            defaults.setdefault("decimals", panel["decimals"])
        thresholds = [t for t in str(panel.get("thresholds") or "").split(",") if t.strip()]
        colors = panel.get("colors") or []
        if thresholds and colors:
            steps = [{"color": colors[0], "value": None}]
            steps += [{"color": c, "value": float(t)} for t, c in zip(thresholds, colors[1:])]
            defaults.setdefault("thresholds", {"mode": "absolute", "steps": steps})
        mappings = [
            {"type": "value", "options": {str(m["value"]): {"text": m.get("text")}}}
            for m in panel.get("valueMaps") or []
            if isinstance(m, dict) and m.get("value") not in (None, "") and m.get("op", "=") == "="
        ]
        for m in panel.get("rangeMaps") or []:
            if not isinstance(m, dict):
                continue
            if m.get("from") == "null" or m.get("to") == "null":
                mappings.append({"type": "special", "options": {"match": "null", "result": {"text": m.get("text")}}})
                continue
            try:
                bounds = {"from": float(m["from"]), "to": float(m["to"])}
            except (KeyError, TypeError, ValueError):
                continue
            mappings.append({"type": "range", "options": {**bounds, "result": {"text": m.get("text")}}})
        if mappings and not defaults.get("mappings"):
            defaults["mappings"] = mappings
        color_mode = "background" if panel.get("colorBackground") else ("value" if panel.get("colorValue") else "none")
        spark = (panel.get("sparkline") or {}).get("show")
        panel.setdefault(
            "options",
            {
                "reduceOptions": {"calcs": [str(panel.get("valueName") or "mean")], "values": False},
                "colorMode": color_mode,
                "graphMode": "area" if spark else "none",
                "textMode": "auto",
            },
        )
        if panel.get("gauge", {}).get("show"):
            panel["type"] = "gauge"
            return panel
    panel["type"] = draw.ALIASES[kind]
    panel["migratedFrom"] = kind
    return panel


# --- rendering ---------------------------------------------------------------------------------


def _datasource_problem(panel: dict[str, Any]) -> str | None:
    """A panel whose queries are not PromQL (another data source type): not drawn."""
    for item in [panel, *(panel.get("targets") or [])]:
        ds = item.get("datasource")
        kind = ds.get("type") if isinstance(ds, dict) else None
        if kind and kind not in ("prometheus", "datasource") and not str(kind).startswith("$"):
            return f"data source type {kind} not rendered"
        if isinstance(ds, str) and ds in ("-- Grafana --", "grafana"):
            return "data source -- Grafana -- not rendered"
    return None


async def _render_panel(
    source: Source,
    placed: Placed,
    scope: Scope,
    width: int,
    scrape_interval: float,
    tz: tzinfo,
) -> tuple[RenderedPanel, str]:
    """One panel; a panel whose JSON this renderer cannot handle is an error box, not a failed dashboard."""
    try:
        return await _draw_panel(source, placed, scope, width, scrape_interval, tz)
    except (PrometheusUnavailable, asyncio.CancelledError):
        raise
    except Exception as exc:
        title = str(placed.panel.get("title") or "")
        log.warning("panel %r (%s) not drawn: %s: %s", title, placed.panel.get("type"), type(exc).__name__, exc)
        left, top, w, h = _box(placed, width)
        html = (
            f'<div class="gd-panel" style="left:{left}px;top:{top}px;width:{w}px;height:{h}px" '
            f'data-title="{esc(title)}" data-type="{esc(placed.panel.get("type"))}" data-status="error">'
            f'<div class="gd-title">{esc(title)}</div><div class="gd-error">not drawn: {esc(type(exc).__name__)}'
            "</div></div>"
        )
        kind = str(placed.panel.get("type") or "")
        return RenderedPanel(title, kind, "error", errors=[f"{type(exc).__name__}: {exc}"], box=(left, top, w, h)), html


async def _draw_panel(
    source: Source,
    placed: Placed,
    scope: Scope,
    width: int,
    scrape_interval: float,
    tz: tzinfo,
) -> tuple[RenderedPanel, str]:
    panel = _migrate(placed.panel)
    left, top, w, h = _box(placed, width)
    kind = str(panel.get("type") or "")
    title = scope.interpolate(str(panel.get("title") or ""), prometheus=False)
    style = f"left:{left}px;top:{top}px;width:{w}px;height:{h}px"
    if kind == "row":
        note = ' <span class="gd-row-note">(collapsed in Grafana)</span>' if placed.collapsed_row else ""
        html = f'<div class="gd-row" style="{style}" data-type="row">{esc(title)}{note}</div>'
        return RenderedPanel(title, "row", "row", box=(left, top, w, h)), html
    body_w, body_h = w - 2 * PADDING, h - HEADER - PADDING
    data = PanelData()
    problem = _datasource_problem(panel) if kind in draw.DRAWN and kind != "text" else None
    drawn: Drawn
    if problem:
        drawn = Drawn(f'<div class="gd-placeholder">{esc(problem)}</div>', "placeholder")
    elif kind == "text":
        content = (panel.get("options") or {}).get("content") or panel.get("content") or ""
        drawn = draw.draw_text(panel, scope.interpolate(str(content), prometheus=False))
    elif kind not in draw.DRAWN:
        drawn = draw.placeholder(kind or "(none)")
    else:
        data = await run_panel(source, panel, scope, body_w, scrape_interval)
        if data.errors and not data.frames:
            message = "; ".join(data.errors)
            drawn = Drawn(
                f'<div class="gd-error" title="{esc(message)}">Query error: {esc(message[:300])}</div>', "error"
            )
        elif kind == "timeseries":
            drawn = draw.draw_timeseries(panel, data, body_w, body_h, scope.start, scope.end, tz)
        elif kind == "stat":
            drawn = draw.draw_stat(panel, data, body_w, body_h)
        elif kind == "gauge":
            drawn = draw.draw_gauge(panel, data, body_w, body_h)
        elif kind == "bargauge":
            drawn = draw.draw_bargauge(panel, data, body_w, body_h)
        else:
            drawn = draw.draw_table(panel, data, tz)
    migrated = panel.get("migratedFrom")
    kind_attr = f"{kind} (from {migrated})" if migrated else kind
    errors = f' <span class="gd-warn" title="{esc("; ".join(data.errors))}">!</span>' if data.errors else ""
    html = (
        f'<div class="gd-panel gd-{esc(kind)}" style="{style}" data-title="{esc(title)}" data-type="{esc(kind_attr)}" '
        f'data-status="{esc(drawn.status)}" data-points="{drawn.points}" data-series="{drawn.series}">'
        f'<div class="gd-title">{esc(title)}{errors}</div>'
        f'<div class="gd-body" style="width:{body_w}px;height:{body_h}px">{drawn.body}</div></div>'
    )
    rendered = RenderedPanel(
        title=title,
        type=kind,
        status=drawn.status,
        points=drawn.points,
        series=drawn.series,
        shown=drawn.shown,
        rows=drawn.rows,
        queries=data.queries,
        errors=data.errors,
        box=(left, top, w, h),
    )
    return rendered, html


async def render_dashboard(
    dashboard: str | Path | dict[str, Any],
    prometheus: PrometheusClient | Source,
    start: float,
    end: float,
    *,
    variables: dict[str, Sequence[str]] | None = None,
    width: int = 1600,
    scrape_interval: float = 15.0,
    timezone_name: str | None = None,
    expand_collapsed_rows: bool = True,
) -> RenderedDashboard:
    """One dashboard for [start, end] (Unix seconds) as an HTML fragment and page (no PNG)."""
    model = load_dashboard(dashboard)
    source = prometheus if isinstance(prometheus, Source) else Source(prometheus)
    tz = _timezone(timezone_name, model)

    async def lookup(kind: str, what: str, selector: Any) -> list[str]:
        return await source.lookup(kind, what, selector, start, end)

    scope = await resolve_variables(model, start, end, lookup, variables)
    placed = layout(model, expand_collapsed_rows)
    results = await asyncio.gather(*(_render_panel(source, p, scope, width, scrape_interval, tz) for p in placed))
    height = max((r.box[1] + r.box[3] for r, _ in results), default=0)
    title = str(model.get("title") or "Dashboard")
    shown_vars = {name: v.values() for name, v in scope.variables.items() if v.type != "datasource"}
    fragment = _fragment(title, scope, tz, width, height, [html for _, html in results])
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title></head>"
        f'<body style="margin:0;background:#fff">{fragment}</body></html>\n'
    )
    return RenderedDashboard(
        title=title,
        fragment=fragment,
        document=document,
        panels=[r for r, _ in results],
        variables=shown_vars,
        start=start,
        end=end,
        width=width,
        height=height,
    )


def _fragment(title: str, scope: Scope, tz: tzinfo, width: int, height: int, panels: list[str]) -> str:
    fmt = "%Y-%m-%d %H:%M:%S %Z"
    first, last = datetime.fromtimestamp(scope.start, tz), datetime.fromtimestamp(scope.end, tz)
    when = f"{first.strftime(fmt)} to {last.strftime(fmt)}"
    chosen = " · ".join(
        f"{esc(v.label)}: {esc(v.shown())}" for v in scope.variables.values() if v.type != "datasource" and not v.hidden
    )
    return (
        f'<section class="gd-dashboard" style="width:{width}px">{STYLE}'
        f'<header class="gd-head"><h1>{esc(title)}</h1><p>{esc(when)}'
        f"{' · ' + chosen if chosen else ''}</p></header>"
        f'<div class="gd-grid" style="height:{height}px">{"".join(panels)}</div></section>'
    )


STYLE = """<style>
.gd-dashboard{font-family:Inter,"Helvetica Neue",Arial,sans-serif;color:#24292E;background:#F4F5F5;padding:12px;
box-sizing:content-box}
.gd-dashboard *{box-sizing:border-box}
.gd-head h1{font-size:20px;margin:0 0 2px 0;font-weight:500}.gd-head p{margin:0 0 10px 0;color:#6E7781;font-size:12px}
.gd-grid{position:relative}
.gd-panel{position:absolute;background:#fff;border:1px solid #D8DEE4;border-radius:3px;overflow:hidden}
.gd-title{height:28px;line-height:28px;padding:0 8px;font-size:13px;font-weight:500;white-space:nowrap;
overflow:hidden;text-overflow:ellipsis}
.gd-warn{color:#C4162A;font-weight:700}
.gd-body{margin:0 6px;position:relative;overflow:hidden}
.gd-row{position:absolute;font-size:15px;font-weight:500;line-height:30px;border-bottom:1px solid #D8DEE4}
.gd-row-note{color:#6E7781;font-size:11px;font-weight:400}
.gd-nodata,.gd-placeholder,.gd-error{display:flex;align-items:center;justify-content:center;height:100%;
color:#6E7781;font-size:14px;text-align:center}
.gd-placeholder{border:1px dashed #C4C9CE;color:#8A9098}
.gd-error{color:#C4162A;font-size:12px}
.gd-chart text{font-size:10px;fill:#6E7781}
.gd-ytick{text-anchor:end}.gd-xtick{text-anchor:middle}
.gd-ts{display:flex;flex-direction:column;height:100%}.gd-ts-right{flex-direction:row}
.gd-legend{overflow:hidden;font-size:11px;line-height:16px;padding:2px 4px}
.gd-legend-item{display:inline-block;margin-right:12px;white-space:nowrap}
.gd-swatch{display:inline-block;width:12px;height:3px;margin:0 5px 3px 0;vertical-align:middle}
.gd-legend-table{border-collapse:collapse;width:100%}
.gd-legend-table th,.gd-legend-table td{padding:0 4px;text-align:right;white-space:nowrap;font-weight:400}
.gd-legend-table tr:first-child th{color:#1F60C4;font-weight:500}
.gd-legend-table th:first-child{text-align:left;overflow:hidden;text-overflow:ellipsis;max-width:180px}
.gd-stat,.gd-cells{display:grid;gap:4px;height:100%}
.gd-stat-tile{position:relative;display:flex;flex-direction:column;justify-content:center;align-items:center;
border-radius:2px;overflow:hidden}
.gd-stat-tile>div{position:relative;white-space:nowrap;line-height:1.15}
.gd-stat-value{font-weight:500}
.gd-spark{position:absolute;left:0;top:0}
.gd-bars{display:grid;height:100%;gap:4px}
.gd-bar-row{display:grid;grid-template-columns:minmax(60px,30%) 1fr minmax(50px,auto);align-items:center;gap:6px;
font-size:12px;min-height:0}
.gd-bar-name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.gd-bar-track{background:#F0F1F3;height:70%;min-height:4px;position:relative}
.gd-bar-fill{height:100%}
.gd-bar-value{font-weight:500;text-align:right;white-space:nowrap}
.gd-bars-vertical .gd-bar-row{grid-template-columns:1fr;grid-template-rows:auto 1fr auto;height:100%}
.gd-bars-vertical .gd-bar-track{height:100%;display:flex;align-items:flex-end}
.gd-bars-vertical .gd-bar-fill{width:100%}
.gd-table-wrap{overflow:hidden;height:100%}
.gd-table{border-collapse:collapse;width:100%;font-size:12px}
.gd-table th{text-align:left;color:#1F60C4;font-weight:500;border-bottom:1px solid #D8DEE4;padding:3px 6px}
.gd-table td{border-bottom:1px solid #EEF0F2;padding:3px 6px;white-space:nowrap}
.gd-text{font-size:13px;line-height:1.4;overflow:hidden;height:100%}
</style>"""


# --- PNG ---------------------------------------------------------------------------------------


def html_to_png(
    document: str, width: int, height: int, chromium: str = "/usr/bin/chromium", timeout: float = 60
) -> bytes:
    """A screenshot of the page at its full size, by headless Chromium (reporter/render_pdf.py's way)."""
    from reporter.render_pdf import PdfError, run_chromium

    with tempfile.TemporaryDirectory(prefix="inventory-dashboard-png-") as work:
        source = Path(work) / "dashboard.html"
        target = Path(work) / "dashboard.png"
        source.write_text(document, encoding="utf-8")
        args = [
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={width},{height}",
            "--default-background-color=FFFFFFFF",
            f"--screenshot={target}",
            source.as_uri(),
        ]
        result = run_chromium(chromium, args, timeout)
        if not target.exists() or target.stat().st_size == 0:
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"chromium exited {result.returncode} without a screenshot: {tail[0]}")
        return target.read_bytes()


def _page_size(item: RenderedDashboard) -> tuple[int, int]:
    # the section's padding (12 px each side) and its header come on top of the grid
    return item.width + 24, item.height + 80


# pixels per Chromium screenshot: taller stacks are split, and the shots taken two at a time
MAX_SHOT_HEIGHT = 6000


def add_pngs(rendered: Sequence[RenderedDashboard], chromium: str = "/usr/bin/chromium") -> None:
    """A PNG of every rendered dashboard. Dashboards are stacked on one page and shot by one
    Chromium (its start-up is most of the cost), then cut apart; without Pillow, one shot each."""
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib; without it, one Chromium per dashboard
        for item in rendered:
            item.png = html_to_png(item.document, *_page_size(item), chromium=chromium)
        return
    batches: list[list[RenderedDashboard]] = []
    for item in rendered:
        if not batches or sum(_page_size(d)[1] for d in batches[-1]) + _page_size(item)[1] > MAX_SHOT_HEIGHT:
            batches.append([])
        batches[-1].append(item)

    def shoot(batch: list[RenderedDashboard]) -> None:
        if len(batch) == 1:
            batch[0].png = html_to_png(batch[0].document, *_page_size(batch[0]), chromium=chromium)
            return
        tops, top, blocks = [], 0, []
        for item in batch:
            tops.append(top)
            blocks.append(f'<div style="position:absolute;left:0;top:{top}px">{item.fragment}</div>')
            top += _page_size(item)[1]
        width = max(_page_size(item)[0] for item in batch)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>dashboards</title></head>'
            f'<body style="margin:0;background:#fff">{"".join(blocks)}</body></html>\n'
        )
        shot = Image.open(io.BytesIO(html_to_png(page, width, top, chromium=chromium)))
        for item, y in zip(batch, tops):
            w, h = _page_size(item)
            out = io.BytesIO()
            shot.crop((0, y, w, y + h)).save(out, format="PNG", compress_level=1)
            item.png = out.getvalue()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(shoot, batches))


async def render_dashboards(
    dashboards: Sequence[str | Path | dict[str, Any]],
    prometheus: PrometheusClient,
    start: float,
    end: float,
    *,
    png: bool = False,
    chromium: str = "/usr/bin/chromium",
    **options: Any,
) -> list[RenderedDashboard]:
    """Several dashboards over one Prometheus client (their panels' queries run concurrently)."""
    source = Source(prometheus)
    rendered = list(await asyncio.gather(*(render_dashboard(d, source, start, end, **options) for d in dashboards)))
    if png:
        await asyncio.get_running_loop().run_in_executor(None, add_pngs, rendered, chromium)
    return rendered


def render_dashboards_sync(
    dashboards: Sequence[str | Path | dict[str, Any]],
    prometheus: str | PrometheusConfig,
    start: float,
    end: float | None = None,
    **options: Any,
) -> list[RenderedDashboard]:
    """render_dashboards with its own HTTP session: a URL or the reporter's `prometheus:` config."""
    config = prometheus if isinstance(prometheus, PrometheusConfig) else PrometheusConfig(url=prometheus)
    end = time.time() if end is None else end

    async def run() -> list[RenderedDashboard]:
        async with aiohttp.ClientSession() as session:
            client = PrometheusClient(
                config.url,
                session,
                timeout=config.timeout,
                retries=config.retries,
                backoff=config.backoff,
                http=config,
            )
            return await render_dashboards(dashboards, client, start, end, **options)

    return asyncio.run(run())
