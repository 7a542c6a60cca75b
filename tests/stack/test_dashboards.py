"""Grafana dashboards: generated, well-formed, on documented metrics, and live.

1. The committed JSON is exactly what grafana/generate.py produces, so every change goes
   through the generator.
2. Schema: recent schemaVersion, unique uids and panel ids, gridPos everywhere, the
   datasource variable on every panel, target, variable and annotation, a unit and a
   description on every panel, Grafana panel types and units, $__rate_interval in
   every range, template variables only under =~, links between the dashboards, and
   docs/dashboards.md describing every panel.
3. Every metric name in every expression is documented (a `| metric |` table of
   docs/*.md) or is a recording rule of prometheus/rules/*.yml: a renamed metric fails here.
4. Every query, with the Grafana variables substituted, runs without error on a real
   Prometheus (/usr/bin/prometheus, with the shipped rules) that has scraped the live
   demo (demo/run.py --fast on free ports, plus the enhancer with its baselines
   shortened to seconds), and returns at least one series; so does every label_values
   variable.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from grafana import generate
from tests.conftest import ROOT

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULES_DIR = ROOT / "prometheus" / "rules"
DOCS_DIR = ROOT / "docs"
PROVISIONING = ROOT / "grafana" / "provisioning"
PROMETHEUS_BIN = "/usr/bin/prometheus"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

DASHBOARDS = generate.build_all()


# ---------------------------------------------------------------------------------------
# What the dashboards contain
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    dashboard: str
    where: str  # "<panel id> <panel title>/<refId>" or "annotation <name>"
    expr: str
    instant: bool

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.where}"


def data_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def queries(dashboards: dict[str, dict] = DASHBOARDS) -> list[Query]:
    """Every PromQL expression: panel targets, then annotations."""
    found = []
    for name, dashboard in dashboards.items():
        for panel in data_panels(dashboard):
            for t in panel["targets"]:
                where = f"{panel['id']} {panel['title']}/{t['refId']}"
                found.append(Query(name, where, t["expr"], t.get("instant", False)))
        for note in dashboard["annotations"]["list"]:
            if "expr" in note:
                found.append(Query(name, f"annotation {note['name']}", note["expr"], False))
    return found


PANEL_QUERIES = [q for q in queries() if not q.where.startswith("annotation ")]
ALL_QUERIES = queries()

_LABEL_VALUES = re.compile(r"^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$")


def variables(dashboard: dict) -> list[dict]:
    return dashboard["templating"]["list"]


def variable_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, variable, metric, label) of every label_values variable."""
    found = []
    for name, dashboard in DASHBOARDS.items():
        for var in variables(dashboard):
            if var["type"] == "query":
                match = _LABEL_VALUES.match(var["query"]["query"])
                assert match, f"{name}: variable {var['name']}: not a label_values(metric, label) query"
                found.append((name, var["name"], match.group(1), match.group(2)))
    return found


# ---------------------------------------------------------------------------------------
# 1. The committed files are the generator's output
# ---------------------------------------------------------------------------------------


def test_committed_dashboards_are_generated():
    committed = {p.stem for p in DASHBOARD_DIR.glob("*.json")}
    assert committed == set(DASHBOARDS), "grafana/dashboards/ holds files the generator does not write (or lacks some)"
    for name, dashboard in DASHBOARDS.items():
        text = (DASHBOARD_DIR / f"{name}.json").read_text()
        assert text == generate.render(dashboard), (
            f"grafana/dashboards/{name}.json differs from the generator: edit grafana/generate.py "
            "and run `python -m grafana.generate`"
        )


def test_generator_check_mode_detects_a_hand_edit(tmp_path):
    assert generate.main(["--output", str(tmp_path)]) == 0
    assert generate.main(["--output", str(tmp_path), "--check"]) == 0
    path = tmp_path / "business.json"
    path.write_text(path.read_text().replace("inventory_low_stock_skus", "inventory_low_stock"))
    assert generate.main(["--output", str(tmp_path), "--check"]) == 1


