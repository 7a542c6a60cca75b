"""Dashboards rendered from their own JSON (reporter/dashboards/) against a real Prometheus.

The Prometheus holds one hour of the demo's own data (benchmarks/bench_dashboards.py,
build_demo_hour: `demo.run --fast` for 110 s, its TSDB dumped and replayed over the hour,
then turned into blocks by promtool). Every panel of the five shipped dashboards must draw
data; values shown by stat, gauge, bargauge and table panels are checked against the raw
samples read back from Prometheus and reduced here in Python. The same Prometheus renders a
dashboard exported from Grafana by Grafana's authors (tests/vendor/grafana/), over the
metrics the demo's Prometheus scraped from itself.

DASHBOARDS_DEMO_HOUR=DIR reuses a directory made by
`python -m benchmarks.bench_dashboards --keep DIR` instead of running the demo again.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from benchmarks.bench_dashboards import build_demo_hour, load_demo_hour
from reporter.dashboards import render_dashboards_sync
from reporter.dashboards.render import RenderedDashboard, RenderedPanel, layout
from tests.conftest import ROOT, PrometheusServer

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(600)]

SHIPPED = ["overview", "business", "enhancer", "host-and-api", "integrations"]
VENDORED = ROOT / "tests" / "vendor" / "grafana" / "prometheus_2_stats.json"


@pytest.fixture(scope="module")
def demo_hour():
    reuse = os.environ.get("DASHBOARDS_DEMO_HOUR")
    if reuse and (Path(reuse) / "hour.json").is_file():
        hour = load_demo_hour(Path(reuse))
        directory = Path(tempfile.mkdtemp(prefix="dashboards-prom-"))
        shutil.copytree(hour.tsdb, directory / "tsdb")
        hour = type(hour)(directory / "tsdb", hour.start, hour.end, hour.run_start)
    else:
        directory = Path(tempfile.mkdtemp(prefix="dashboards-prom-"))
        hour = build_demo_hour(directory)
    server = PrometheusServer(directory)
    yield server, hour
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def rendered(demo_hour) -> dict[str, RenderedDashboard]:
    server, hour = demo_hour
    items = render_dashboards_sync([*SHIPPED, str(VENDORED)], server.url, hour.start, hour.end)
    return dict(zip([*SHIPPED, "vendored"], items))


# --- Prometheus's raw samples, reduced here ----------------------------------------------------


def _get(url: str, path: str, **params: str) -> dict:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def raw_last(url: str, selector: str, at: float) -> list[tuple[dict[str, str], float]]:
    """Each series' latest raw sample at or before `at` within the 5 minute lookback."""
    data = _get(url, "/api/v1/query", query=f"{selector}[5m]", time=f"{at:.3f}")
    return [(item["metric"], float(item["values"][-1][1])) for item in data["result"] if item["values"]]


def raw_samples(url: str, selector: str, start: float, end: float) -> list[tuple[dict[str, str], list[float]]]:
    seconds = math.ceil(end - start)
    data = _get(url, "/api/v1/query", query=f"{selector}[{seconds}s]", time=f"{end:.3f}")
    return [(item["metric"], [float(v) for _, v in item["values"]]) for item in data["result"]]


def panel(dashboard: RenderedDashboard, title: str) -> RenderedPanel:
    found = [p for p in dashboard.panels if p.title == title]
    assert len(found) == 1, f"{title!r}: {[p.title for p in dashboard.panels]}"
    return found[0]


def last_step(p: RenderedPanel) -> float:
    return float(p.queries[0]["end"])


def shown(p: RenderedPanel) -> dict[str, float | None]:
    return {s.name: s.value for s in p.shown}


def panel_html(dashboard: RenderedDashboard, title: str) -> str:
    """The HTML of one panel, cut from the dashboard's document."""
    start = dashboard.fragment.index(f'data-title="{title}"')
    begin = dashboard.fragment.rindex("<div", 0, start)
    following = dashboard.fragment.find('<div class="gd-panel', start)
    following_row = dashboard.fragment.find('<div class="gd-row', start)
    ends = [i for i in (following, following_row) if i != -1]
    return dashboard.fragment[begin : min(ends) if ends else len(dashboard.fragment)]


