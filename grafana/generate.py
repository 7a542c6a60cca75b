"""Generate the Grafana dashboards of inventory-monitor.

    python -m grafana.generate            # (re)write grafana/dashboards/*.json
    python -m grafana.generate --check    # exit 1 and name the files that differ

Dashboards are code, as in the monitoring mixins: every PromQL expression lives here, as
plain dicts, and tests/stack/test_dashboards.py checks the generated JSON against the metric
reference (docs/*.md) and the recording rules, and runs every query against a real
Prometheus. Alert thresholds are not repeated here: they are read from the
`# threshold NAME = value` lines of prometheus/rules/*.yml, so a dashboard's red line
moves with the alert it illustrates (and the committed JSON must be regenerated).

Edit this file, run `python -m grafana.generate`, commit both.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "prometheus" / "rules"
OUTPUT_DIR = Path(__file__).resolve().parent / "dashboards"

SCHEMA_VERSION = 39
TAG = "inventory-monitor"
GRID_WIDTH = 24

# Colour bands of the forecast WAPE tile. Dashboard-only: no alert uses them, so they are
# not in the rule files. Retail item-level forecasts rarely beat 20-30 %.
FORECAST_WAPE_WARNING = 0.3
FORECAST_WAPE_BAD = 0.5

# Every panel, target, variable query and annotation goes through the datasource variable,
# so one provisioned dashboard works against any Prometheus the user picks.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------
# Thresholds, named once in the rule files
# ---------------------------------------------------------------------------------------

_THRESHOLD_LINE = re.compile(r"^#\s*threshold\s+([A-Z][A-Z0-9_]*)\s*=\s*(\S+)", re.MULTILINE)


def load_thresholds(rules_dir: Path = RULES_DIR) -> dict[str, float]:
    """NAME -> value of every numeric `# threshold` line; durations (1h) are skipped."""
    values: dict[str, float] = {}
    for path in sorted(rules_dir.glob("*.yml")):
        for name, value in _THRESHOLD_LINE.findall(path.read_text()):
            try:
                values[name] = float(value)
            except ValueError:
                continue
    return values


class Thresholds:
    def __init__(self, values: dict[str, float]):
        self.values = values

    def __getitem__(self, name: str) -> float:
        if name not in self.values:
            raise SystemExit(
                f"{RULES_DIR}: no '# threshold {name} = <value>' line; the dashboards use it (grafana/generate.py)"
            )
        return self.values[name]


def num(value: float) -> str:
    """A number as PromQL and Grafana show it: 900, not 900.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------


def target(expr: str, legend: str = "__auto", *, instant: bool = False, table: bool = False) -> Json:
    query: Json = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
    }
    if table:
        query["format"] = "table"
    return query