def test_thresholds_come_from_the_rule_files():
    """The red lines are the alert thresholds: change a rule's threshold and the dashboard follows."""
    values = generate.load_thresholds()
    assert "FULFILLMENT_TARGET_RATIO" in values and "DATA_QUALITY_GROWTH_WINDOW" not in values  # 1h: no number
    moved = dict(values, FULFILLMENT_TARGET_RATIO=0.5)
    business = generate.build_all(moved)["business"]
    panel = next(p for p in business["panels"] if p["title"] == "Fulfilment ratio")
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.5]
    with pytest.raises(SystemExit, match="FULFILLMENT_TARGET_RATIO"):
        generate.build_all({k: v for k, v in values.items() if k != "FULFILLMENT_TARGET_RATIO"})


# ---------------------------------------------------------------------------------------
# 2. Schema
# ---------------------------------------------------------------------------------------


@pytest.fixture(params=sorted(DASHBOARDS), ids=str)
def dashboard(request) -> dict:
    # The committed file, which is what Grafana loads (test 1 proves it equals the generator).
    return json.loads((DASHBOARD_DIR / f"{request.param}.json").read_text())


def test_dashboard_identity(dashboard):
    assert dashboard["schemaVersion"] >= 39
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"]), dashboard["uid"]
    assert dashboard["title"] and dashboard["description"]
    assert generate.TAG in dashboard["tags"]
    assert "id" not in dashboard or dashboard["id"] is None, "a provisioned dashboard must not carry a database id"


def test_uids_and_titles_are_unique():
    uids = [d["uid"] for d in DASHBOARDS.values()]
    titles = [d["title"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)
    assert set(DASHBOARDS) == {"overview", "host-and-api", "business", "integrations", "enhancer"}


def test_datasource_variable(dashboard):
    ds = [v for v in variables(dashboard) if v["name"] == "datasource"]
    assert len(ds) == 1 and ds[0]["type"] == "datasource" and ds[0]["query"] == "prometheus"
    for var in variables(dashboard):
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE, var["name"]
            assert var["includeAll"] and var["allValue"] == ".*" and var["multi"], var["name"]


def test_panel_ids_are_unique_and_every_panel_is_placed(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    titles = [p["title"] for p in dashboard["panels"]]
    assert len(set(titles)) == len(titles), "two panels of one dashboard share a title"
    cells: dict[tuple[int, int], int] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"} and all(isinstance(v, int) for v in grid.values()), panel["title"]
        assert grid["w"] > 0 and grid["h"] > 0 and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]


def test_every_panel_uses_the_datasource_variable_and_has_unit_and_description(dashboard):
    for panel in data_panels(dashboard):
        title = panel["title"]
        assert panel["datasource"] == DATASOURCE, title
        assert panel["targets"], title
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), title
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE, title
            assert t["expr"].strip(), title
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert isinstance(unit, str) and unit, f"{title}: no unit"
        assert len(panel.get("description", "")) >= 40, f"{title}: say what the metric means"
    for note in dashboard["annotations"]["list"]:
        if "expr" in note:
            assert note["datasource"] == DATASOURCE, note["name"]


# Panel types and unit ids of Grafana 10/11 (packages/grafana-data/src/valueFormats/categories.ts)
# that the generator may use; a typo in either renders silently wrong, so it fails here.
PANEL_TYPES = {"row", "stat", "timeseries", "gauge", "bargauge", "table"}
GRAFANA_UNITS = {
    "none",
    "short",
    "percent",
    "percentunit",
    "s",
    "ms",
    "m",
    "h",
    "d",
    "bytes",
    "Bps",
    "reqps",
    "ops",
    "opm",
    "locale",
}


def test_panel_types_and_units_are_grafana_ones(dashboard):
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        if panel["type"] != "row":
            unit = panel["fieldConfig"]["defaults"]["unit"]
            assert unit in GRAFANA_UNITS or unit.startswith("suffix:"), f"{panel['title']}: unit {unit!r}"