# --- every panel draws data --------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SHIPPED, "vendored"])
def test_every_panel_draws_data(rendered, name):
    dashboard = rendered[name]
    drawn = [p for p in dashboard.panels if p.type != "row"]
    assert drawn, "no panels"
    problems = [(p.title, p.type, p.status, p.errors) for p in drawn if p.status != "ok"]
    assert not problems, problems
    for p in drawn:
        html = panel_html(dashboard, p.title)
        assert 'data-status="ok"' in html
        if p.type == "timeseries":
            assert p.points > 1 and p.series >= 1
            # lines: one path per unbroken stretch; bars (drawStyle bars): one rect per point
            paths = re.findall(r'<path d="(M[^"]+)" fill="none"', html)
            bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+"/>', html)
            drawn_points = sum(path.count("L") + 1 for path in paths) + len(bars)
            assert drawn_points >= p.points - p.series * 10 > 0, f"{p.title}: {drawn_points} of {p.points} drawn"
        elif p.type in ("stat", "gauge", "bargauge"):
            assert p.shown and all(s.value is not None and s.text != "No data" for s in p.shown), p.title
        elif p.type == "table":
            assert len(p.rows) > 1


def test_the_hour_is_drawn_with_grafanas_step_and_rate_interval(rendered, demo_hour):
    _, hour = demo_hour
    # a w=8 panel on a 1600 px grid: 516 px of plot, 3600 s / 516 -> 6.98 s, rounded to 5 s,
    # raised to the data source's 15 s; $__rate_interval = max(15 s + 15 s, 4 * 15 s)
    moves = panel(rendered["business"], "Stock movements by kind")
    (query,) = moves.queries
    assert query["step"] == 15
    assert "[1m]" in query["expr"] and "$__rate_interval" not in query["expr"]
    assert query["start"] % 15 == 0 and query["end"] % 15 == 0
    assert hour.end - 15 < query["end"] <= hour.end
    # 4 minutes of the hour have no rate yet (the first points need 1 m of samples), the rest do
    assert moves.points >= moves.series * (3600 / 15 - 10)


# --- values checked against the raw samples ----------------------------------------------------


def test_stat_values_are_the_last_samples(rendered, demo_hour):
    server, _ = demo_hour
    business = rendered["business"]
    skus = panel(business, "SKUs stocked")
    at = last_step(skus)
    expected = sum(v for _, v in raw_last(server.url, "inventory_skus", at))
    assert shown(skus) == {"SKUs": pytest.approx(expected)}
    assert skus.shown[0].text == (f"{expected / 1000:.3g} K" if expected >= 1000 else f"{expected:g}")

    value = panel(business, "Stock value")
    by_currency: dict[str, float] = {}
    for labels, v in raw_last(server.url, "inventory_stock_value", last_step(value)):
        by_currency[labels["currency"]] = by_currency.get(labels["currency"], 0.0) + v
    assert shown(value) == pytest.approx(by_currency)

    cover = panel(business, "Days of cover, lowest location")
    expected_cover = min(v for _, v in raw_last(server.url, "inventory_stock_cover_seconds", last_step(cover)))
    assert shown(cover)["cover"] == pytest.approx(expected_cover)
    assert cover.shown[0].text.endswith((" week", " day", " hour", " min", " s"))

    ratio = panel(business, "Fulfilment by channel")
    raw = {m["channel"]: v for m, v in raw_last(server.url, "inventory_order_fulfillment_ratio", last_step(ratio))}
    assert shown(ratio) == pytest.approx(raw)
    for s in ratio.shown:  # percentunit, 1 decimal; thresholds red below 0.96, green from it
        assert s.text == f"{s.value * 100:.1f}%"
        assert s.color == ("#73BF69" if s.value >= 0.96 else "#F2495C")


def test_mapped_and_thresholded_stats(rendered, demo_hour):
    server, _ = demo_hour
    targets = panel(rendered["overview"], "Scrape targets")
    per_job: dict[str, float] = {}
    for labels, v in raw_last(server.url, "up", last_step(targets)):
        per_job[labels["job"]] = min(per_job.get(labels["job"], v), v)
    assert shown(targets) == per_job
    for s in targets.shown:
        assert s.text == ("UP" if s.value == 1 else "DOWN")
        assert s.color == ("#73BF69" if s.value == 1 else "#F2495C")

    alerts = panel(rendered["overview"], "Alerts by severity")
    counts: dict[str, float] = {}
    for labels, _ in raw_last(server.url, "ALERTS", last_step(alerts)):
        key = f"{labels['severity']} {labels['alertstate']}"
        counts[key] = counts.get(key, 0) + 1
    assert shown(alerts) == counts

    score = panel(rendered["overview"], "Performance score")
    (only,) = raw_last(server.url, "job:inventory_api_performance_score:weighted_avg5m", last_step(score))
    assert shown(score) == {only[0]["job"]: pytest.approx(only[1])}
    expected_color = "#F2495C" if only[1] < 75 else ("#FADE2A" if only[1] < 95 else "#73BF69")
    assert score.shown[0].color == expected_color and score.shown[0].text == f"{only[1]:.1f}"


