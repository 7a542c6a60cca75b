"""The dashboard renderer's pieces that need no Prometheus: variable resolution and
interpolation as Grafana's Prometheus data source does it, units, thresholds, mappings,
Grafana's interval arithmetic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reporter.dashboards.data import legend, panel_interval
from reporter.dashboards.units import apply_mappings, format_value, threshold_color
from reporter.dashboards.variables import (
    Scope,
    duration_seconds,
    format_duration,
    parse_time,
    resolve_variables,
    round_interval,
)

START, END = 1_700_000_000.0, 1_700_003_600.0


def resolve(templating: list[dict[str, Any]], answers: dict[str, list[str]] | None = None, **overrides) -> Scope:
    asked = []

    async def fetch(kind: str, what: str, selector: Any) -> list[str]:
        asked.append((kind, what, selector))
        return list((answers or {}).get(f"{kind}:{what}:{selector}", []))

    scope = asyncio.run(resolve_variables({"templating": {"list": templating}}, START, END, fetch, overrides))
    scope.asked = asked  # type: ignore[attr-defined]
    return scope


QUERY_VAR = {
    "name": "location",
    "type": "query",
    "query": {"query": "label_values(inventory_skus, location)", "refId": "X"},
    "includeAll": True,
    "allValue": ".*",
    "multi": True,
    "current": {"text": ["All"], "value": ["$__all"]},
    "sort": 1,
    "regex": "",
}
ANSWERS = {"label_values:location:inventory_skus": ["wh-main", "online", "store.north"]}


def test_query_variable_all_uses_all_value_and_every_form():
    scope = resolve([QUERY_VAR], ANSWERS)
    assert scope.asked == [("label_values", "location", "inventory_skus")]  # type: ignore[attr-defined]
    assert scope.variables["location"].values() == ["online", "store.north", "wh-main"]  # sort 1: alphabetical
    for text in ('x{l=~"$location"}', 'x{l=~"${location}"}', 'x{l=~"[[location]]"}'):
        assert scope.interpolate(text) == 'x{l=~".*"}'


def test_all_without_all_value_is_a_regex_of_every_value():
    spec = {**QUERY_VAR, "allValue": None}
    scope = resolve([spec], ANSWERS)
    assert scope.interpolate('x{l=~"$location"}') == 'x{l=~"(online|store\\\\.north|wh-main)"}'
    assert scope.interpolate("${location:csv}") == "online,store.north,wh-main"
    assert scope.interpolate("${location:pipe}") == "online|store.north|wh-main"
    assert scope.interpolate("${location:regex}") == "(online|store\\.north|wh-main)"


def test_selection_override_one_and_several():
    scope = resolve([QUERY_VAR], ANSWERS, location=["wh-main"])
    assert scope.interpolate('x{l=~"$location"}') == 'x{l=~"wh-main"}'
    scope = resolve([QUERY_VAR], ANSWERS, location=["wh-main", "store.north"])
    assert scope.interpolate('x{l=~"$location"}') == 'x{l=~"(wh-main|store\\\\.north)"}'
    # a saved selection that is no longer an option falls back to the first option
    stale = {**QUERY_VAR, "includeAll": False, "current": {"value": ["gone"]}}
    assert resolve([stale], ANSWERS).variables["location"].values() == ["online"]


def test_variable_regex_and_query_result():
    spec = {
        "name": "job",
        "type": "query",
        "query": "query_result(count by (job) (up))",
        "regex": '/job="([^"]+)"/',
        "current": {},
    }
    answers = {"query_result:count by (job) (up):None": ['{job="api"} 1 1', '{job="db"} 2 1']}
    scope = resolve([spec], answers)
    assert scope.variables["job"].values() == ["api"]  # not multi: the first option
    assert [v for _, v in scope.variables["job"].options] == ["api", "db"]


def test_chained_variables_custom_constant_interval_textbox():
    templating = [
        {"name": "env", "type": "custom", "query": "prod : production,stage", "current": {"value": "production"}},
        {"name": "metric", "type": "constant", "query": "up"},
        {"name": "inst", "type": "query", "query": 'label_values($metric{env="$env"}, instance)'},
        {"name": "win", "type": "interval", "query": "1m,10m,1h", "auto": True, "auto_count": 30, "auto_min": "10s",
         "current": {"value": "$__auto_interval_win"}},
        {"name": "free", "type": "textbox", "query": "abc", "current": {"value": "typed"}},
    ]  # fmt: skip
    answers = {'label_values:instance:up{env="production"}': ["a:1", "b:2"]}
    scope = resolve(templating, answers)
    assert scope.variables["env"].options == [("prod", "production"), ("stage", "stage")]
    assert scope.variables["inst"].values() == ["a:1"]
    assert scope.variables["win"].values() == ["2m"]  # 3600 s / 30 = 120 s
    assert scope.interpolate("rate(x[$win]) $free $metric") == "rate(x[2m]) typed up"


def test_builtin_variables():
    scope = Scope({}, START, END)
    text = "rate(x[$__rate_interval]) $__interval $__interval_ms $__range ${__range_s} $__from $__to"
    assert scope.interpolate(text, interval=15, rate_interval=60) == (
        f"rate(x[1m]) 15s 15000 1h 3600 {int(START * 1000)} {int(END * 1000)}"
    )
    assert scope.interpolate("$unknown stays") == "$unknown stays"


def test_grafana_interval_arithmetic():
    assert round_interval(6.98) == 5 and round_interval(36) == 30 and round_interval(100) == 120
    scope = Scope({}, START, END)
    assert panel_interval({}, scope, 516, 15.0) == (15, None)  # 6.98 s rounds to 5 s, raised to 15 s
    assert panel_interval({"maxDataPoints": 10}, scope, 516, 15.0) == (300, None)  # 360 s rounds to 5m
    assert panel_interval({"interval": "2m"}, scope, 516, 15.0) == (120, 120)
    assert duration_seconds("1h30m") == 5400 and format_duration(90) == "90s" and format_duration(120) == "2m"


def test_parse_time():
    now = 1_700_000_000.0
    assert parse_time("now", now) == now
    assert parse_time("now-1h", now) == parse_time("-1h", now) == now - 3600
    assert parse_time("now-1d/d", now) == (now - 86400) // 86400 * 86400
    assert parse_time("2023-11-14T22:13:20Z", now) == 1_700_000_000
    assert parse_time("1700000000", now) == now


def test_legend_format():
    labels = {"__name__": "up", "job": "api", "instance": "a:1"}
    assert legend("{{job}} on {{ instance }}", labels, "up") == "api on a:1"
    assert legend("", labels, "up") == 'up{instance="a:1", job="api"}'
    assert legend("__auto", {}, "sum(up)") == "sum(up)"


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "text"),
    [
        (0.9876, "percentunit", None, "98.8%"),
        (0.5, "percentunit", 2, "50.00%"),
        (42.25, "percent", 1, "42.3%"),
        (1536, "bytes", None, "1.50 KiB"),
        (3 * 1024**3, "bytes", 1, "3.0 GiB"),
        (2500, "decbytes", 1, "2.5 kB"),
        (0.0123, "s", None, "12.3 ms"),
        (90, "s", 1, "1.5 min"),
        (7200, "s", None, "2 hour"),
        (1_296_000, "s", 1, "2.1 week"),
        (250, "ms", None, "250 ms"),
        (2500, "ms", 1, "2.5 s"),
        (1283, "short", None, "1.28 K"),
        (2_500_000, "short", 1, "2.5 Mil"),
        (12, "short", None, "12"),
        (0.963, "reqps", None, "0.963 req/s"),
        (1500, "reqps", 1, "1.5 K req/s"),
        (1234.5, "currencyUSD", 2, "$1.23K"),
        (-12.5, "currencyEUR", 2, "-€12.50"),
        (3.14159, "none", 2, "3.14"),
        (3.0, None, None, "3"),
        (2, "suffix:x", None, "2x"),
        (None, "short", None, "No data"),
        (1e300, "none", 2, "1e+300"),
    ],
)
def test_units(value, unit, decimals, text):
    assert format_value(value, unit, decimals) == text


def test_thresholds_absolute_and_percentage():
    steps = {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 80}]}
    assert threshold_color(79.9, steps, 0, 100) == "#73BF69"
    assert threshold_color(80, steps, 0, 100) == "#F2495C"
    percent = {"mode": "percentage", "steps": [{"color": "blue", "value": None}, {"color": "#123456", "value": 50}]}
    assert threshold_color(4, percent, 0, 10) == "#5794F2"
    assert threshold_color(5, percent, 0, 10) == "#123456"
    assert threshold_color(None, steps, 0, 100) is None


def test_value_mappings():
    mappings = [
        {"type": "value", "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}}},
        {"type": "range", "options": {"from": 2, "to": 10, "result": {"text": "some"}}},
        {"type": "special", "options": {"match": "null", "result": {"text": "N/A"}}},
    ]
    assert apply_mappings(1.0, mappings).text == "UP"  # type: ignore[union-attr]
    assert apply_mappings(0.0, mappings).color == "#F2495C"  # type: ignore[union-attr]
    assert apply_mappings(5.0, mappings).text == "some"  # type: ignore[union-attr]
    assert apply_mappings(None, mappings).text == "N/A"  # type: ignore[union-attr]
    assert apply_mappings(11.0, mappings) is None


def test_schema_before_16_rows_are_placed_on_the_grid():
    from reporter.dashboards.render import layout, load_dashboard

    old = {
        "rows": [
            {"title": "first", "showTitle": True, "height": "250px",
             "panels": [{"type": "graph", "title": "a", "span": 6}, {"type": "singlestat", "title": "b", "span": 6}]},
            {"title": "second", "height": 300, "collapse": True,
             "panels": [{"type": "graph", "title": "c", "span": 12}]},
            {"title": "third", "panels": [{"type": "text", "title": "d", "span": 8}, {"type": "text", "title": "e"}]},
        ]
    }  # fmt: skip
    placed = [(p.panel.get("title"), p.x, p.y, p.w, p.h) for p in layout(load_dashboard(old))]
    # 250 px is 7 grid rows (38 px each), 300 px 8; spans of 12 columns doubled; "second" collapsed
    assert placed == [
        ("first", 0, 0, 24, 1),
        ("a", 0, 1, 12, 7),
        ("b", 12, 1, 12, 7),
        ("second", 0, 8, 24, 1),
        ("c", 0, 9, 24, 8),
        ("third", 0, 17, 24, 1),
        ("d", 0, 18, 16, 7),
        ("e", 16, 18, 8, 7),
    ]


def test_table_merge_and_organize():
    from reporter.dashboards.data import Frame, PanelData
    from reporter.dashboards.panels import draw_table

    def frame(ref: str, rule: str, value: float) -> Frame:
        return Frame(ref, {"rule": rule, "job": "e"}, rule, [START], [value], instant=True)

    data = PanelData([frame("A", "r1", 0.5), frame("B", "r1", 3), frame("A", "r2", 0.25), frame("B", "r2", 4)])
    panel = {
        "type": "table",
        "fieldConfig": {"defaults": {"unit": "none"}},
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True},
                                           "renameByName": {"rule": "Rule", "Value #A": "Effect"}}},
        ],
    }  # fmt: skip
    drawn = draw_table(panel, data, __import__("datetime").timezone.utc)
    assert drawn.rows == [["Rule", "Effect", "Value #B"], ["r1", "0.500", "3"], ["r2", "0.250", "4"]]
