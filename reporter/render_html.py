"""One self-contained HTML file: inline CSS, charts as inline SVG, no scripts, nothing fetched.

Charts are drawn by matplotlib's SVG backend with glyphs as paths (svg.fonttype=path),
so no font is loaded from anywhere; the XML prolog, DOCTYPE, metadata and namespace
URLs are stripped and element ids are prefixed per chart so charts cannot collide.
A Content-Security-Policy meta tag forbids every fetch and every script.
Each section is one printed page (A4); every value is HTML-escaped.
"""

from __future__ import annotations

import io
import math
import re
from datetime import datetime, timezone
from html import escape

import matplotlib

matplotlib.use("svg")  # no GUI backend, ever

from matplotlib.figure import Figure as MplFigure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from reporter.figures import SECTIONS, Chart, Figure, Report, format_delta, format_value  # noqa: E402

matplotlib.rcParams.update({
    "svg.fonttype": "path",
    "svg.hashsalt": "inventory-report",   # stable ids, so the same data gives the same file
    "font.family": "DejaVu Sans",          # bundled with matplotlib
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

COLORS = ["#1f5fa8", "#d9622b", "#2e8b57", "#8e44ad", "#b8860b", "#c0392b"]

CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1d2430; margin: 0; font-size: 10pt; }
main { max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
.page { break-after: page; page-break-after: always; padding-bottom: 6mm; }
.page:last-child { break-after: auto; page-break-after: auto; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 14pt; margin: 0 0 3mm; border-bottom: 2px solid #1f5fa8; padding-bottom: 1mm; }
h3 { font-size: 11pt; margin: 4mm 0 2mm; }
.meta { color: #5a6473; margin: 0 0 4mm; }
table { border-collapse: collapse; width: 100%; break-inside: avoid; font-size: 8.5pt; }
th, td { text-align: left; padding: 1.2mm 2mm; border-bottom: 1px solid #dde2ea; vertical-align: top; }
th { background: #f1f4f8; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.ok { color: #1e7b3c; font-weight: 600; }
.miss { color: #b3261e; font-weight: 600; }
.nodata { color: #8a93a0; font-style: italic; }
.banner { background: #fff4e0; border-left: 4px solid #e3a008; padding: 2mm 3mm; margin: 0 0 3mm; }
ol.changes { margin: 0; padding-left: 6mm; font-size: 8pt; line-height: 1.25; }
ol.changes li { margin: 0 0 0.6mm; }
li.missed_objective, li.lost_data, li.worse { color: #8c1d18; }
li.better, li.met_objective { color: #1e5e32; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm; margin: 3mm 0; }
.tile { border: 1px solid #dde2ea; border-radius: 2mm; padding: 1.5mm 2.5mm; break-inside: avoid; }
.tile .label { color: #5a6473; font-size: 8pt; }
.tile .value { font-size: 13pt; font-weight: 600; }
.tile .delta { font-size: 8pt; color: #5a6473; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 3mm; margin-top: 3mm; }
figure.chart { margin: 0; break-inside: avoid; border: 1px solid #eef1f5; padding: 1mm; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart figcaption { font-size: 8pt; color: #5a6473; }
@media print { main { padding: 0; } }
"""

HEADLINES = [
    "service.availability_ratio", "service.error_budget_remaining_ratio", "service.latency_p95_seconds",
    "business.stock_value_end", "business.stockout_sku_hours", "integrations.accuracy_ratio",
]


def e(value: object) -> str:
    return escape(str(value), quote=True)


def _local(ts: float, report: Report) -> str:
    tz = report.period.start.tzinfo
    return datetime.fromtimestamp(ts, timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


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


def chart_svg(chart: Chart, report: Report, index: int) -> str:
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
        ax.plot([(x - period.start_ts) / scale for x in xs], ys, color=COLORS[number % len(COLORS)],
                linewidth=1.2, label=label or "this period")
        drawn = drawn or bool(series.points)
    for number, series in enumerate(chart.previous):
        xs, ys = _split_gaps(series.points, chart.step)
        ax.plot([(x + shift - period.start_ts) / scale for x in xs], ys, color=COLORS[number % len(COLORS)],
                linewidth=0.9, linestyle="--", alpha=0.55,
                label="previous period" if number == 0 and not chart.legend else None)
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
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=11,
                color="#8a93a0")
        ax.set_yticks([])
    fig.tight_layout(pad=0.4)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return _clean_svg(buffer.getvalue(), f"c{index}-", e(f"{chart.title}: this period and the previous one"))


_ID = re.compile(r'\bid="([^"]+)"')


def _clean_svg(svg: str, prefix: str, title: str) -> str:
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r'<svg\1', svg, count=1)
    return svg.replace("<svg", f'<svg role="img" aria-label="{title}"', 1)


# ---- page parts -------------------------------------------------------------

def _value_cell(figure: Figure, value: float | None, note: str | None) -> str:
    text = format_value(figure.unit, value, note)
    css = "num nodata" if value is None else "num"
    return f'<td class="{css}">{e(text)}</td>'


def _objective_cell(figure: Figure) -> str:
    if figure.objective is None:
        return "<td></td>"
    op = "≥" if figure.objective_op == ">=" else "≤"
    target = f"{op} {format_value(figure.unit, figure.objective)}"
    if figure.met is None:
        return f'<td class="num nodata">{e(target)}</td>'
    css, word = ("ok", "met") if figure.met else ("miss", "missed")
    return f'<td class="num"><span class="{css}">{e(word)}</span> {e(target)}</td>'


def figures_table(figures: list[Figure]) -> str:
    rows = []
    for figure in figures:
        name = e(figure.title)
        if figure.labels:
            name += f' <span class="nodata">{e(figure.label_text())}</span>'
        rows.append(
            f"<tr><td>{name}</td>{_value_cell(figure, figure.value, figure.note)}"
            f"{_value_cell(figure, figure.previous, figure.previous_note)}"
            f'<td class="num">{e(format_delta(figure))}</td>{_objective_cell(figure)}</tr>')
    return ("<table><thead><tr><th>figure</th><th>this period</th><th>previous</th><th>change</th>"
            "<th>objective</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _tiles(report: Report) -> str:
    tiles = []
    for key in HEADLINES:
        for figure in report.figures:
            if figure.key == key:
                label = figure.title + (f" ({figure.label_text()})" if figure.labels else "")
                tiles.append(
                    f'<div class="tile"><div class="label">{e(label)}</div>'
                    f'<div class="value{" nodata" if figure.value is None else ""}">'
                    f"{e(format_value(figure.unit, figure.value, figure.note))}</div>"
                    f'<div class="delta">{e(format_delta(figure))} vs previous</div></div>')
                break
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _summary(report: Report) -> str:
    period, previous = report.period, report.previous_period
    if report.changes:
        items = "".join(f'<li class="{e(c.kind)}">{e(c.text)}</li>' for c in report.changes)
        changes = f'<ol class="changes">{items}</ol>'
    else:
        changes = '<p class="nodata">Nothing crossed an objective or moved more than the threshold.</p>'
    return (f'<section class="page" id="summary"><h1>{e(report.title)}: {e(period.label)}</h1>'
            f'<p class="meta">{e(period.kind)} report, {e(_local(period.start_ts, report))} to '
            f"{e(_local(period.end_ts, report))}; compared with {e(previous.label)}. "
            f"Generated {e(_local(report.generated_at, report))}.</p>"
            f"{_tiles(report)}<h2>What changed</h2>{changes}</section>")


def _section(report: Report, section: str, charts: list[tuple[Chart, str]]) -> str:
    figures = report.section_figures(section)
    banner = "" if report.section_has_data(section) else \
        '<p class="banner">No data for this period: Prometheus holds no samples of these series.</p>'
    chart_html = "".join(
        f'<figure class="chart" data-chart="{e(chart.key)}">{svg}<figcaption>{e(chart.title)} '
        f"(solid: this period, dashed: previous)</figcaption></figure>"
        for chart, svg in charts)
    return (f'<section class="page" id="{e(section)}"><h2>{e(SECTIONS[section])}</h2>{banner}'
            f"{figures_table(figures)}"
            + (f'<div class="charts">{chart_html}</div>' if chart_html else "") + "</section>")


def render(report: Report) -> str:
    svgs = {chart.key: chart_svg(chart, report, index) for index, chart in enumerate(report.charts)}
    body = [_summary(report)]
    for section in report.sections:
        charts = [(chart, svgs[chart.key]) for chart in report.charts if chart.section == section]
        body.append(_section(report, section, charts))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(report.title)}: {e(report.period.label)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