def test_bargauge_and_table_values(rendered, demo_hour):
    server, hour = demo_hour
    outcomes = panel(rendered["enhancer"], "Decisions by outcome")
    sums: dict[str, float] = {}
    for labels, v in raw_last(server.url, "inventory_enhancer_actions_total", last_step(outcomes)):
        sums[labels["outcome"]] = sums.get(labels["outcome"], 0.0) + v
    assert shown(outcomes) == pytest.approx(sums)

    table = panel(rendered["overview"], "Active alerts")
    header, *rows = table.rows
    assert header[:3] == ["Alert", "State", "job"]  # organize: renamed, Time/Value/__name__ left out
    assert "Time" not in header and "Value" not in header and "__name__" not in header
    at = table.queries[0]["time"]
    expected = sorted((m["alertname"], m["alertstate"]) for m, _ in raw_last(server.url, "ALERTS", at))
    assert sorted((row[0], row[1]) for row in rows) == expected


def test_timeseries_legend_calcs_are_the_series_last_and_max(rendered, demo_hour):
    server, hour = demo_hour
    low = panel(rendered["business"], "Low-stock SKUs by location")
    html = panel_html(rendered["business"], "Low-stock SKUs by location")
    query = low.queries[0]
    samples = {m["location"]: v for m, v in raw_samples(server.url, "inventory_low_stock_skus", hour.start, hour.end)}
    last = {m["location"]: v for m, v in raw_last(server.url, "inventory_low_stock_skus", query["end"])}
    assert low.series == len(samples)
    for location, values in samples.items():
        row = re.search(rf"{re.escape(location)}</th><td>([^<]*)</td><td>([^<]*)</td>", html)
        assert row, location
        assert row.group(1) == f"{last[location]:g}"
        # Max over the drawn points is at most the raw maximum (points sample the raw series)
        assert float(row.group(2)) <= max(values)


def test_vendored_grafana_dashboard(rendered, demo_hour):
    server, hour = demo_hour
    dashboard = rendered["vendored"]
    assert dashboard.title == "Prometheus 2.0 Stats"
    kinds = {p.title: p.type for p in dashboard.panels}
    assert kinds["WAL Corruptions"] == "stat" and kinds["Samples Appended"] == "timeseries"
    assert 'data-type="stat (from singlestat)"' in dashboard.fragment
    wal = panel(dashboard, "WAL Corruptions")  # singlestat, valueName "max" (see the JSON)
    spec = json.loads(VENDORED.read_text())
    old = next(p for p in spec["panels"] if p["title"] == "WAL Corruptions")
    values = [
        v
        for _, vs in raw_samples(
            server.url, 'prometheus_tsdb_wal_corruptions_total{job="prometheus"}', hour.start, hour.end
        )
        for v in vs
    ]
    assert values
    assert old["valueName"] == "max" and old["valueMaps"] == [{"op": "=", "text": "None", "value": "0"}]
    assert wal.shown[0].value == max(values)
    # singlestat's valueMaps and colours, migrated as Grafana migrates them: 0 reads "None", in the first colour
    if max(values) == 0:
        assert wal.shown[0].text == "None" and wal.shown[0].color == old["colors"][0]
    # maxDataPoints 100 over an hour: 36 s, rounded to 30 s; intervalFactor 2: a 60 s step
    assert wal.queries[0]["step"] == 60
    memory = panel(dashboard, "Memory Profile")
    assert memory.series == 2 and "MiB" in panel_html(dashboard, "Memory Profile")  # yaxes format: bytes
    stacked = panel(dashboard, "Rule Group Eval Activity")
    assert stacked.points > 0


# --- variables ---------------------------------------------------------------------------------


