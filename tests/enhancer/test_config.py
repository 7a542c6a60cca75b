"""Config: durations, the shipped defaults, and one-line errors with exit 2 from the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from enhancer.config import WebhookAction, load_config
from servicekit.config import ConfigError, parse_duration

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "enhancer" / "enhancer.yml"


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1w", 604800), ("1h30m", 5400), ("250ms", 0.25), (45, 45)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "m5", "-1s", "1h 30m", True, float("inf"), 0])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_waits_may_be_zero_where_zero_means_none():
    from enhancer.config import parse_config

    rule = parse_config(
        {
            "rules": [
                {
                    "name": "x",
                    "query": "up",
                    "cooldown": "0s",
                    "action": {"kind": "log"},
                    "trigger": {"kind": "threshold", "value": 1, "for": 0},
                }
            ]
        }
    ).rules[0]
    assert (rule.cooldown, rule.trigger.for_) == (0.0, 0.0)


def test_shipped_config_has_the_six_demo_rules():
    config = load_config(SHIPPED)
    targets = {r.name: (r.action.url, r.action.body) for r in config.rules if isinstance(r.action, WebhookAction)}
    assert targets == {
        "integration-sync-stale": ("http://127.0.0.1:8080/actions/resync", {"integration": "{labels.integration}"}),
        "stock-mismatch-above-baseline": (
            "http://127.0.0.1:8080/actions/reconcile",
            {"integration": "{labels.integration}", "location": "{labels.location}"},
        ),
        "low-stock-purchase-orders": (
            "http://127.0.0.1:8080/actions/purchase-orders",
            {"location": "{labels.location}"},
        ),
        "api-latency-above-baseline": ("http://127.0.0.1:8080/actions/cache-warmup", {}),
        "api-error-ratio-above-baseline": (
            "http://127.0.0.1:9099/notify",
            targets["api-error-ratio-above-baseline"][1],
        ),
        "api-memory-growth-above-baseline": ("http://127.0.0.1:8080/actions/restart-workers", {}),
    }
    assert config.listen == "0.0.0.0:9878"


def test_shipped_queries_parse_in_promtool(tmp_path):
    # promtool checks PromQL syntax through a rules file; a typo in a default fails here, not in the demo
    rules = "groups:\n- name: enhancer\n  rules:\n" + "".join(
        f"  - record: enhancer:check_{i}\n    expr: {r.query!r}\n" for i, r in enumerate(load_config(SHIPPED).rules)
    )
    path = tmp_path / "rules.yml"
    path.write_text(rules)
    result = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


BAD = [
    (
        "rules:\n  - name: x\n    query: up\n"
        "    trigger: {kind: threshold, value: 1, for: 5x}\n    action: {kind: log}\n",
        "rules.0.trigger.for",
        "invalid duration '5x'",
    ),
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: deviation, k: 3}\n    action: {kind: log}\n",
        "rules.0.baseline",
        "needs a baseline",
    ),
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: threshold, value: 1}\n"
        "    action: {kind: webhook, url: 'http://example.com/hook'}\n",
        "rules.0.action.url",
        "not in allowed_hosts",
    ),
    ("poll_interval: 30s\nstate_file: x.db\n", "state_file", "unknown key"),
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: threshold, value: 1}\n"
        "    action: {kind: log, message: 'stock {labels.location} {sku}'}\n",
        "rules.0.action.message",
        "unknown template field {sku}",
    ),
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: threshold}\n    action: {kind: log}\n",
        "rules.0.trigger.value",
        "required key is missing",
    ),
    ("rules:\n  - name: x\n   query: up\n", "line 3 column 4", "invalid YAML"),
    # the tag of a union ("webhook") is not part of the path the user sees
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: nope}\n    action: {kind: log}\n",
        "rules.0.trigger.kind",
        "unknown kind 'nope', expected one of 'deviation', 'ratio', 'threshold'",
    ),
    (
        "allowed_hosts: [127.0.0.1]\nrules:\n  - name: x\n    query: up\n    trigger: {kind: threshold, value: 1}\n"
        "    action: {kind: webhook, url: 'http://127.0.0.1/x', retries: 99}\n",
        "rules.0.action.retries",
        "less than or equal to 10",
    ),
    ("poll_interval: 0s\n", "poll_interval", "duration must be positive"),
    # the reading after the action must not reach back to before it (issue 18)
    (
        "rules:\n  - name: mem\n    query: sum(deriv(process_resident_memory_bytes[15m]))\n"
        "    trigger: {kind: threshold, value: 1}\n    action: {kind: log}\n    verify: {after: 10m}\n",
        "rules.0.verify.after",
        "10m is shorter than the 15m the rule's query reads back",
    ),
    (
        "rules:\n  - name: ok\n    query: up\n    trigger: {kind: threshold, value: 1}\n    action: {kind: log}\n"
        "  - name: sub\n    query: max_over_time(rate(x[5m])[30m:1m] offset 5m)\n"
        "    trigger: {kind: threshold, value: 1}\n    action: {kind: log}\n    verify: {after: 30m}\n",
        "rules.1.verify.after",
        "30m is shorter than the 40m the rule's query reads back",
    ),
    (
        "rules:\n  - name: x\n    query: up\n    trigger: {kind: threshold, value: 1}\n    action: {kind: log}\n"
        "    verify: {holdout: 1}\n",
        "rules.0.verify.holdout",
        "less than 1",
    ),
    ("prometheus: {url: 'localhost:9090'}\n", "prometheus.url", "must be an http:// or https:// URL"),
]


@pytest.mark.parametrize("text, key, problem", BAD)
def test_bad_config_exits_2_with_one_line(tmp_path, text, key, problem):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "enhancer", "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{path}: {key}: ")
    assert problem in lines[0]
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == lines[0]


def test_check_config_accepts_the_shipped_file():
    result = subprocess.run(
        [sys.executable, "-m", "enhancer", "--config", str(SHIPPED), "--check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "OK (6 rules)" in result.stdout


@pytest.mark.parametrize(
    "query, seconds",
    [
        ("inventory_low_stock_skus", 0),
        ("time() - inventory_integration_last_sync_success_timestamp_seconds", 0),
        ('sum(deriv(process_resident_memory_bytes{job="inventory-api"}[15m]))', 900),
        ('histogram_quantile(0.95, sum by (le) (rate(x_bucket{job="a[1h]"}[5m])))', 300),  # a string is no range
        ("rate(x[1h30m])", 5400),
        ("rate(x[5m] offset 10m)", 900),
        ("rate(x[1h] offset -10m)", 3000),
        ("x offset 20m", 1200),
        ("max_over_time(rate(x[5m])[30m:1m])", 2100),  # the subquery's range plus the range inside it
        ("max_over_time(rate(x[5m])[30m:1m] offset 10m)", 2700),
        ("avg_over_time(x[1h:])", 3600),
        ("max_over_time((rate(a[5m]) + rate(b[10m] offset 5m))[30m:])", 2700),
        ("rate(x[5m]) # [2h] in a comment", 300),
        ("rate(x[5m] @ 100 offset 1m)", 360),
    ],
)
def test_how_far_back_a_query_reads(query, seconds):
    from enhancer.promql import lookback_seconds

    assert lookback_seconds(query) == seconds


def test_shipped_rules_verify_no_sooner_than_their_queries_read_back():
    from enhancer.promql import lookback_seconds

    for rule in load_config(SHIPPED).rules:
        if rule.verify is not None:
            assert rule.verify.after >= lookback_seconds(rule.query), rule.name
    memory = next(r for r in load_config(SHIPPED).rules if r.name == "api-memory-growth-above-baseline")
    assert memory.verify is not None and memory.verify.after == 900  # deriv(...[15m])