def steps(base: str, *changes: tuple[float, str]) -> Json:
    """Absolute thresholds: `base` below the first change, then each (value, color) upward."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}] + [{"color": color, "value": value} for value, color in changes],
    }


NEUTRAL = steps("text")
# 1 is good, 0 is bad: the state gauges (up, collector success, probe success).
UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
IN_MAINTENANCE = [
    {
        "type": "value",
        "options": {
            "0": {"text": "no", "color": "green", "index": 0},
            "1": {"text": "IN FORCE", "color": "blue", "index": 1},
        },
    }
]
OK_FAILED = [
    {
        "type": "value",
        "options": {
            "0": {"text": "FAILED", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]


def dashboard_link(uid: str, title: str) -> Json:
    # keepTime and the datasource keep the context when jumping from a tile to its detail.
    return {"title": title, "url": f"/d/{uid}?${{__url_time_range}}&${{datasource:queryparam}}"}


def _panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int,
    h: int,
    thresholds: Json | None = None,
    mappings: list | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
    custom: Json | None = None,
    options: Json | None = None,
    links: list[Json] | None = None,
    color: Json | None = None,
    transformations: list[Json] | None = None,
) -> Json:
    defaults: Json = {"unit": unit, "thresholds": thresholds or NEUTRAL, "mappings": mappings or []}
    if color is not None:
        defaults["color"] = color
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom is not None:
        defaults["custom"] = custom
    if links:
        defaults["links"] = links
    refs = "ABCDEFGHIJ"
    panel: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": h, "w": w},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
        "targets": [dict(t, refId=refs[i]) for i, t in enumerate(targets)],
    }
    if transformations:
        panel["transformations"] = transformations
    return panel


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int = 12,
    h: int = 8,
    thresholds: Json | None = None,
    threshold_style: str = "off",
    bars: bool = False,
    stack: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
) -> Json:
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0 if minimum is None else None,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": threshold_style},
    }
    custom = {k: v for k, v in custom.items() if v is not None}
    return _panel(
        "timeseries",
        title,
        description,
        targets,
        unit,
        w=w,
        h=h,
        thresholds=thresholds,
        minimum=minimum,
        maximum=maximum,
        decimals=decimals,
        custom=custom,
        color={"mode": "palette-classic"},
        options={
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def stat(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int = 6,
    h: int = 5,
    thresholds: Json | None = None,
    mappings: list | None = None,
    decimals: int | None = None,
    links: list[Json] | None = None,
    graph: bool = True,
    name: bool = False,
) -> Json:
    return _panel(
        "stat",
        title,
        description,
        targets,
        unit,
        w=w,
        h=h,
        thresholds=thresholds,
        mappings=mappings,
        decimals=decimals,
        links=links,
        color={"mode": "thresholds"},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if (thresholds or mappings) else "value",
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "value_and_name" if name else "auto",
        },
    )


def gauge(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int = 6,
    h: int = 7,
    thresholds: Json,
    minimum: float,
    maximum: float,
    decimals: int | None = None,
    links: list[Json] | None = None,
) -> Json:
    return _panel(
        "gauge",
        title,
        description,
        targets,
        unit,
        w=w,
        h=h,
        thresholds=thresholds,
        minimum=minimum,
        maximum=maximum,
        decimals=decimals,
        links=links,
        color={"mode": "thresholds"},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        },
    )


def bargauge(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int = 12,
    h: int = 8,
    thresholds: Json | None = None,
    minimum: float | None = 0,
    maximum: float | None = None,
    decimals: int | None = None,
) -> Json:
    return _panel(
        "bargauge",
        title,
        description,
        targets,
        unit,
        w=w,
        h=h,
        thresholds=thresholds or steps("blue"),
        minimum=minimum,
        maximum=maximum,
        decimals=decimals,
        color={"mode": "thresholds"},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
        },
    )


def table(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    *,
    w: int = 24,
    h: int = 8,
    hidden: tuple[str, ...] = (),
    renames: dict[str, str] | None = None,
    mappings: list | None = None,
    thresholds: Json | None = None,
) -> Json:
    return _panel(
        "table",
        title,
        description,
        targets,
        unit,
        w=w,
        h=h,
        mappings=mappings,
        thresholds=thresholds,
        custom={"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}},
        transformations=[
            {
                "id": "organize",
                "options": {
                    "excludeByName": {name: True for name in hidden},
                    "renameByName": renames or {},
                    "indexByName": {},
                },
            }
        ],
    )


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": GRID_WIDTH}, "panels": []}


def layout(panels: list[Json]) -> list[Json]:
    """Number the panels 1.. and place them left to right, wrapping at the grid width."""
    x = y = line_height = 0
    placed = []
    for panel_id, panel in enumerate(panels, start=1):
        w, h = panel["gridPos"]["w"], panel["gridPos"]["h"]
        if panel["type"] == "row" or x + w > GRID_WIDTH:
            y, x, line_height = y + line_height, 0, 0
        panel = {"id": panel_id, **panel, "gridPos": {"h": h, "w": w, "x": x, "y": y}}
        placed.append(panel)
        x += w
        line_height = max(line_height, h)
        if panel["type"] == "row":
            y, x, line_height = y + h, 0, 0
    return placed


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_variable(name: str, label: str, metric: str, label_name: str, description: str) -> Json:
    """A multi-value label_values variable; "All" is `.*`, so panels filter with `=~"$name"`."""
    definition = f"label_values({metric}, {label_name})"
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": definition,
        "query": {"qryType": 1, "query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
        "skipUrlSync": False,
    }


def annotation(name: str, expr: str, title: str, text: str, color: str) -> Json:
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "expr": expr,
        "step": "60s",
        "titleFormat": title,
        "textFormat": text,
        "tagKeys": "",
        "useValueForTime": False,
    }


FIRING_ALERTS = annotation(
    "Firing alerts",
    'ALERTS{alertstate="firing"}',
    "{{alertname}}",
    "{{severity}} {{service}}",
    "red",
)
ENHANCER_ACTIONS = annotation(
    "Enhancer actions",
    'sum by (rule) (increase(inventory_enhancer_actions_total{outcome="success"}[$__rate_interval])) > 0',
    "enhancer: {{rule}}",
    "action sent",
    "purple",
)


def dashboard(
    uid: str, title: str, description: str, panels: list[Json], variables: list[Json], annotations: list[Json]
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "weekStart": "",
        "version": 1,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                },
                *annotations,
            ]
        },
        # One tag link row on every dashboard: each dashboard reaches every other one.
        "links": [
            {
                "title": "Inventory dashboards",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }


UID = {
    "overview": "inventory-overview",
    "host-and-api": "inventory-host-api",
    "business": "inventory-business",
    "integrations": "inventory-integrations",
    "enhancer": "inventory-enhancer",
}

LOCATION = query_variable(
    "location",
    "Location",
    "inventory_skus",
    "location",
    "Inventory locations (stock_levels.location_id) reported by the exporter.",
)
CHANNEL = query_variable("channel", "Channel", "inventory_orders", "channel", "Order channels (orders.channel).")
INTEGRATION = query_variable(
    "integration",
    "Integration",
    "inventory_integration_up",
    "integration",
    "Integrations configured in the exporter (Shopify, POS, WMS).",
)


# ---------------------------------------------------------------------------------------
# Dashboards
# ---------------------------------------------------------------------------------------


def overview(t: Thresholds) -> Json:
    score_bad, score_good = t["PERFORMANCE_SCORE_DEGRADED"], t["PERFORMANCE_SCORE_EXCELLENT"]
    fulfilment = t["FULFILLMENT_TARGET_RATIO"]
    accuracy = t["INTEGRATION_ACCURACY_RATIO"]
    panels = [
        row("Components"),
        stat(
            "Scrape targets",
            "up per Prometheus job: 1 when the last scrape of every target of the job succeeded "
            "(inventory-exporter, inventory-api, inventory-enhancer, alertmanager, prometheus). "
            "DOWN on the exporter blanks every business and integration panel.",
            [target("min by (job) (up)", "{{job}}")],
            "none",
            w=12,
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
            links=[dashboard_link(UID["host-and-api"], "Host and API")],
        ),
        stat(
            "Exporter collectors",
            "inventory_exporter_collector_success: 1 if the collector's last run succeeded. "
            "business FAILED means the inventory database is unreachable (InventoryDatabaseDown); "
            "integration_<name> FAILED means that remote API could not be read.",
            [target("inventory_exporter_collector_success", "{{collector}}")],
            "none",
            w=12,
            mappings=OK_FAILED,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
            links=[dashboard_link(UID["host-and-api"], "Host and API")],
        ),
        stat(
            "API health checks",
            "inventory_api_up: the exporter's last probe of each inventory API endpoint got the "
            "expected status within its timeout.",
            [target("inventory_api_up", "{{target}}")],
            "none",
            w=6,
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
            links=[dashboard_link(UID["host-and-api"], "Host and API")],
        ),
        stat(
            "Integrations",
            "inventory_integration_up: the last health probe of each integration (Shopify, POS, WMS) succeeded.",
            [target("inventory_integration_up", "{{integration}}")],
            "none",
            w=6,
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
            links=[dashboard_link(UID["integrations"], "Integrations")],
        ),
        stat(
            "Enhancer",
            "inventory_enhancer_prometheus_up: 1 when the enhancer's last poll of Prometheus succeeded; "
            "while it is 0 the enhancer takes no action.",
            [target("inventory_enhancer_prometheus_up", "polling Prometheus")],
            "none",
            w=6,
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            links=[dashboard_link(UID["enhancer"], "Enhancer")],
        ),
        stat(
            "Uptime, last 24 h",
            "Share of successful scrapes per job over the last day (job:up:avg_over_time1d). "
            f"Green at the {num(t['SLO_AVAILABILITY_TARGET'] * 100)}% availability target.",
            [target("job:up:avg_over_time1d", "{{job}}")],
            "percentunit",
            w=6,
            decimals=2,
            thresholds=steps("red", (t["SLO_AVAILABILITY_TARGET"], "green")),
            graph=False,
            name=True,
        ),
        row("Inventory API performance"),
        gauge(
            "Performance score",
            "0-100 score of the inventory API over 5 minutes: "
            f"{num(t['SCORE_WEIGHT_AVAILABILITY'] * 100)}% availability, "
            f"{num(t['SCORE_WEIGHT_ERRORS'] * 100)}% error ratio, {num(t['SCORE_WEIGHT_LATENCY'] * 100)}% "
            f"latency (Apdex). Below {num(score_bad)} for 10 minutes fires InventoryPerformanceDegraded; "
            f"{num(score_good)}+ for a whole day is excellent (InventoryPerformanceExcellent).",
            [target("job:inventory_api_performance_score:weighted_avg5m", "{{job}}")],
            "none",
            w=6,
            h=6,
            minimum=0,
            maximum=100,
            decimals=1,
            thresholds=steps("red", (score_bad, "yellow"), (score_good, "green")),
            links=[dashboard_link(UID["host-and-api"], "Host and API")],
        ),
        stat(
            "Requests",
            "Requests per second served by the inventory API over 5 minutes (job:inventory_api_requests:rate5m).",
            [target("job:inventory_api_requests:rate5m", "{{job}}")],
            "reqps",
            h=6,
        ),
        stat(
            "5xx ratio",
            "Share of requests answered with a 5xx status over 5 minutes "
            f"(job:inventory_api_request_errors:ratio_rate5m). Red above {num(t['API_ERROR_RATIO'] * 100)}% "
            "(InventoryAPIHighErrorRatio).",
            [target("job:inventory_api_request_errors:ratio_rate5m", "{{job}}")],
            "percentunit",
            h=6,
            decimals=2,
            thresholds=steps("green", (t["API_ERROR_RATIO"], "red")),
        ),
        stat(
            "p95 latency",
            "95th percentile request duration over 5 minutes "
            f"(job:inventory_api_request_duration_seconds:p95_5m). Red above {num(t['API_P95_LATENCY_SECONDS'])} s "
            "(InventoryAPISlowResponses).",
            [target("job:inventory_api_request_duration_seconds:p95_5m", "{{job}}")],
            "s",
            h=6,
            thresholds=steps("green", (t["API_P95_LATENCY_SECONDS"], "red")),
        ),
        timeseries(
            "Performance score components",
            "The three inputs of the score, each 0..1: availability (share of successful scrapes), "
            "errors (1 at no 5xx, 0 at the error-ratio warning) and latency (Apdex: requests within "
            f"{num(t['SCORE_APDEX_SATISFIED_SECONDS'])} s count fully, within "
            f"{num(t['SCORE_APDEX_TOLERATED_SECONDS'])} s half). The lowest line is what pulls the "
            "score down.",
            [
                target("job:inventory_api_score_availability:ratio5m", "availability {{job}}"),
                target("job:inventory_api_score_errors:ratio5m", "errors {{job}}"),
                target("job:inventory_api_score_latency:ratio5m", "latency {{job}}"),
            ],
            "percentunit",
            w=24,
            h=7,
            minimum=0,
            maximum=1,
        ),
        row("Business"),
        stat(
            "Order fulfilment, worst channel",
            "Lowest inventory_order_fulfillment_ratio over the channels "
            "(job:inventory_order_fulfillment_ratio:min): fulfilled over all orders created in the "
            f"trailing window, cancelled excluded. Target {num(fulfilment * 100)}%.",
            [target("job:inventory_order_fulfillment_ratio:min", "fulfilment")],
            "percentunit",
            decimals=1,
            thresholds=steps("red", (fulfilment, "green")),
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Low-stock SKUs",
            "SKU-locations whose available stock is above 0 and at or below their reorder point, "
            "summed over locations (job:inventory_low_stock_skus:sum).",
            [target("job:inventory_low_stock_skus:sum", "low stock")],
            "short",
            thresholds=steps("green", (t["LOW_STOCK_SKUS"] + 1, "yellow")),
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Out-of-stock SKUs",
            "SKU-locations with no available stock (on hand minus reserved <= 0), summed over "
            "locations (job:inventory_out_of_stock_skus:sum).",
            [target("job:inventory_out_of_stock_skus:sum", "out of stock")],
            "short",
            thresholds=steps("green", (t["OUT_OF_STOCK_SKUS"] + 1, "red")),
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Below safety stock",
            "SKU-locations whose available stock is under their safety stock, summed over locations "
            "(job:inventory_below_safety_stock_skus:sum).",
            [target("job:inventory_below_safety_stock_skus:sum", "below safety stock")],
            "short",
            thresholds=steps("green", (t["BELOW_SAFETY_STOCK_SKUS"] + 1, "yellow")),
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Stock value",
            "Sum of on hand x unit cost over all locations, per currency "
            "(job_currency:inventory_stock_value:sum); rows without a cost are not in it "
            "(data-quality check null_unit_cost).",
            [target("job_currency:inventory_stock_value:sum", "{{currency}}")],
            "short",
            decimals=0,
            name=True,
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Unlogged stock movements",
            "inventory_audit_unlogged_movements: stock movements with no audit_log row, all time. Anything "
            "above 0 is an audit compliance gap; InventoryAuditGap fires on new ones within an hour.",
            [target("inventory_audit_unlogged_movements", "unlogged")],
            "short",
            thresholds=steps("green", (t["AUDIT_UNLOGGED_MOVEMENTS"] + 1, "red")),
            links=[dashboard_link(UID["business"], "Business")],
        ),
        stat(
            "Integration accuracy, worst",
            "Lowest inventory record accuracy over the integrations "
            "(job:inventory_integration_accuracy_ratio:min): SKU-locations whose remote quantity "
            f"matches the database over those compared. Target {num(accuracy * 100)}%.",
            [target("job:inventory_integration_accuracy_ratio:min", "accuracy")],
            "percentunit",
            decimals=1,
            thresholds=steps("red", (accuracy, "green")),
            links=[dashboard_link(UID["integrations"], "Integrations")],
        ),
        stat(
            "Stock mismatches",
            "SKU-locations whose remote available quantity differs from the database, per integration "
            "(integration:inventory_integration_stock_mismatch_skus:sum).",
            [target("integration:inventory_integration_stock_mismatch_skus:sum", "{{integration}}")],
            "short",
            thresholds=steps("green", (t["INTEGRATION_MISMATCH_SKUS"] + 1, "yellow")),
            name=True,
            links=[dashboard_link(UID["integrations"], "Integrations")],
        ),
        row("Alerts"),
        stat(
            "Alerts by severity",
            "Alerts pending (condition true, waiting out its `for`) and firing, counted by severity "
            "from Prometheus's ALERTS series.",
            [target("count by (severity, alertstate) (ALERTS)", "{{severity}} {{alertstate}}")],
            "short",
            w=6,
            h=8,
            graph=False,
            name=True,
        ),
        table(
            "Active alerts",
            "Every pending and firing alert (ALERTS), one row per alert and label set. Alertmanager "
            "routes the firing ones; runbooks are in docs/runbooks.md under the alert's name.",
            [target("ALERTS", instant=True, table=True)],
            "short",
            w=18,
            h=8,
            hidden=("Time", "Value", "__name__", "monitor"),
            renames={"alertname": "Alert", "alertstate": "State", "severity": "Severity"},
        ),
    ]
    return dashboard(
        UID["overview"],
        "Inventory / Overview",
        "Status of every component, the API performance score, business KPIs and active alerts.",
        panels,
        [],
        [FIRING_ALERTS, ENHANCER_ACTIONS],
    )


def host_and_api(t: Thresholds) -> Json:
    instance = query_variable(
        "instance",
        "Exporter",
        "inventory_exporter_build_info",
        "instance",
        "Exporter instances: the host panels show the machine each one runs on.",
    )
    job = query_variable(
        "job",
        "API job",
        "inventory_api_requests_total",
        "job",
        "Prometheus jobs scraping an inventory API instrumented with servicekit.api_metrics.",
    )
    sel = 'instance=~"$instance"'
    api = 'job=~"$job"'
    budget = num(1 - t["SLO_AVAILABILITY_TARGET"])
    panels = [
        row("Host"),
        timeseries(
            "CPU utilisation",
            "inventory_host_cpu_utilization_ratio: share of CPU time not idle since the exporter's "
            "previous host collection, over all CPUs.",
            [target(f"inventory_host_cpu_utilization_ratio{{{sel}}}", "{{instance}}")],
            "percentunit",
            w=8,
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "Memory used",
            "Host memory in use (total minus available) over physical memory "
            f"(instance:inventory_host_memory_used:ratio). Above {num(t['HOST_MEMORY_USED_RATIO'] * 100)}% "
            "fires InventoryHostMemoryOverLimit.",
            [target(f"instance:inventory_host_memory_used:ratio{{{sel}}}", "{{instance}}")],
            "percentunit",
            w=8,
            minimum=0,
            maximum=1,
            threshold_style="dashed",
            thresholds=steps("green", (t["HOST_MEMORY_USED_RATIO"], "red")),
        ),
        timeseries(
            "Disk used",
            "inventory_host_disk_used_bytes over inventory_host_disk_total_bytes per filesystem.",
            [
                target(
                    f"inventory_host_disk_used_bytes{{{sel}}} / inventory_host_disk_total_bytes{{{sel}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            "percentunit",
            w=8,
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "Network traffic",
            "Bytes per second received and sent per interface (rate of "
            "inventory_host_network_received_bytes_total and _transmitted_bytes_total).",
            [
                target(
                    f"rate(inventory_host_network_received_bytes_total{{{sel}}}[$__rate_interval])",
                    "{{interface}} received",
                ),
                target(
                    f"rate(inventory_host_network_transmitted_bytes_total{{{sel}}}[$__rate_interval])",
                    "{{interface}} sent",
                ),
            ],
            "Bps",
            w=8,
        ),
        timeseries(
            "Process memory",
            "Resident memory of each inventory-monitor process (process_resident_memory_bytes of the "
            f"inventory-* jobs). Above {num(t['PROCESS_MEMORY_BYTES'] / 2**20)} MiB fires "
            "InventoryProcessMemoryOverLimit.",
            [target('process_resident_memory_bytes{job=~"inventory-.+"}', "{{job}}")],
            "bytes",
            w=8,
            threshold_style="dashed",
            thresholds=steps("green", (t["PROCESS_MEMORY_BYTES"], "red")),
        ),
        timeseries(
            "Process CPU",
            "CPU seconds per second used by each inventory-monitor process "
            "(rate of process_cpu_seconds_total); 100% is one core.",
            [target('rate(process_cpu_seconds_total{job=~"inventory-.+"}[$__rate_interval])', "{{job}}")],
            "percentunit",
            w=8,
        ),
        row("Exporter"),
        timeseries(
            "Collector run duration",
            "inventory_exporter_collector_duration_seconds: how long each collector's last run took. "
            "A collector near its timeout is about to fail.",
            [target(f"inventory_exporter_collector_duration_seconds{{{sel}}}", "{{collector}}")],
            "s",
        ),
        timeseries(
            "Time since collector success",
            "Seconds since each collector last succeeded "
            "(time() - inventory_exporter_collector_last_success_timestamp_seconds). It should stay "
            "near the collector's interval; a climbing line is a failing collector.",
            [target(f"time() - inventory_exporter_collector_last_success_timestamp_seconds{{{sel}}}", "{{collector}}")],
            "s",
        ),
        row("Inventory API traffic and errors"),
        timeseries(
            "Requests by handler",
            "Requests per second by route (rate of inventory_api_requests_total).",
            [
                target(
                    f"sum by (handler) (rate(inventory_api_requests_total{{{api}}}[$__rate_interval]))", "{{handler}}"
                )
            ],
            "reqps",
            w=8,
        ),
        timeseries(
            "Responses by status code",
            "Responses per second by HTTP status (rate of inventory_api_requests_total). 5xx are "
            "the SLO's bad events; 4xx are the caller's mistakes.",
            [target(f"sum by (code) (rate(inventory_api_requests_total{{{api}}}[$__rate_interval]))", "{{code}}")],
            "reqps",
            w=8,
            bars=True,
            stack=True,
        ),
        timeseries(
            "In-flight requests",
            "inventory_api_requests_in_flight: requests being served right now, by handler. A "
            "growing backlog means the API cannot keep up.",
            [target(f"sum by (handler) (inventory_api_requests_in_flight{{{api}}})", "{{handler}}")],
            "short",
            w=8,
        ),
        timeseries(
            "5xx ratio",
            "Share of requests answered with 5xx over 5 minutes and 1 hour "
            f"(job:inventory_api_request_errors:ratio_rate5m, _ratio_rate1h). Above "
            f"{num(t['API_ERROR_RATIO'] * 100)}% for 2 minutes fires InventoryAPIHighErrorRatio.",
            [
                target(f"job:inventory_api_request_errors:ratio_rate5m{{{api}}}", "{{job}} 5m"),
                target(f"job:inventory_api_request_errors:ratio_rate1h{{{api}}}", "{{job}} 1h"),
            ],
            "percentunit",
            threshold_style="dashed",
            thresholds=steps("green", (t["API_ERROR_RATIO"], "red")),
        ),
        timeseries(
            "Error-budget burn rate",
            f"How fast the {num(t['SLO_AVAILABILITY_TARGET'] * 100)}% availability SLO's error budget "
            f"is spent: 5xx ratio over {budget}. 1x spends the 30-day budget in exactly 30 days; "
            f"{num(t['SLO_BURN_RATE_PAGE_1H'])}x over 1h and 5m pages, {num(t['SLO_BURN_RATE_PAGE_6H'])}x "
            "over 6h and 30m too (InventoryAPIErrorBudgetBurn).",
            [
                target(f"job:inventory_api_request_errors:ratio_rate5m{{{api}}} / {budget}", "{{job}} 5m"),
                target(f"job:inventory_api_request_errors:ratio_rate1h{{{api}}} / {budget}", "{{job}} 1h"),
                target(f"job:inventory_api_request_errors:ratio_rate6h{{{api}}} / {budget}", "{{job}} 6h"),
            ],
            "suffix:x",
            threshold_style="dashed",
            thresholds=steps("green", (t["SLO_BURN_RATE_PAGE_6H"], "orange"), (t["SLO_BURN_RATE_PAGE_1H"], "red")),
        ),
        row("Inventory API latency"),
        timeseries(
            "Latency quantiles",
            "Request duration over 5 minutes: p50, p95, p99 and the mean "
            "(job:inventory_api_request_duration_seconds:*). p95 above "
            f"{num(t['API_P95_LATENCY_SECONDS'])} s for 5 minutes fires InventoryAPISlowResponses.",
            [
                target(f"job:inventory_api_request_duration_seconds:p50_5m{{{api}}}", "{{job}} p50"),
                target(f"job:inventory_api_request_duration_seconds:p95_5m{{{api}}}", "{{job}} p95"),
                target(f"job:inventory_api_request_duration_seconds:p99_5m{{{api}}}", "{{job}} p99"),
                target(f"job:inventory_api_request_duration_seconds:mean5m{{{api}}}", "{{job}} mean"),
            ],
            "s",
            threshold_style="dashed",
            thresholds=steps("green", (t["API_P95_LATENCY_SECONDS"], "red")),
        ),
        timeseries(
            "p95 latency by handler",
            "95th percentile request duration per route over 5 minutes "
            "(job_handler:inventory_api_request_duration_seconds:p95_5m): which route is slow.",
            [target(f"job_handler:inventory_api_request_duration_seconds:p95_5m{{{api}}}", "{{handler}}")],
            "s",
        ),
        row("Health probes"),
        stat(
            "Probe status",
            "inventory_api_up: the exporter's last probe of the endpoint got the expected status (and "
            "body text) within its timeout.",
            [target("inventory_api_up", "{{target}}")],
            "none",
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
        ),
        stat(
            "Probe HTTP status",
            "inventory_api_probe_http_status_code: HTTP status of the last probe, 0 when there was no "
            "response at all (refused, timed out).",
            [target("inventory_api_probe_http_status_code", "{{target}}")],
            "none",
            graph=False,
            name=True,
            thresholds=steps("red", (200, "green"), (400, "red")),
        ),
        stat(
            "Probe availability, last 24 h",
            "Share of successful probes per endpoint over the last day (target:inventory_api_up:avg_over_time1d).",
            [target("target:inventory_api_up:avg_over_time1d", "{{target}}")],
            "percentunit",
            decimals=2,
            thresholds=steps("red", (t["SLO_AVAILABILITY_TARGET"], "green")),
            graph=False,
            name=True,
        ),
        timeseries(
            "Probe duration",
            "inventory_api_probe_duration_seconds: how long the last probe took. Above "
            f"{num(t['API_PROBE_DURATION_SECONDS'])} s for 5 minutes fires InventoryAPIProbeSlow.",
            [target("inventory_api_probe_duration_seconds", "{{target}}")],
            "s",
            w=6,
            h=5,
            threshold_style="dashed",
            thresholds=steps("green", (t["API_PROBE_DURATION_SECONDS"], "red")),
        ),
    ]
    return dashboard(
        UID["host-and-api"],
        "Inventory / Host and API",
        "The exporter's host, the inventory-monitor processes, and the inventory API's traffic, "
        "errors, latency, SLO burn rate and health probes.",
        panels,
        [instance, job],
        [FIRING_ALERTS, ENHANCER_ACTIONS],
    )


def business(t: Thresholds) -> Json:
    loc = 'location=~"$location"'
    chan = 'channel=~"$channel"'
    fulfilment = t["FULFILLMENT_TARGET_RATIO"]
    otif = t["OTIF_TARGET_RATIO"]
    fill_collapse = t["FILL_RATE_COLLAPSE_RATIO"]
    fill_min_orders = t["FILL_RATE_MIN_DUE_ORDERS"]
    backorder_age = t["BACKORDER_MAX_AGE_SECONDS"]
    panels = [
        row("Stock"),
        stat(
            "SKUs stocked",
            "inventory_skus: stock_levels rows of active products, summed over the selected locations.",
            [target(f"sum(inventory_skus{{{loc}}})", "SKUs")],
            "short",
            w=4,
        ),
        stat(
            "Low-stock SKUs",
            "inventory_low_stock_skus: rows with a reorder point and 0 < available <= reorder point.",
            [target(f"sum(inventory_low_stock_skus{{{loc}}})", "low stock")],
            "short",
            w=4,
            thresholds=steps("green", (t["LOW_STOCK_SKUS"] + 1, "yellow")),
        ),
        stat(
            "Out-of-stock SKUs",
            "inventory_out_of_stock_skus: rows with available (on hand minus reserved) <= 0.",
            [target(f"sum(inventory_out_of_stock_skus{{{loc}}})", "out of stock")],
            "short",
            w=4,
            thresholds=steps("green", (t["OUT_OF_STOCK_SKUS"] + 1, "red")),
        ),
        stat(
            "Below safety stock",
            "inventory_below_safety_stock_skus: rows with a safety stock and available < safety stock.",
            [target(f"sum(inventory_below_safety_stock_skus{{{loc}}})", "below safety stock")],
            "short",
            w=4,
            thresholds=steps("green", (t["BELOW_SAFETY_STOCK_SKUS"] + 1, "yellow")),
        ),
        stat(
            "Stock value",
            "inventory_stock_value: on hand x unit cost over rows with stock and a known cost, per "
            "currency (never summed across currencies).",
            [target(f"sum by (currency) (inventory_stock_value{{{loc}}})", "{{currency}}")],
            "short",
            w=4,
            decimals=0,
            name=True,
        ),
        stat(
            "Days of cover, lowest location",
            "inventory_stock_cover_seconds (the design's days of cover, in base units; shown in days): "
            "available units over forecast demand, the lowest of the selected locations. Compare with "
            "the supplier lead time.",
            [target(f"min(inventory_stock_cover_seconds{{{loc}}})", "cover")],
            "s",
            w=4,
            decimals=1,
        ),
        timeseries(
            "Low-stock SKUs by location",
            "inventory_low_stock_skus per location: normal churn, no alert. InventoryLowStock fires on "
            "inventory_stockout_risk_skus (nothing on order, sells out within the lead time).",
            [target(f"inventory_low_stock_skus{{{loc}}}", "{{location}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Out-of-stock SKUs by location",
            "inventory_out_of_stock_skus per location: SKUs that cannot be sold there now, dead items "
            "included. InventoryOutOfStock fires on selling SKUs out and on a sharp rise of this count.",
            [target(f"inventory_out_of_stock_skus{{{loc}}}", "{{location}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Below safety stock by location",
            "inventory_below_safety_stock_skus per location: SKUs eating into the buffer that covers "
            "demand and lead-time variability (InventoryBelowSafetyStock: those with nothing on order).",
            [target(f"inventory_below_safety_stock_skus{{{loc}}}", "{{location}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Units on hand and available",
            "inventory_on_hand_units (sum of on_hand) and inventory_available_units (on hand minus "
            "reserved) per location. The gap is stock promised to open orders.",
            [
                target(f"inventory_on_hand_units{{{loc}}}", "{{location}} on hand"),
                target(f"inventory_available_units{{{loc}}}", "{{location}} available"),
            ],
            "short",
        ),
        bargauge(
            "Stock value by location",
            "inventory_stock_value per location and currency: where the capital sits.",
            [target(f"inventory_stock_value{{{loc}}}", "{{location}} ({{currency}})")],
            "short",
            decimals=0,
        ),
        timeseries(
            "Days of cover",
            "inventory_stock_cover_seconds per location: how long the available stock lasts at the "
            "forecast demand. Falling under the lead time means a stock-out before a reorder can land.",
            [target(f"inventory_stock_cover_seconds{{{loc}}}", "{{location}}")],
            "s",
            w=24,
            h=7,
        ),
        row("Orders and fulfilment"),
        timeseries(
            "Fulfilment ratio",
            "inventory_order_fulfillment_ratio per channel: fulfilled over all orders created in the "
            f"trailing window (default 24 h), cancelled excluded. The dashed line is the "
            f"{num(fulfilment * 100)}% target (InventoryFulfillmentBelowTarget after 15 minutes under it).",
            [target(f"inventory_order_fulfillment_ratio{{{chan}}}", "{{channel}}")],
            "percentunit",
            w=16,
            maximum=1,
            threshold_style="dashed",
            thresholds=steps("red", (fulfilment, "green")),
        ),
        stat(
            "Fulfilment by channel",
            f"Current fulfilment ratio per channel against the {num(fulfilment * 100)}% target.",
            [target(f"inventory_order_fulfillment_ratio{{{chan}}}", "{{channel}}")],
            "percentunit",
            w=8,
            h=8,
            decimals=1,
            thresholds=steps("red", (fulfilment, "green")),
            name=True,
        ),
        timeseries(
            "Open and backordered orders",
            "inventory_orders with status open or backordered, per channel. Backorders are demand "
            "the stock could not serve.",
            [target(f'inventory_orders{{{chan}, status=~"open|backordered"}}', "{{channel}} {{status}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Stock movements by kind",
            "Movements per second by kind (rate of inventory_stock_movements_total): sales, receipts, "
            "returns, adjustments, transfers.",
            [target("sum by (kind) (rate(inventory_stock_movements_total[$__rate_interval]))", "{{kind}}")],
            "ops",
            w=8,
            bars=True,
            stack=True,
        ),
        timeseries(
            "Stock movements by source",
            "Movements per second by the system that recorded them (shopify, pos, wms, manual...).",
            [target("sum by (source) (rate(inventory_stock_movements_total[$__rate_interval]))", "{{source}}")],
            "ops",
            w=8,
            bars=True,
            stack=True,
        ),
        row("Service level"),
        stat(
            "OTIF by channel",
            "inventory_order_otif_ratio: of the orders due in the trailing service-level window (default "
            "24 h; an order is due once fulfilled or past its promise, cancelled and unpromised orders "
            f"excluded), the share delivered on time and in full, against the {num(otif * 100)}% target "
            "(InventoryOTIFBelowTarget after 15 minutes under it).",
            [target(f"inventory_order_otif_ratio{{{chan}}}", "{{channel}}")],
            "percentunit",
            w=6,
            h=8,
            decimals=1,
            thresholds=steps("red", (otif, "green")),
            name=True,
        ),
        timeseries(
            "On time and OTIF",
            "inventory_order_on_time_ratio (fulfilled by the promised time) and inventory_order_otif_ratio "
            "(on time and every line in full) per channel. On time high and OTIF low: short shipments; "
            f"both low: late orders. The dashed line is the {num(otif * 100)}% OTIF target.",
            [
                target(f"inventory_order_on_time_ratio{{{chan}}}", "{{channel}} on time"),
                target(f"inventory_order_otif_ratio{{{chan}}}", "{{channel}} OTIF"),
            ],
            "percentunit",
            w=12,
            maximum=1,
            threshold_style="dashed",
            thresholds=steps("red", (otif, "green")),
        ),
        stat(
            "Backorders",
            "inventory_backorders: orders waiting for stock (status backordered) per channel, now.",
            [target(f"sum by (channel) (inventory_backorders{{{chan}}})", "{{channel}}")],
            "short",
            w=6,
            h=8,
            name=True,
        ),
        timeseries(
            "Fill rate",
            "inventory_order_unit_fill_ratio (units shipped, capped per line, over units ordered) and "
            "inventory_order_line_fill_ratio (lines shipped in full over lines) of the orders due in the "
            f"window. Under the dashed {num(fill_collapse * 100)}% line, with {num(fill_min_orders)}+ orders "
            "due in a day, InventoryFillRateCollapsed pages.",
            [
                target(f"inventory_order_unit_fill_ratio{{{chan}}}", "{{channel}} units"),
                target(f"inventory_order_line_fill_ratio{{{chan}}}", "{{channel}} lines"),
            ],
            "percentunit",
            w=9,
            maximum=1,
            threshold_style="dashed",
            thresholds=steps("red", (fill_collapse, "green")),
        ),
        timeseries(
            "Oldest backorder age",
            "inventory_backorder_oldest_age_seconds: how long the oldest backordered order of each channel "
            f"has waited since it was placed. Over the dashed {num(backorder_age / 86400)}-day line "
            "InventoryBackordersAging fires after 15 minutes.",
            [target(f"inventory_backorder_oldest_age_seconds{{{chan}}}", "{{channel}}")],
            "s",
            w=5,
            threshold_style="dashed",
            thresholds=steps("green", (backorder_age, "red")),
        ),
        timeseries(
            "Orders due and perfect orders",
            "Orders decided per hour by channel (rate of inventory_orders_due_total, x 3600) and those "
            "on time and in full (inventory_orders_otif_total). The reports divide these counters over "
            "a period, so weeks and months weigh by orders.",
            [
                target(
                    f"sum by (channel) (rate(inventory_orders_due_total{{{chan}}}[$__rate_interval])) * 3600",
                    "{{channel}} due",
                ),
                target(
                    f"sum by (channel) (rate(inventory_orders_otif_total{{{chan}}}[$__rate_interval])) * 3600",
                    "{{channel}} OTIF",
                ),
            ],
            "short",
            w=5,
        ),
        stat(
            "Orders waiting on a stock-out",
            "inventory_orders_stockout_exposed: open and backordered orders with a line not shipped in "
            "full whose SKU is out of stock at the order's location, per channel: the demand a "
            "stock-out is holding up now.",
            [target(f"sum by (channel) (inventory_orders_stockout_exposed{{{chan}}})", "{{channel}}")],
            "short",
            w=5,
            h=8,
            thresholds=steps("green", (1, "orange")),
            name=True,
        ),
        row("Compliance and data quality"),
        stat(
            "Unlogged stock movements",
            "inventory_audit_unlogged_movements: movements with no audit_log row. Audit compliance "
            "needs every movement logged (InventoryAuditGap: new ones within an hour).",
            [target("inventory_audit_unlogged_movements", "unlogged")],
            "short",
            w=6,
            h=8,
            thresholds=steps("green", (t["AUDIT_UNLOGGED_MOVEMENTS"] + 1, "red")),
        ),
        stat(
            "Since last stock movement",
            "Seconds since the newest stock movement (time() - inventory_last_stock_movement_timestamp_seconds). "
            "Hours of silence during trading hours mean the systems stopped writing.",
            [target("time() - inventory_last_stock_movement_timestamp_seconds", "since last movement")],
            "s",
            w=6,
            h=8,
            graph=False,
        ),
        bargauge(
            "Data-quality issues by check",
            "inventory_data_quality_issues: rows the exporter skipped or found suspicious, by check "
            "(negative on hand, missing cost, unknown SKU, bad timestamps...). docs/metrics.md says "
            "what each check does to the other metrics; a growing count fires InventoryDataQualityIssues.",
            [target("inventory_data_quality_issues", "{{check}}")],
            "short",
            w=12,
            h=8,
            thresholds=steps("green", (1, "yellow")),
        ),
        row("Forecast and purchasing"),
        stat(
            "Forecast WAPE",
            "Weighted absolute percentage error of the demand forecast over the accuracy window: "
            "inventory_forecast_abs_error_units / inventory_forecast_actual_units. Lower is better.",
            [target("inventory_forecast_abs_error_units / inventory_forecast_actual_units", "WAPE")],
            "percentunit",
            w=6,
            decimals=1,
            thresholds=steps("green", (FORECAST_WAPE_WARNING, "yellow"), (FORECAST_WAPE_BAD, "red")),
        ),
        stat(
            "Forecast bias",
            "inventory_forecast_error_units / inventory_forecast_actual_units: above 0 the forecast "
            "ran high (overstock risk), below 0 low (stock-out risk).",
            [target("inventory_forecast_error_units / inventory_forecast_actual_units", "bias")],
            "percentunit",
            w=6,
            decimals=1,
        ),
        timeseries(
            "Forecast WAPE and bias",
            "The two accuracy measures over time; they change when the analytics collector refits (every few minutes).",
            [
                target("inventory_forecast_abs_error_units / inventory_forecast_actual_units", "WAPE"),
                target("inventory_forecast_error_units / inventory_forecast_actual_units", "bias"),
            ],
            "percentunit",
            w=12,
            h=5,
        ),
        timeseries(
            "Forecast daily demand",
            "inventory_forecast_daily_demand_units: forecast units per day summed over each location's "
            "SKUs (SES, or Croston-SBA for intermittent demand). Days of cover and reorder quantities "
            "are computed from it.",
            [target(f"inventory_forecast_daily_demand_units{{{loc}}}", "{{location}}")],
            "short",
            w=24,
            h=7,
        ),
        bargauge(
            "Stored safety stock off the computed one",
            "inventory_safety_stock_gap_skus: SKU-locations whose stock_levels.safety_stock is below "
            "or above the safety stock computed from demand variability and lead time by more than "
            "the tolerance. 'below' rows risk stock-outs; review them first.",
            [
                target(
                    f"sum by (location, direction) (inventory_safety_stock_gap_skus{{{loc}}})",
                    "{{location}} {{direction}}",
                )
            ],
            "short",
        ),
        bargauge(
            "Stored reorder points off the computed ones",
            "inventory_reorder_point_gap_skus: the same comparison for stock_levels.reorder_point "
            "against the computed reorder point (lead-time demand plus safety stock).",
            [
                target(
                    f"sum by (location, direction) (inventory_reorder_point_gap_skus{{{loc}}})",
                    "{{location}} {{direction}}",
                )
            ],
            "short",
        ),
        bargauge(
            "Reorder recommendations: SKUs",
            "inventory_reorder_recommended_skus: SKU-locations at or below their reorder point with a "
            "purchase recommendation. The list is on the exporter's /api/v1/recommendations.",
            [target(f"inventory_reorder_recommended_skus{{{loc}}}", "{{location}}")],
            "short",
        ),
        bargauge(
            "Reorder recommendations: units",
            "inventory_reorder_recommended_units: units recommended to order per location, covering "
            "lead time, review period and safety stock.",
            [target(f"inventory_reorder_recommended_units{{{loc}}}", "{{location}}")],
            "short",
        ),
    ]
    return dashboard(
        UID["business"],
        "Inventory / Business",
        "Stock, low stock and stock-outs, value, fulfilment against target, service level (OTIF, "
        "fill rate, backorders), audit gaps, data quality, safety stock, forecast accuracy, days of "
        "cover and reorder recommendations.",
        panels,
        [LOCATION, CHANNEL],
        [FIRING_ALERTS],
    )


def integrations(t: Thresholds) -> Json:
    sel = 'integration=~"$integration"'
    loc = 'location=~"$location"'
    accuracy = t["INTEGRATION_ACCURACY_RATIO"]
    stale = t["INTEGRATION_SYNC_STALE_SECONDS"]
    location = dict(
        LOCATION,
        definition="label_values(inventory_integration_stock_mismatch_skus, location)",
        query={
            "qryType": 1,
            "query": "label_values(inventory_integration_stock_mismatch_skus, location)",
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        description="Database locations mapped to a remote location of some integration.",
    )
    panels = [
        row("Status"),
        stat(
            "Integration up",
            "inventory_integration_up: the last health probe of the integration's API succeeded "
            "(InventoryIntegrationDown after 2 minutes at 0).",
            [target(f"inventory_integration_up{{{sel}}}", "{{integration}}")],
            "none",
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            name=True,
        ),
        stat(
            "Accuracy",
            "inventory_integration_accuracy_ratio (inventory record accuracy): SKU-locations whose "
            f"remote available quantity matches the database over those compared. Under "
            f"{num(accuracy * 100)}% for 10 minutes fires InventoryIntegrationOutOfSync.",
            [target(f"inventory_integration_accuracy_ratio{{{sel}}}", "{{integration}}")],
            "percentunit",
            decimals=2,
            thresholds=steps("red", (accuracy, "green")),
            name=True,
        ),
        stat(
            "Last successful sync",
            "Seconds since the newest successful row of integration_syncs "
            f"(integration:inventory_integration_last_sync_success_age_seconds:max). Red at {num(stale)} s "
            "(InventoryIntegrationSyncStale); the enhancer asks for a resync.",
            [
                target(
                    f"integration:inventory_integration_last_sync_success_age_seconds:max{{{sel}}}", "{{integration}}"
                )
            ],
            "s",
            thresholds=steps("green", (stale, "red")),
            graph=False,
            name=True,
        ),
        stat(
            "Availability, last 24 h",
            "Share of successful health probes per integration over the last day "
            "(integration:inventory_integration_up:avg_over_time1d).",
            [target(f"integration:inventory_integration_up:avg_over_time1d{{{sel}}}", "{{integration}}")],
            "percentunit",
            decimals=2,
            thresholds=steps("red", (t["SLO_AVAILABILITY_TARGET"], "green")),
            graph=False,
            name=True,
        ),
        row("Agreement with the database"),
        timeseries(
            "Inventory record accuracy",
            f"inventory_integration_accuracy_ratio over time. The dashed line is the {num(accuracy * 100)}% target.",
            [target(f"inventory_integration_accuracy_ratio{{{sel}}}", "{{integration}}")],
            "percentunit",
            maximum=1,
            threshold_style="dashed",
            thresholds=steps("red", (accuracy, "green")),
        ),
        timeseries(
            "Stock mismatches by location",
            "inventory_integration_stock_mismatch_skus: SKU-locations whose remote available quantity "
            "differs from the database. Some mismatch while a sync is in flight is normal; 30 minutes "
            "of it fires InventoryIntegrationStockMismatch. Which SKUs: the exporter's /api/v1/mismatches.",
            [target(f"inventory_integration_stock_mismatch_skus{{{sel}, {loc}}}", "{{integration}} @ {{location}}")],
            "short",
        ),
        timeseries(
            "Since last successful sync",
            "Seconds since each integration's last successful sync "
            f"(integration:inventory_integration_last_sync_success_age_seconds:max); dashed at {num(stale)} s.",
            [
                target(
                    f"integration:inventory_integration_last_sync_success_age_seconds:max{{{sel}}}", "{{integration}}"
                )
            ],
            "s",
            threshold_style="dashed",
            thresholds=steps("green", (stale, "red")),
        ),
        timeseries(
            "Since last successful fetch",
            "Seconds since the exporter last read and compared the remote stock "
            "(time() - inventory_integration_last_fetch_success_timestamp_seconds). Accuracy and "
            "mismatches are only as fresh as this.",
            [
                target(
                    f"time() - inventory_integration_last_fetch_success_timestamp_seconds{{{sel}}}", "{{integration}}"
                )
            ],
            "s",
        ),
        row("Remote API"),
        timeseries(
            "Requests by status",
            "Requests per second from the exporter to each remote API, by HTTP status or failure "
            "(rate of inventory_integration_requests_total).",
            [
                target(
                    f"sum by (integration, code) (rate(inventory_integration_requests_total{{{sel}}}"
                    f"[$__rate_interval]))",
                    "{{integration}} {{code}}",
                )
            ],
            "reqps",
            w=8,
        ),
        timeseries(
            "Request latency p95",
            "95th percentile duration of requests to each remote API (histogram "
            "inventory_integration_request_duration_seconds).",
            [
                target(
                    "histogram_quantile(0.95, sum by (integration, le) "
                    f"(rate(inventory_integration_request_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
                    "{{integration}}",
                )
            ],
            "s",
            w=8,
        ),
        timeseries(
            "Rate-limit headroom",
            "inventory_integration_rate_limit_headroom_ratio: share of the remote API's rate limit "
            "still available (Shopify's cost bucket, Retry-After limits). Near 0 the exporter waits "
            "before its next request.",
            [target(f"inventory_integration_rate_limit_headroom_ratio{{{sel}}}", "{{integration}}")],
            "percentunit",
            w=8,
            minimum=0,
            maximum=1,
        ),
        row("Sync runs"),
        timeseries(
            "Sync runs by status",
            "New rows of integration_syncs per interval by status (increase of "
            "inventory_integration_sync_runs_total): success, failed, running.",
            [
                target(
                    f"sum by (integration, status) (increase(inventory_integration_sync_runs_total{{{sel}}}"
                    f"[$__rate_interval]))",
                    "{{integration}} {{status}}",
                )
            ],
            "short",
            bars=True,
            stack=True,
        ),
        timeseries(
            "Sync conflicts",
            "Conflicts reported by sync runs per interval (increase of "
            "inventory_integration_sync_conflicts_total): records both sides changed.",
            [
                target(
                    f"sum by (integration) (increase(inventory_integration_sync_conflicts_total{{{sel}}}"
                    f"[$__rate_interval]))",
                    "{{integration}}",
                )
            ],
            "short",
            bars=True,
        ),
    ]
    return dashboard(
        UID["integrations"],
        "Inventory / Integrations",
        "Shopify, POS and WMS integrations: up, accuracy against the database, mismatches, "
        "staleness, remote API requests, latency and rate-limit headroom, sync runs and conflicts.",
        panels,
        [INTEGRATION, location],
        [FIRING_ALERTS],
    )


def enhancer(t: Thresholds) -> Json:
    rule = query_variable(
        "rule", "Rule", "inventory_enhancer_actions_total", "rule", "Rules of the enhancer's configuration."
    )
    sel = 'rule=~"$rule"'
    panels = [
        row("Status"),
        stat(
            "Polling Prometheus",
            "inventory_enhancer_prometheus_up: the enhancer's last poll of Prometheus succeeded. At 0 "
            "it decides nothing and backs off.",
            [target("inventory_enhancer_prometheus_up", "Prometheus")],
            "none",
            mappings=UP_DOWN,
            thresholds=steps("red", (1, "green")),
            graph=False,
            w=5,
        ),
        stat(
            "Since last poll",
            "Seconds since the enhancer's last poll cycle "
            "(time() - inventory_enhancer_last_poll_timestamp_seconds); it should stay under the poll interval.",
            [target("time() - inventory_enhancer_last_poll_timestamp_seconds", "since last poll")],
            "s",
            graph=False,
            w=5,
        ),
        stat(
            "Poll duration",
            "inventory_enhancer_poll_duration_seconds: wall time of the last poll cycle, actions included.",
            [target("inventory_enhancer_poll_duration_seconds", "poll")],
            "s",
            w=5,
        ),
        stat(
            "Rule queries failing",
            "Rules whose last query failed (inventory_enhancer_rule_query_success == 0): a broken PromQL "
            "or a missing metric; the rule cannot act.",
            [target(f"count(inventory_enhancer_rule_query_success{{{sel}}} == 0) or vector(0)", "failing")],
            "short",
            thresholds=steps("green", (1, "red")),
            graph=False,
            w=5,
        ),
        stat(
            "Maintenance window",
            "inventory_enhancer_maintenance_active: 1 while a maintenance window of enhancer.yml is in "
            "force; rules are evaluated and logged, nothing is sent.",
            [target("max(inventory_enhancer_maintenance_active)", "maintenance")],
            "none",
            mappings=IN_MAINTENANCE,
            thresholds=steps("green", (1, "blue")),
            graph=False,
            w=4,
        ),
        row("Actions"),
        timeseries(
            "Decisions by rule and outcome",
            "New decisions per interval (increase of inventory_enhancer_actions_total): success and "
            "failed are actions sent; dry_run recorded only; suppressed_* were held back by a "
            "maintenance window, a cooldown, a higher-priority rule or the hourly budget.",
            [
                target(
                    f"sum by (rule, outcome) (increase(inventory_enhancer_actions_total{{{sel}}}[$__rate_interval]))",
                    "{{rule}} {{outcome}}",
                )
            ],
            "short",
            w=16,
            bars=True,
            stack=True,
        ),
        bargauge(
            "Decisions by outcome",
            "inventory_enhancer_actions_total per outcome: decisions counted since the enhancer's state began.",
            [target(f"sum by (outcome) (inventory_enhancer_actions_total{{{sel}}})", "{{outcome}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Rule targets by state",
            "inventory_enhancer_rule_targets: series each rule watches, by state: ok, pending (trigger "
            "holding, waiting out its for), firing, waiting_baseline (history too short), no_data.",
            [target(f"sum by (rule, state) (inventory_enhancer_rule_targets{{{sel}}})", "{{rule}} {{state}}")],
            "short",
            w=24,
            h=7,
        ),
        row("Baselines, cooldowns and verification"),
        timeseries(
            "Baselines",
            "inventory_enhancer_baseline: the median of each rule's signal over its baseline window "
            "(highest among the rule's targets), in the unit of the rule's query. Absent until the "
            "rule has enough history to trust it.",
            [target(f"inventory_enhancer_baseline{{{sel}}}", "{{rule}}")],
            "short",
            w=8,
        ),
        timeseries(
            "Cooldown remaining",
            "inventory_enhancer_cooldown_remaining_seconds: the longest cooldown left among each rule's "
            "targets; while it runs the rule does not act on them again.",
            [target(f"inventory_enhancer_cooldown_remaining_seconds{{{sel}}}", "{{rule}}")],
            "s",
            w=8,
        ),
        bargauge(
            "Improvement after the last verified action",
            "inventory_enhancer_action_improvement_ratio: relative change of the signal from the "
            "trigger reading to the reading after each rule's last verified action, signed so that "
            "above 0 is better. Not the action's effect: a rule acts on outliers, which fall back by "
            "themselves; see Effect of actions. It persists until the next verification. Repeated "
            "changes at or below 0 raise the rule's cooldown (backoff).",
            [target(f"inventory_enhancer_action_improvement_ratio{{{sel}}}", "{{rule}}")],
            "percentunit",
            w=8,
            minimum=-1,
            maximum=1,
            thresholds=steps("red", (0, "yellow"), (0.0001, "green")),
        ),
        stat(
            "Rules in backoff",
            "inventory_enhancer_rule_backoff: 1 while the rule's cooldown is raised because its actions did not help.",
            [target(f"inventory_enhancer_rule_backoff{{{sel}}}", "{{rule}}")],
            "none",
            w=24,
            h=4,
            mappings=[
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "normal", "color": "green", "index": 0},
                        "1": {"text": "backing off", "color": "orange", "index": 1},
                    },
                }
            ],
            thresholds=steps("green", (1, "orange")),
            graph=False,
            name=True,
        ),
        row("Effect against the counterfactual"),
        _effect_table(sel),
        timeseries(
            "Actions verified per interval",
            "New verifications per interval (increase of inventory_enhancer_verified_actions_total) "
            "that measured an effect: acted are actions sent, held_out the triggers held out as the "
            "control group (verify.holdout). Zero in an interval without any: nothing of an older "
            "action is counted again.",
            [
                target(
                    f"sum by (rule, group) (increase(inventory_enhancer_verified_actions_total{{{sel}}}"
                    "[$__rate_interval]))",
                    "{{rule}} {{group}}",
                )
            ],
            "short",
            w=10,
            bars=True,
        ),
    ]
    return dashboard(
        UID["enhancer"],
        "Inventory / Enhancer",
        "What the automated enhancer decided and did, per rule and outcome; baselines, cooldowns, "
        "measured improvement, and whether it can reach Prometheus.",
        panels,
        [rule],
        [FIRING_ALERTS, ENHANCER_ACTIONS],
    )


NOT_ENOUGH_DATA = [{"type": "special", "options": {"match": "nan", "result": {"text": "not enough data", "index": 0}}}]


def _effect_table(sel: str) -> Json:
    """Per rule: the effect estimate, its 95% interval and the counts behind it. A rule
    without enough verified actions has no effect series; it shows as NaN, "not enough data"."""

    def or_not_enough(metric: str) -> str:
        return f"{metric}{{{sel}}} or on (rule) (inventory_enhancer_rule_effect_actions{{{sel}}} * NaN)"

    panel = table(
        "Effect of actions",
        "inventory_enhancer_rule_effect: the rule's estimated effect on its signal, in the unit of "
        "its query, above 0 better: the reading after each action against the counterfactual (the "
        "baseline's median, which an outlier falls back to by itself), or against held-out triggers "
        "with verify.holdout; lower and upper bound a 95% confidence interval (an interval across "
        "0: no effect shown). Over the actions verified in the state's retention (30 days). "
        "'not enough data' until min_actions (5) actions, and as many held-out triggers, are verified.",
        [
            target(or_not_enough("inventory_enhancer_rule_effect"), instant=True, table=True),
            target(or_not_enough("inventory_enhancer_rule_effect_lower"), instant=True, table=True),
            target(or_not_enough("inventory_enhancer_rule_effect_upper"), instant=True, table=True),
            target(f"inventory_enhancer_rule_effect_actions{{{sel}}}", instant=True, table=True),
            target(f"inventory_enhancer_rule_effect_controls{{{sel}}}", instant=True, table=True),
        ],
        "short",
        w=14,
        h=8,
        hidden=("Time", "__name__", "instance", "job"),
        renames={
            "rule": "Rule",
            "Value #A": "Effect",
            "Value #B": "95% lower",
            "Value #C": "95% upper",
            "Value #D": "Actions",
            "Value #E": "Held out",
        },
        mappings=NOT_ENOUGH_DATA,
    )
    panel["fieldConfig"]["defaults"]["noValue"] = "not enough data"
    panel["transformations"].insert(0, {"id": "merge", "options": {}})
    return panel


BUILDERS = {
    "overview": overview,
    "host-and-api": host_and_api,
    "business": business,
    "integrations": integrations,
    "enhancer": enhancer,
}


def build_all(thresholds: dict[str, float] | None = None) -> dict[str, Json]:
    """File name (without .json) -> dashboard."""
    t = Thresholds(load_thresholds() if thresholds is None else thresholds)
    return {name: build(t) for name, build in BUILDERS.items()}


def render(dashboard_json: Json) -> str:
    return json.dumps(dashboard_json, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR, help="directory of the dashboard JSON files")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file differs from what the generator produces"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, dashboard_json in build_all().items():
        path = args.output / f"{name}.json"
        text = render(dashboard_json)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
            continue
        args.output.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print("out of date (run python -m grafana.generate): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
