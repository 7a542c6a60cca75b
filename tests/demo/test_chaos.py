"""The fault suite's short form (benchmarks/chaos.py, one round; `make chaos` runs three).

Against the live demo stack (demo.run --fast on free ports, its supervisor restarting
what dies), every component is killed with SIGKILL in turn and must be back, by itself,
within the stated bound; the database file is taken away under write load and the
exporter must report collector_success 0 and then recover; an alert firing while
Alertmanager restarts must still reach the receiver; the enhancer, killed while an action
is in flight, must neither repeat nor lose an action (Idempotency-Key at the receiver vs
its action log); and no scrape of the exporter may take longer than the scrape timeout.
A second, fast test checks demo/run.py's restart policy itself.
"""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import chaos
from demo.run import ALERTMANAGER_BIN, PROMETHEUS_BIN

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(330)]


def test_every_component_recovers_by_itself_and_nothing_is_lost(tmp_path):
    for binary in (PROMETHEUS_BIN, ALERTMANAGER_BIN):
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} not found: install Debian's prometheus and prometheus-alertmanager")
    result = chaos.run(rounds=1, skus=1000, workdir=tmp_path)
    print("\n" + chaos.table(result))
    print(f"alert {result.alert}\nactions {result.actions}\nscrapes {result.scrapes}")

    killed = {r.component for r in result.recoveries}
    assert killed >= {
        "api",
        "exporter",
        "prometheus",
        "alertmanager",
        "enhancer",
        "sink",
        *chaos.FAKES,
        "database (SQLite)",
    }
    for recovery in result.recoveries:
        assert recovery.seconds is not None and recovery.seconds <= chaos.RECOVERY_BOUND_SECONDS, recovery
    # the supervisor did it, and said so
    for name in ("api", "exporter", "prometheus", "alertmanager", "enhancer", "sink", *chaos.FAKES):
        assert result.restarts_logged[name] >= 1, (name, result.restarts_logged)

    # the database outage was reported, not hidden, and /metrics kept answering through it
    database = next(r for r in result.recoveries if r.component == "database (SQLite)")
    assert "kept serving: True" in database.detected, database

    # the alert that fired as Alertmanager was killed was still delivered, within the bound
    assert result.alert["lost"] == 0
    assert not result.alert["delivered_before_kill"], "the kill must land before delivery to prove anything"
    assert result.alert["delivered_after_firing_s"] <= chaos.ALERT_DELIVERY_BOUND_SECONDS, result.alert

    # no action repeated or lost across the enhancer's kill -9 mid-send
    actions = result.actions
    assert actions["interrupted_by_kill"] >= 1, "the kill must land while an action is in flight"
    assert actions["repeated"] == 0, actions
    assert actions["successful_but_not_received"] == 0, actions
    assert actions["received_but_not_logged"] == 0, actions
    assert actions["stuck_started"] == 0, actions
    assert actions["without_key"] == 0, actions
    assert actions["logged_actions"] > 10, actions

    # no scrape took longer than the timeout; refusals only while the exporter was dead
    scrapes = result.scrapes
    assert scrapes["outcomes"].get("timeout", 0) == 0, scrapes
    assert scrapes["max_ms"] < scrapes["timeout_ms"], scrapes
    assert scrapes["outcomes"]["ok"] > 300, scrapes
    exporter_down = next(r for r in result.recoveries if r.component == "exporter").seconds
    assert scrapes["outcomes"].get("refused", 0) <= exporter_down / 0.2 + 2, scrapes
    assert result.prometheus_scrape_max_seconds is not None
    assert result.prometheus_scrape_max_seconds < chaos.SCRAPE_TIMEOUT_SECONDS


def test_supervisor_restarts_with_doubling_backoff_and_leaves_bad_configs_alone(tmp_path, capsys):
    import sys
    import time

    from demo.run import Component, Stack

    crashing = Component("crashing", [sys.executable, "-c", "import sys; sys.exit(3)"], None)
    bad_config = Component("bad-config", [sys.executable, "-c", "import sys; sys.exit(2)"], None)
    stack = Stack([crashing, bad_config], pids_file=tmp_path / "pids.json")
    for component in (crashing, bad_config):
        stack.start(component)
    first_pid = crashing.process.pid
    try:
        for component in (crashing, bad_config):
            component.process.wait(10)
        now = time.monotonic()
        stack.supervise(now)
        assert crashing.restart_at == pytest.approx(now + 1.0)  # first backoff: 1 s
        assert bad_config.given_up and bad_config.restart_at is None
        stack.supervise(now + 0.5)
        assert crashing.restarts == 0  # not before the backoff
        stack.supervise(now + 1.0)
        assert crashing.restarts == 1 and crashing.process.pid != first_pid
        assert json.loads((tmp_path / "pids.json").read_text())["crashing"] == crashing.process.pid
        crashing.process.wait(10)
        now = time.monotonic()
        stack.supervise(now)
        assert crashing.restart_at == pytest.approx(now + 2.0)  # died again at once: doubled
    finally:
        stack.stop()
    out = capsys.readouterr().out
    assert "[run] crashing exited with code 3 after 0s; restarting in 1s (restart 1)" in out
    assert "[run] restarting crashing (restart 1)" in out
    assert "[run] bad-config exited with code 2 after 0s; not restarting (bad config)" in out
