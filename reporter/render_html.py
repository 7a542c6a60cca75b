"""One self-contained HTML file: inline CSS, charts as inline SVG, no scripts, nothing fetched.

The page is the Jinja2 template reporter/templates/report.html.j2 (autoescaped), its
style reporter/templates/report.css.

Charts are drawn by matplotlib's SVG backend with glyphs as paths (svg.fonttype=path),
so no font is loaded from anywhere; the XML prolog, DOCTYPE, metadata and namespace
URLs are stripped and element ids are prefixed per chart so charts cannot collide.
A Content-Security-Policy meta tag forbids every fetch and every script.
Each section is one printed page (A4), and so is each dashboard of the config's
`dashboards` (its PNG, or the renderer's HTML without Chromium).
"""

from __future__ import annotations

import base64
import io
import math
import re
from datetime import UTC, datetime
from html import escape

import matplotlib

matplotlib.use("svg")  # no GUI backend, ever

from markupsafe import Markup  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from reporter.figures.catalogue import SECTIONS  # noqa: E402
from reporter.figures.format import format_delta, format_value  # noqa: E402
from reporter.report import Chart, Figure, Report  # noqa: E402
from reporter.templating import render_page  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "path",
        "svg.hashsalt": "inventory-report",  # stable ids, so the same data gives the same file
        "font.family": "DejaVu Sans",  # bundled with matplotlib
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)

COLORS = ["#1f5fa8", "#d9622b", "#2e8b57", "#8e44ad", "#b8860b", "#c0392b"]

HEADLINES = [
    "service.availability_ratio",
    "service.request_success_ratio",
    "service.error_budget_remaining_ratio",
    "service.latency_p95_seconds",
    "business.stock_value_end",
    "business.stockout_sku_hours",
    "integrations.accuracy_ratio",
]


def _local(ts: float, report: Report) -> str:
    tz = report.period.start.tzinfo
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


# ---- charts -----------------------------------------------------------------


def _split_gaps(points: list[tuple[float, float]], step: float) -> tuple[list[float], list[float]]:
    xs, ys, last = [], [], None
    for t, v in points:
        if last is not None and t - last > 1.5 * step:
            xs.append(math.nan)
            ys.append(math.nan)
        xs.append(t)
        ys.append(v if math.isfinite(v) else math.nan)
        last = t
    return xs, ys


def _y_formatter(unit: str) -> FuncFormatter:
    if unit == "ratio":
        return FuncFormatter(lambda v, _: f"{v * 100:.4g} %")
    if unit == "seconds":
        return FuncFormatter(lambda v, _: f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.3g} s")
    return FuncFormatter(lambda v, _: f"{v:,.4g}")


def chart_svg(chart: Chart, report: Report, index: int) -> Markup:
    period, previous = report.period, report.previous_period
    days = period.seconds >= 2 * 86400
    scale = 86400 if days else 3600
    shift = period.start_ts - previous.start_ts

    fig = MplFigure(figsize=(3.6, 2.0), dpi=100)
    ax = fig.add_subplot()
    drawn = False
    for number, series in enumerate(chart.current):
        xs, ys = _split_gaps(series.points, chart.step)
        label = series.labels.get(chart.legend, "") if chart.legend else "this period"
        ax.plot(
            [(x - period.start_ts) / scale for x in xs],
            ys,
            color=COLORS[number % len(COLORS)],
            linewidth=1.2,
            label=label or "this period",
        )
        drawn = drawn or bool(series.points)
    for number, series in enumerate(chart.previous):
        xs, ys = _split_gaps(series.points, chart.step)
        ax.plot(
            [(x + shift - period.start_ts) / scale for x in xs],
            ys,
            color=COLORS[number % len(COLORS)],
            linewidth=0.9,
            linestyle="--",
            alpha=0.55,
            label="previous period" if number == 0 and not chart.legend else None,
        )
        drawn = drawn or bool(series.points)
    ax.set_xlim(0, period.seconds / scale)
    ax.set_xlabel("days since the period's start" if days else "hours since the period's start", fontsize=7)
    ax.yaxis.set_major_formatter(_y_formatter(chart.unit))
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e6e9ef", linewidth=0.6)
    if drawn:
        handles, labels = ax.get_legend_handles_labels()
        if labels:
            ax.legend(fontsize=6.5, frameon=False, loc="best")
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#8a93a0")
        ax.set_yticks([])
    fig.tight_layout(pad=0.4)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    svg = _clean_svg(buffer.getvalue(), f"c{index}-", escape(f"{chart.title}: this period and the previous one"))
    return Markup(svg)  # the one part of the page not escaped: matplotlib's own SVG, cleaned above


_ID = re.compile(r'\bid="([^"]+)"')


def _clean_svg(svg: str, prefix: str, title: str) -> str:
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", f'<svg role="img" aria-label="{title}"', 1)


# ---- the page ---------------------------------------------------------------


def _headlines(report: Report) -> list[Figure]:
    """The summary's tiles: the first figure of each headline key the report has."""
    first: dict[str, Figure] = {}
    for figure in report.figures:
        first.setdefault(figure.key, figure)
    return [first[key] for key in HEADLINES if key in first]


def _dashboard_picture(title: str, fragment: str, png: bytes | None) -> Markup:
    """The dashboard's PNG as a data: image (what Grafana shows, also in the PDF), else the
    renderer's HTML fragment, which escapes every value it draws (reporter/dashboards)."""
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        return Markup('<img class="dashboard-png" alt="{}" src="data:image/png;base64,{}">').format(title, data)
    return Markup(fragment)


def render(report: Report) -> str:
    charts: dict[str, list[tuple[Chart, Markup]]] = {section: [] for section in report.sections}
    for index, chart in enumerate(report.charts):
        charts.setdefault(chart.section, []).append((chart, chart_svg(chart, report, index)))
    return render_page(
        "report.html.j2",
        report=report,
        dashboards=[(title, _dashboard_picture(title, fragment, png)) for title, fragment, png in report.dashboards],
        headlines=_headlines(report),
        charts=charts,
        titles=SECTIONS,
        local=lambda ts: _local(ts, report),
        format_value=format_value,
        format_delta=format_delta,
    )