def test_docs_describe_every_panel():
    text = (DOCS_DIR / "dashboards.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    for dashboard in DASHBOARDS.values():
        title = dashboard["title"].split(" / ", 1)[1]
        [section] = [s for s in sections if s.startswith(title + "\n")]
        for panel in dashboard["panels"]:
            assert f"**{panel['title']}**" in " ".join(section.split()) or panel["type"] == "row", (
                f"docs/dashboards.md, section {title}: panel {panel['title']!r} is not described"
            )
        assert dashboard["uid"] in text


_RANGE = re.compile(r"\[([^\]]*)\]")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def test_ranges_use_rate_interval():
    for q in ALL_QUERIES:
        for window in _RANGE.findall(q.expr):
            assert window == "$__rate_interval", f"{q.id}: range [{window}] (use [$__rate_interval])"
    for q in ALL_QUERIES:
        if re.search(r"\b(rate|irate|increase)\s*\(", q.expr):
            assert "[$__rate_interval]" in q.expr, q.id


def test_template_variables_are_defined_used_and_regex_matched(dashboard):
    defined = {v["name"] for v in variables(dashboard)}
    used = set()
    exprs = [t["expr"] for p in data_panels(dashboard) for t in p["targets"]]
    exprs += [n["expr"] for n in dashboard["annotations"]["list"] if "expr" in n]
    for expr in exprs:
        for name in _VARIABLE.findall(expr):
            if name.startswith("__"):
                continue
            assert name in defined, f"${name} is not a variable of {dashboard['uid']}"
            # Multi-value and All expand to a regex: only =~ matches them.
            assert re.search(rf'=~\s*"\${name}"', expr), f'${name} must be used as label=~"${name}": {expr}'
            used.add(name)
    unused = defined - used - {"datasource"}
    assert not unused, f"variables no panel uses: {unused}"


def test_dashboards_link_to_each_other():
    by_uid = {d["uid"] for d in DASHBOARDS.values()}
    for name, dashboard in DASHBOARDS.items():
        tag_links = [link for link in dashboard["links"] if link["type"] == "dashboards"]
        assert tag_links and all(generate.TAG in link["tags"] for link in tag_links), name
        for panel in data_panels(dashboard):
            for link in panel["fieldConfig"]["defaults"].get("links", []):
                uid = re.match(r"^/d/([^/?]+)", link["url"]).group(1)
                assert uid in by_uid, f"{name}/{panel['title']}: link to unknown dashboard {uid}"
    overview_targets = {
        re.match(r"^/d/([^/?]+)", link["url"]).group(1)
        for panel in data_panels(DASHBOARDS["overview"])
        for link in panel["fieldConfig"]["defaults"].get("links", [])
    }
    assert overview_targets == by_uid - {DASHBOARDS["overview"]["uid"]}, "the overview drills down to every dashboard"


def test_dashboards_cover_the_issue():
    titles = {name: {p["title"] for p in data_panels(d)} for name, d in DASHBOARDS.items()}
    exprs = {name: " ".join(t["expr"] for p in data_panels(d) for t in p["targets"]) for name, d in DASHBOARDS.items()}
    assert "Performance score" in titles["overview"] and "Active alerts" in titles["overview"]
    assert "ALERTS" in exprs["overview"]
    for metric in (
        "inventory_low_stock_skus",
        "inventory_out_of_stock_skus",
        "inventory_stock_value",
        "inventory_order_fulfillment_ratio",
        "inventory_audit_unlogged_movements",
        "inventory_data_quality_issues",
        "inventory_below_safety_stock_skus",
        "inventory_forecast_abs_error_units",
        "inventory_forecast_error_units",
        "inventory_stock_cover_seconds",
        "inventory_reorder_recommended_skus",
    ):
        assert metric in exprs["business"], metric
    for metric in (
        "inventory_integration_up",
        "inventory_integration_accuracy_ratio",
        "inventory_integration_stock_mismatch_skus",
        "last_sync_success",
        "inventory_integration_requests_total",
        "inventory_integration_request_duration_seconds",
        "inventory_integration_rate_limit_headroom_ratio",
        "inventory_integration_sync_runs_total",
        "inventory_integration_sync_conflicts_total",
    ):
        assert metric in exprs["integrations"], metric
    for metric in (
        "inventory_enhancer_actions_total",
        "inventory_enhancer_baseline",
        "inventory_enhancer_cooldown_remaining_seconds",
        "inventory_enhancer_action_improvement_ratio",
        "inventory_enhancer_prometheus_up",
    ):
        assert metric in exprs["enhancer"], metric


def test_provisioning_files():
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [ds] = datasources["datasources"]
    assert (ds["uid"], ds["type"], ds["url"]) == ("prometheus", "prometheus", "http://prometheus:9090")
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "inventory.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------------------------------
# 3. Every metric name is documented or recorded
# ---------------------------------------------------------------------------------------

# Series Prometheus makes itself: up per target, ALERTS per pending or firing alert.
PROMETHEUS_SERIES = {"up", "ALERTS"}
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels left out)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = _RANGE.sub(" ", text)  # [5m], [$__rate_interval]
    text = _GROUPING.sub(" ", text)  # by (job), on (job), group_left (x)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before in ".$":  # 1e3, 0.5, 5m, $var
            continue
        if text[match.end() :].lstrip().startswith("("):  # a function call
            continue
        if word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def test_metric_names_parser():
    assert metric_names(
        'sum by (job, le) (rate(foo_bucket{a="b", c=~"$x"}[$__rate_interval])) / on (job) group_left(z) '
        "job:bar:ratio5m offset 5m > 0.5 * 1e3 or vector(0)"
    ) == {"foo_bucket", "job:bar:ratio5m"}
    assert metric_names('histogram_quantile(0.95, sum by (le) (x_bucket)) and count(ALERTS{alertstate="firing"})') == {
        "x_bucket",
        "ALERTS",
    }
    assert metric_names("time() - a_seconds") == {"a_seconds"}