def test_variables_all_one_and_several_values(demo_hour):
    server, hour = demo_hour
    locations = sorted(_get(server.url, "/api/v1/label/location/values", **{"match[]": "inventory_skus"}))
    assert len(locations) >= 3
    (everything,) = render_dashboards_sync(["business"], server.url, hour.start, hour.end)
    assert everything.variables["location"] == locations  # label_values(inventory_skus, location), sorted
    title = "Low-stock SKUs by location"
    assert panel(everything, title).queries[0]["expr"] == 'inventory_low_stock_skus{location=~".*"}'  # allValue
    assert panel(everything, title).series == len(locations)

    (several,) = render_dashboards_sync(
        ["business"], server.url, hour.start, hour.end, variables={"location": locations[:2]}
    )
    picked = panel(several, title)
    assert picked.queries[0]["expr"] == f'inventory_low_stock_skus{{location=~"({locations[0]}|{locations[1]})"}}'
    assert picked.series == 2
    (single,) = render_dashboards_sync(
        ["business"], server.url, hour.start, hour.end, variables={"location": [locations[-1]]}
    )
    assert panel(single, title).series == 1
    assert f"Location: {locations[-1]}" in single.fragment


def test_no_data_query_error_and_placeholder(demo_hour):
    server, hour = demo_hour
    dashboard = {
        "title": "edge cases",
        "panels": [
            {"type": "stat", "title": "nothing", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
             "targets": [{"expr": "metric_that_does_not_exist", "refId": "A"}]},
            {"type": "timeseries", "title": "broken", "gridPos": {"x": 6, "y": 0, "w": 6, "h": 4},
             "targets": [{"expr": "sum(", "refId": "A"}]},
            {"type": "piechart", "title": "pie", "gridPos": {"x": 12, "y": 0, "w": 6, "h": 4},
             "targets": [{"expr": "up", "refId": "A"}]},
            {"type": "text", "title": "note", "gridPos": {"x": 18, "y": 0, "w": 6, "h": 4},
             "options": {"mode": "markdown", "content": "# Heading\n\n**bold** <b>tag</b>"}},
        ],
    }  # fmt: skip
    (out,) = render_dashboards_sync([dashboard], server.url, hour.start, hour.end)
    status = {p.title: p.status for p in out.panels}
    assert status == {"nothing": "no data", "broken": "error", "pie": "placeholder", "note": "text"}
    assert "No data" in panel_html(out, "nothing")
    assert "panel type piechart not rendered" in panel_html(out, "pie")
    assert "<strong>bold</strong> &lt;b&gt;tag&lt;/b&gt;" in panel_html(out, "note")


def test_collapsed_rows_are_expanded_in_place():
    dashboard = {
        "panels": [
            {"type": "row", "title": "open", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []},
            {"type": "stat", "title": "a", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 4}},
            {"type": "row", "title": "shut", "collapsed": True, "gridPos": {"x": 0, "y": 5, "w": 24, "h": 1},
             "panels": [{"type": "stat", "title": "b", "gridPos": {"x": 0, "y": 30, "w": 24, "h": 6}}]},
            {"type": "row", "title": "after", "gridPos": {"x": 0, "y": 6, "w": 24, "h": 1}, "panels": []},
        ]
    }  # fmt: skip
    placed = [(p.panel["title"], p.y, p.h) for p in layout(dashboard)]
    assert placed == [("open", 0, 1), ("a", 1, 4), ("shut", 5, 1), ("b", 6, 6), ("after", 12, 1)]
    assert [p.panel["title"] for p in layout(dashboard, expand_collapsed=False)] == ["open", "a", "shut", "after"]


# --- the page, the PNG and the command line ----------------------------------------------------


def test_html_is_self_contained(rendered):
    for dashboard in rendered.values():
        page = dashboard.document
        assert "<script" not in page.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page), "external reference"
        assert page.count("<svg") > 0


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(not shutil.which("chromium") and not Path("/usr/bin/chromium").exists(), reason="no chromium")
def test_command_line_writes_html_and_png(demo_hour, tmp_path):
    server, hour = demo_hour
    done = subprocess.run(
        [
            sys.executable, "-m", "reporter.dashboards", "--prometheus", server.url,
            "--dashboard", "overview", "--from", f"{hour.start}", "--to", f"{hour.end}",
            "--out", str(tmp_path), "--png",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "21 panels, 21 with data" in done.stdout
    page = (tmp_path / "overview.html").read_text()
    assert "Inventory / Overview" in page
    width, height = _png_size((tmp_path / "overview.png").read_bytes())
    grid_height = int(re.search(r'class="gd-grid" style="height:(\d+)px"', page).group(1))
    assert width == 1600 + 24 and height == grid_height + 80
