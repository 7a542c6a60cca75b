"""Prometheus config, recording rules and alert rules: checked and unit-tested with the real
promtool, plus the contracts promtool cannot see (annotations, runbook anchors, a firing and
a quiet unit test for every alert, thresholds named once and documented)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.prometheus


PROMETHEUS_DIR = ROOT / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
UNIT_TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"
ALERTING_DOC = ROOT / "docs" / "alerting.md"
RUNBOOK_URL_PREFIX = "https://github.com/inventory-monitor/inventory-monitor/blob/main/docs/runbooks.md#"
SEVERITIES = {"critical", "warning", "info"}

# The seed's tiers (seeds/000: critical, warning, information alerts) as issue 4 names them.
EXPECTED_SEVERITY = {
    "InventoryExporterDown": "critical",
    "InventoryTargetDown": "critical",
    "InventoryAPIHealthCheckFailing": "critical",
    "InventoryDatabaseDown": "critical",
    "InventoryHostMemoryOverLimit": "critical",
    "InventoryProcessMemoryOverLimit": "critical",
    "InventoryAPISlowResponses": "warning",
    "InventoryAPIProbeSlow": "warning",
    "InventoryAPIHighErrorRatio": "warning",
    "InventoryLowStock": "warning",
    "InventoryOutOfStock": "warning",
    "InventoryBelowSafetyStock": "warning",
    "InventoryDemandSurge": "warning",
    "InventoryFulfillmentBelowTarget": "warning",
    "InventoryOTIFBelowTarget": "warning",
    "InventoryBackordersAging": "warning",
    "InventoryFillRateCollapsed": "critical",
    "InventoryPerformanceDegraded": "warning",
    "InventoryIntegrationDown": "warning",
    "InventoryIntegrationFetchFailing": "warning",
    "InventoryIntegrationSyncStale": "warning",
    "InventoryIntegrationOutOfSync": "warning",
    "InventoryIntegrationStockMismatch": "warning",
    "InventoryAuditGap": "warning",
    "InventoryDataQualityIssues": "warning",
    "InventoryExporterCollectorFailing": "warning",
    "InventoryDatabaseQueryFailing": "warning",
    "InventoryIntegrationBackInSync": "info",
    "InventoryFulfillmentTargetMet": "info",
    "InventoryPerformanceExcellent": "info",
}

THRESHOLD_LINE = re.compile(r"^# threshold ([A-Z][A-Z0-9_]*) = (\S+) -> (.+)$")
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$")


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: install it (Debian: apt-get install prometheus) to run these tests")
    return path


def run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def load_rules() -> list[tuple[Path, dict]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend((path, rule) for rule in group["rules"])
    return rules


def alert_rules() -> list[tuple[Path, dict]]:
    return [(path, rule) for path, rule in load_rules() if "alert" in rule]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^#{1,6} (.+)$", line)
        if match:
            anchor = base = github_anchor(match.group(1))
            n = 0
            while anchor in anchors:  # GitHub numbers repeated headings
                n += 1
                anchor = f"{base}-{n}"
            anchors.add(anchor)
    return anchors


# --- promtool -----------------------------------------------------------------------------


def test_rule_and_unit_test_files_exist():
    assert RULE_FILES, "no prometheus/rules/*.yml"
    assert UNIT_TEST_FILES, "no prometheus/tests/*.yml"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.docker.yml"])
def test_promtool_check_config(config):
    result = run([binary("promtool"), "check", "config", config], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule_files glob must load every rules file, not silently match nothing.
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, result.stdout


def test_promtool_check_rules():
    result = run([binary("promtool"), "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES), result.stdout


def test_promtool_unit_tests_pass():
    """Every alert firing and quiet, recording rules (the performance score by hand) in
    prometheus/tests/*.yml."""
    result = run(
        [binary("promtool"), "test", "rules", *(p.name for p in UNIT_TEST_FILES)], cwd=PROMETHEUS_DIR / "tests"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TEST_FILES), result.stdout


def test_promtool_unit_tests_can_fail(tmp_path):
    """The unit tests are not vacuous: the hand-computed score 77.5, altered, fails."""
    source = (PROMETHEUS_DIR / "tests" / "api.alerts.test.yml").read_text()
    assert "value: 77.5" in source
    mutated = tmp_path / "api.alerts.test.yml"
    mutated.write_text(source.replace("../rules/", f"{PROMETHEUS_DIR}/rules/").replace("value: 77.5", "value: 77.6"))
    result = run([binary("promtool"), "test", "rules", str(mutated)])
    assert result.returncode != 0
    assert "job:inventory_api_performance_score:weighted_avg5m" in result.stdout + result.stderr


# --- what every alert must carry -------------------------------------------------------------


def test_alerts_match_the_seed_tiers():
    severities = {}
    for _, rule in alert_rules():
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    for name, severity in EXPECTED_SEVERITY.items():
        assert name in severities, f"alert {name} is missing"
        assert severities[name] == {severity}, f"{name}: severity {severities[name]}, expected {severity}"
    # The burn-rate alert pages on fast burns and tickets slow ones.
    assert severities["InventoryAPIErrorBudgetBurn"] == {"critical", "warning"}
    assert set(severities) == set(EXPECTED_SEVERITY) | {"InventoryAPIErrorBudgetBurn"}


@pytest.mark.parametrize("path,rule", alert_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else v.name)
def test_alert_has_labels_and_annotations(path, rule):
    labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
    assert labels.get("severity") in SEVERITIES, f"{rule['alert']} in {path.name}: severity {labels.get('severity')!r}"
    assert labels.get("service"), f"{rule['alert']}: no service label (the inhibition rules match on it)"
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key), f"{rule['alert']} in {path.name}: no {key} annotation"
    assert "{{" in annotations["description"], f"{rule['alert']}: description shows no value or label"
    assert annotations["runbook_url"].startswith(RUNBOOK_URL_PREFIX), annotations["runbook_url"]


def test_every_runbook_url_points_at_a_runbook_section():
    anchors = runbook_anchors()
    missing = {
        rule["alert"]: rule["annotations"]["runbook_url"]
        for _, rule in alert_rules()
        if rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_URL_PREFIX) not in anchors
    }
    assert not missing, f"runbook anchors with no heading in docs/runbooks.md: {missing}"


def test_github_anchor():
    assert github_anchor("InventoryTargetDown") == "inventorytargetdown"
    assert github_anchor("Performance score (0-100)") == "performance-score-0-100"


def test_recording_rule_names_follow_level_metric_operations():
    records = [rule["record"] for _, rule in load_rules() if "record" in rule]
    assert records
    bad = [name for name in records if not RECORD_NAME.match(name)]
    assert not bad, f"not level:metric:operations: {bad}"
    assert len(records) == len(set(records)), "a recording rule name is defined twice"


def test_recording_rules_cover_the_issue():
    records = {rule["record"] for _, rule in load_rules() if "record" in rule}
    for name in (
        "job:inventory_order_fulfillment_ratio:min",
        "job:inventory_api_request_errors:ratio_rate5m",
        "job:inventory_api_request_duration_seconds:p50_5m",
        "job:inventory_api_request_duration_seconds:p95_5m",
        "job:inventory_api_request_duration_seconds:p99_5m",
        "job:up:avg_over_time1d",
        "job:inventory_integration_accuracy_ratio:min",
        "job:inventory_api_performance_score:weighted_avg5m",
    ):
        assert name in records, name
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"job:inventory_api_request_errors:ratio_rate{window}" in records, window


# --- every alert tested, firing and quiet --------------------------------------------------


def unit_test_cases() -> list[tuple[Path, set[Path], dict]]:
    cases = []
    for path in UNIT_TEST_FILES:
        doc = yaml.safe_load(path.read_text())
        loaded = {(path.parent / rule_file).resolve() for rule_file in doc["rule_files"]}
        for group in doc["tests"]:
            cases.extend((path, loaded, case) for case in group.get("alert_rule_test", []))
    return cases


def test_unit_tests_load_existing_rule_files():
    for path in UNIT_TEST_FILES:
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]:
            assert (path.parent / rule_file).is_file(), f"{path.name}: {rule_file} does not exist"


@pytest.mark.parametrize("path,rule", alert_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else v.name)
def test_alert_rule_has_a_firing_and_a_quiet_unit_test(path, rule):
    """For each alerting rule (the four burn-rate rules one by one, told apart by their
    static labels): some unit test expects it to fire with those labels, and some unit
    test expects its alertname to be quiet (exp_alerts: [])."""
    static_labels = {k: str(v) for k, v in rule["labels"].items() if "{{" not in str(v)}
    cases = [
        case
        for test_file, loaded, case in unit_test_cases()
        if path.resolve() in loaded and case["alertname"] == rule["alert"]
    ]
    firing = [
        alert
        for case in cases
        for alert in case.get("exp_alerts") or []
        if static_labels.items() <= {k: str(v) for k, v in alert.get("exp_labels", {}).items()}.items()
    ]
    quiet = [case for case in cases if not case.get("exp_alerts")]
    assert firing, f"{rule['alert']} {static_labels}: no unit test expects it to fire"
    assert quiet, f"{rule['alert']}: no unit test expects it to stay quiet (exp_alerts: [])"


# --- thresholds named once ------------------------------------------------------------------


def thresholds() -> list[tuple[Path, str, str, list[str]]]:
    found = []
    for path in RULE_FILES:
        for line in path.read_text().splitlines():
            match = THRESHOLD_LINE.match(line)
            if match:
                name, value, targets = match.groups()
                found.append((path, name, value, [t.strip() for t in targets.split(",")]))
    return found


def test_thresholds_are_named_once_and_used():
    found = thresholds()
    assert len(found) >= 20
    names = [name for _, name, _, _ in found]
    assert len(names) == len(set(names)), "a threshold is named twice"
    for path, name, value, targets in found:
        in_file = {rule.get("alert") or rule.get("record"): rule for p, rule in load_rules() if p == path}
        token = re.compile(r"(?<![\w.])" + re.escape(value) + r"(?![\w.])")
        for target in targets:
            # "Alert{label=value}" picks one of the rules that share an alertname.
            rule_name, _, selector = target.partition("{")
            wanted = dict(pair.split("=", 1) for pair in selector.rstrip("}").split(",") if pair)
            exprs = [
                rule["expr"]
                for p, rule in load_rules()
                if p == path
                and rule_name in (rule.get("alert"), rule.get("record"))
                and wanted.items() <= {k: str(v) for k, v in rule.get("labels", {}).items()}.items()
            ]
            assert exprs, f"{name}: {target} is not a rule of {path.name} (has {sorted(in_file)})"
            for expr in exprs:
                assert token.search(expr), f"{name} = {value} does not appear in {target}: {expr}"


def test_every_alert_has_a_threshold_or_is_a_state():
    """An alert either compares against a named threshold or tests a 0/1 state (== 0)."""
    covered = {target.partition("{")[0] for _, _, _, targets in thresholds() for target in targets}
    for _, rule in alert_rules():
        assert rule["alert"] in covered or "== 0" in rule["expr"], f"{rule['alert']}: threshold not named in the header"


def test_thresholds_are_listed_in_docs_alerting():
    rows = {}
    for line in ALERTING_DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"`[A-Z][A-Z0-9_]*`", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    for _, name, value, _ in thresholds():
        assert name in rows, f"docs/alerting.md has no threshold row for {name}"
        assert rows[name] == value, f"docs/alerting.md: {name} is {rows[name]!r}, the rules say {value!r}"


def test_docs_alerting_lists_every_alert():
    text = ALERTING_DOC.read_text()
    for _, rule in alert_rules():
        assert f"`{rule['alert']}`" in text, f"docs/alerting.md does not list {rule['alert']}"


# --- the two Prometheus configs --------------------------------------------------------------

DEMO_TARGETS = {
    "inventory-exporter": "127.0.0.1:9877",
    "inventory-api": "127.0.0.1:8080",
    "inventory-enhancer": "127.0.0.1:9878",
    "alertmanager": "127.0.0.1:9093",
    "prometheus": "127.0.0.1:9090",
}
DOCKER_TARGETS = {
    "inventory-exporter": "exporter:9877",
    "inventory-api": "demo:8080",
    "inventory-enhancer": "enhancer:9878",
    "alertmanager": "alertmanager:9093",
    "prometheus": "prometheus:9090",
}


@pytest.mark.parametrize(
    "config,targets,alertmanager",
    [
        ("prometheus.yml", DEMO_TARGETS, "127.0.0.1:9093"),
        ("prometheus.docker.yml", DOCKER_TARGETS, "alertmanager:9093"),
    ],
)
def test_prometheus_config_targets(config, targets, alertmanager):
    doc = yaml.safe_load((PROMETHEUS_DIR / config).read_text())
    jobs = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]] for job in doc["scrape_configs"]
    }
    assert jobs == {job: [target] for job, target in targets.items()}
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [alertmanager]
    assert doc["global"]["scrape_interval"] == "15s"


def test_prometheus_configs_differ_only_in_addresses():
    def normalised(config, targets, alertmanager):
        text = (PROMETHEUS_DIR / config).read_text()
        for address in [*targets.values(), alertmanager]:
            text = text.replace(address, "ADDRESS")
        doc = yaml.safe_load(text)
        return doc

    assert normalised("prometheus.yml", DEMO_TARGETS, "127.0.0.1:9093") == normalised(
        "prometheus.docker.yml", DOCKER_TARGETS, "alertmanager:9093"
    )