def _expand_braces(text: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", text)
    if not match:
        return [text]
    head, tail = text[: match.start()], text[match.end() :]
    return [x for option in match.group(1).split(",") for x in _expand_braces(head + option.strip() + tail)]


def documented_metrics(docs_dir: Path = DOCS_DIR) -> tuple[set[str], set[str]]:
    """(names, prefixes) from the first column of every `| metric | ...` table in docs/*.md.

    `name{label,label}` is a name with its labels, `a_{b,c}_d` expands, `process_*` is a
    prefix, and `_suffix` after a full name in the same cell is a sibling of that name.
    """
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in sorted(docs_dir.glob("*.md")):
        in_table = False
        for line in path.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
            if not cells:
                in_table = False
                continue
            if cells[0].lower() == "metric":
                in_table = True
                continue
            if not in_table:
                continue
            first = None
            for token in re.findall(r"`([^`]+)`", cells[0]):
                token = re.sub(r"(?<=[A-Za-z0-9])\{[A-Za-z_, ]*\}$", "", token.strip())
                for name in _expand_braces(token):
                    if name.endswith("*"):
                        prefixes.add(name.rstrip("*"))
                    elif name.startswith("_") and first:
                        # "`a_b_c_units`, `_d_units`": a sibling of the cell's first name. Where
                        # the stem ends is not written, so every cut of the first name counts.
                        parts = first.split("_")
                        names.update("_".join(parts[:cut]) + name for cut in range(1, len(parts)))
                    elif _IDENTIFIER.fullmatch(name):
                        names.add(name)
                        first = first or name
    return names, prefixes


def test_documented_metrics_parser(tmp_path):
    (tmp_path / "x.md").write_text(
        "| metric | type |\n| --- | --- |\n"
        "| `a_total{rule,outcome}` | counter |\n"
        "| `host_{memory,disk}_{used,total}_bytes` | gauge |\n"
        "| `process_*` | |\n"
        "| `fc_abs_error_units`, `_actual_units` | gauge |\n"
        "\n| key | default |\n| --- | --- |\n| `not_a_metric` | 1 |\n"
    )
    names, prefixes = documented_metrics(tmp_path)
    assert {
        "a_total",
        "host_memory_used_bytes",
        "host_disk_total_bytes",
        "fc_abs_error_units",
        "fc_actual_units",
    } <= names
    assert "not_a_metric" not in names and "a_total{rule,outcome}" not in names
    assert prefixes == {"process_"}


def recording_rules(rules_dir: Path = RULES_DIR) -> set[str]:
    names = set()
    for path in rules_dir.glob("*.yml"):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names.update(rule["record"] for rule in group.get("rules", []) if "record" in rule)
    return names


def unknown_metrics(exprs: list[str], known: set[str], prefixes: set[str]) -> set[str]:
    missing = set()
    for expr in exprs:
        for name in metric_names(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name in known or base in known or any(name.startswith(p) for p in prefixes):
                continue
            missing.add(name)
    return missing


@pytest.fixture(scope="module")
def known_metrics() -> tuple[set[str], set[str]]:
    names, prefixes = documented_metrics()
    assert "inventory_low_stock_skus" in names and "process_" in prefixes, "docs/metrics.md tables not found"
    return names | recording_rules() | PROMETHEUS_SERIES, prefixes


def test_every_metric_is_documented_or_recorded(known_metrics):
    known, prefixes = known_metrics
    exprs = [q.expr for q in ALL_QUERIES] + [metric for _, _, metric, _ in variable_queries()]
    missing = unknown_metrics(exprs, known, prefixes)
    assert not missing, (
        f"metrics used by the dashboards but neither in a `| metric |` table of docs/*.md nor a recording rule: "
        f"{sorted(missing)}"
    )


def test_a_renamed_metric_breaks_the_check(known_metrics):
    known, prefixes = known_metrics
    renamed = copy.deepcopy(DASHBOARDS)
    panel = next(p for p in renamed["business"]["panels"] if p["title"] == "Low-stock SKUs by location")
    panel["targets"][0]["expr"] = panel["targets"][0]["expr"].replace("inventory_low_stock_skus", "inventory_low_skus")
    before = unknown_metrics([q.expr for q in queries(DASHBOARDS)], known, prefixes)
    after = unknown_metrics([q.expr for q in queries(renamed)], known, prefixes)
    assert after - before == {"inventory_low_skus"}
    typo = "job:inventory_low_stock_skus:summ"
    assert unknown_metrics([typo], known, prefixes) == {typo}


# ---------------------------------------------------------------------------------------
# 4. Every query against a real Prometheus that scraped the live demo
# ---------------------------------------------------------------------------------------

LIVE_DEADLINE_SECONDS = 150  # from the demo's start: the 1m rule groups need one evaluation
DEMO_READY_SECONDS = 90


def substitute(expr: str) -> str:
    """What Grafana would send: built-in intervals fixed, every template variable at All."""
    expr = expr.replace("${__rate_interval}", "1m").replace("$__rate_interval", "1m")
    expr = expr.replace("${__interval}", "30s").replace("$__interval", "30s").replace("$__range", "1h")
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?", ".*", expr)


def test_substitute():
    expr = 'rate(x{a=~"$location", b=~"${integration}"}[$__rate_interval])'
    assert substitute(expr) == 'rate(x{a=~".*", b=~".*"}[1m])'


def _get(url: str, timeout: float = 5) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:  # 400/422 carry Prometheus's error JSON
        return json.load(exc)


def _enhancer_test_config(base: Path, out: Path, ports: dict[str, int], state: Path) -> Path:
    """The shipped enhancer rules, made fast enough for a test run.

    Baselines learn from seconds instead of hours, triggers act without waiting out a
    `for`, the poll runs every second, and the purchase-order rule verifies its action
    after 3 s, so that the baseline, action and improvement panels have something to
    show within the run.
    """
    from demo.run import rewrite_ports

    config = yaml.safe_load(rewrite_ports(base.read_text(), ports))
    config.update(poll_interval="1s", state=str(state), listen=f"127.0.0.1:{ports['enhancer']}")
    for rule in config["rules"]:
        if rule.get("baseline"):
            rule["baseline"].update(window="2m", step="1s", min_samples=5, refresh="2s")
        rule["trigger"]["for"] = "0s"
        if rule["name"] == "low-stock-purchase-orders":
            rule["verify"] = {"after": "3s", "better": "lower"}
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


class LiveDemo:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        from demo.run import BASE_PORTS, free_port_offset

        self.offset = free_port_offset()

        self.ports = {name: port + self.offset for name, port in BASE_PORTS.items()}
        self.prometheus = f"http://127.0.0.1:{self.ports['prometheus']}"
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.started_at = time.monotonic()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.processes.append(proc)
        return proc

    def start(self) -> None:
        # The whole demo but its enhancer, which the test runs with fast baselines (below).
        self.demo = self._spawn(
            "demo",
            [
                sys.executable,
                "-m",
                "demo.run",
                "--fast",
                "--port-offset",
                str(self.offset),
                "--state-dir",
                str(self.tmp / "demo"),
                "--skus",
                "600",
                "--duration",
                "600",
                "--no-random-faults",
                "--only",
                "seed,sink,fakes,api,exporter,alertmanager,prometheus,simulator",
            ],
        )
        self.wait(
            lambda: (
                self._ready(self.prometheus + "/-/ready")
                and self._ready(f"http://127.0.0.1:{self.ports['exporter']}/-/healthy")
            ),
            DEMO_READY_SECONDS,
            "the demo stack",
        )
        config = _enhancer_test_config(
            ROOT / "enhancer" / "enhancer.yml", self.tmp / "enhancer.yml", self.ports, self.tmp / "enhancer-state.db"
        )
        self._spawn("enhancer", [sys.executable, "-m", "enhancer", "--config", str(config)])

    def _ready(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.demo.poll() is not None:
                pytest.fail(f"demo/run.py exited with {self.demo.returncode} before {what} was up:\n{self.tail()}")
            if predicate():
                return
            time.sleep(0.5)
        pytest.fail(f"{what} not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in self.logs
            if log.exists()
        )

    def query(self, q: Query) -> dict:
        expr = substitute(q.expr)
        if q.instant:
            return _get(f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        end = time.time()
        params = {"query": expr, "start": end - 120, "end": end, "step": 5}
        return _get(f"{self.prometheus}/api/v1/query_range?" + urllib.parse.urlencode(params))

    def label_values(self, metric: str, label: str) -> list[str]:
        params = urllib.parse.urlencode({"match[]": metric})
        return _get(f"{self.prometheus}/api/v1/label/{label}/values?{params}").get("data", [])

    def stop(self) -> None:
        for proc in reversed(self.processes):  # the enhancer first, then demo/run.py stops its stack
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


# Controls asked alongside the panels: they show that the two live checks can fail.
CONTROL_ABSENT = Query("control", "absent metric", 'inventory_no_such_metric{location=~"$location"}', False)
CONTROL_INVALID = Query("control", "invalid PromQL", "sum by (job) (rate(inventory_stock_movements_total))", False)


@dataclass
class LiveResults:
    responses: dict[str, dict]
    variables: dict[tuple[str, str], list[str]]
    waited: float
    tail: str


def _has_data(response: dict) -> bool:
    return response.get("status") == "success" and bool(response["data"]["result"])


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> LiveResults:
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.fail(f"{PROMETHEUS_BIN} not found: install Debian's prometheus package (make test does)")
    demo = LiveDemo(tmp_path_factory.mktemp("grafana-live"))
    try:
        demo.start()
        # Ask every query until each has data (or the deadline): rate windows need two scrapes,
        # recording rules an evaluation, the 1m rule groups up to a minute.
        responses: dict[str, dict] = {}
        deadline = demo.started_at + LIVE_DEADLINE_SECONDS
        while True:
            pending = [q for q in ALL_QUERIES if not _has_data(responses.get(q.id, {}))]
            for q in pending:
                responses[q.id] = demo.query(q)
            waiting = [q for q in PANEL_QUERIES if not _has_data(responses[q.id])]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(3)
        for control in (CONTROL_ABSENT, CONTROL_INVALID):
            responses[control.id] = demo.query(control)
        values = {(d, v): demo.label_values(metric, label) for d, v, metric, label in variable_queries()}
        return LiveResults(responses, values, time.monotonic() - demo.started_at, demo.tail())
    finally:
        demo.stop()


@pytest.mark.prometheus
@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.id)
def test_query_runs_on_real_prometheus(live, query):
    response = live.responses[query.id]
    assert response.get("status") == "success", f"{substitute(query.expr)}: {response.get('error')}"


@pytest.mark.prometheus
@pytest.mark.parametrize("query", PANEL_QUERIES, ids=lambda q: q.id)
def test_panel_query_returns_data_from_the_live_demo(live, query):
    response = live.responses[query.id]
    assert _has_data(response), (
        f"no series after {live.waited:.0f}s of the live demo: {substitute(query.expr)}\n{live.tail}"
    )


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "dashboard_name, variable, metric, label", variable_queries(), ids=lambda v: v if isinstance(v, str) else None
)
def test_template_variable_has_values_in_the_live_demo(live, dashboard_name, variable, metric, label):
    assert live.variables[(dashboard_name, variable)], f"label_values({metric}, {label}) is empty"


@pytest.mark.prometheus
def test_live_checks_tell_missing_data_and_errors_apart(live):
    absent = live.responses[CONTROL_ABSENT.id]
    assert absent["status"] == "success" and not _has_data(absent)
    invalid = live.responses[CONTROL_INVALID.id]
    assert invalid["status"] == "error" and "range vector" in invalid["error"]
