"""The alert-quality benchmark's machinery (benchmarks/alert_quality.py --short): a real
Prometheus over backfilled history evaluates the shipped rules, the shipped routes decide the
notifications. Asserts that the instrument works, not today's quality goals (those are for
the rule changes of issue 22)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from benchmarks import alert_quality
from tests.conftest import ROOT

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    for binary in (alert_quality.PROMETHEUS, alert_quality.PROMTOOL, alert_quality.AMTOOL):
        if not shutil.which(binary):
            pytest.fail(f"{binary} missing: make test installs prometheus and prometheus-alertmanager")
    out = tmp_path_factory.mktemp("alert-quality") / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.alert_quality", "--short", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Healthy month:" in result.stdout
    return json.loads(out.read_text())


def test_every_fault_has_an_entry(report):
    names = [row["fault"] for row in report["faults"]]
    assert names == [fault.name for fault in alert_quality.fault_catalogue(short=True)]
    for row in report["faults"]:
        assert row["expected"] and row["bound_seconds"] > 0
        assert isinstance(row["caught"], bool)


def test_api_outage_is_caught_by_an_api_alert_within_for_plus_two_evaluations(report):
    row = next(r for r in report["faults"] if r["fault"] == "api_outage")
    rules = {rule["alert"]: rule for rule in alert_quality._alert_rules()}
    assert row["caught_by"] in {"InventoryTargetDown", "InventoryAPIHealthCheckFailing"}
    hold = alert_quality.parse_duration(rules[row["caught_by"]].get("for"))
    assert row["fired_delay_seconds"] <= hold + 2 * report["evaluation_step_seconds"]
    assert row["caught"]


def test_healthy_run_counts_are_finite_and_consistent(report):
    healthy = report["healthy"]
    assert len(healthy["per_day"]) == report["days"]
    assert sum(healthy["per_day"]) == healthy["notifications"]
    assert sum(healthy["by_severity"].values()) == healthy["notifications"]
    assert math.isfinite(healthy["per_day_median"])


def test_the_real_tools_were_used(report):
    assert report["samples"] > 100_000
    assert report["recording_rules_backfilled"] > 0
    assert report["amtool_label_sets_checked"] > 0
    assert report["amtool_disagreements"] == []


def test_rule_expressions_name_their_series():
    assert alert_quality.metric_names(
        'sum by (job) (rate(inventory_api_requests_total{code=~"5.."}[5m])) or 0 * job:x:rate5m'
    ) == {"inventory_api_requests_total", "job:x:rate5m"}
    assert alert_quality.metric_names("time() - foo_seconds > 900") == {"foo_seconds"}


def test_for_is_applied_like_the_rule_manager():
    class Fake:
        def query_range(self, expr, start, end, step):
            return [{"metric": {"job": "a"}, "values": [[t, "1"] for t in range(180, 600, 60)]}]

    rule = alert_quality.Rule("g", 60, {"alert": "X", "expr": "x", "for": "2m", "labels": {"severity": "warning"}})
    [interval] = alert_quality.evaluate_alert(Fake(), rule, 0, 900, 60)  # type: ignore[arg-type]
    assert (interval.active_at, interval.fired_at, interval.resolved_at) == (180, 300, 600)
    assert interval.labels == {"job": "a", "severity": "warning", "alertname": "X"}
