"""Two real enhancer processes on one PostgreSQL state, querying VictoriaMetrics: exactly one
acts on each decision; kill -9 of the leader in the middle of an action hands over within
the lease TTL, and every action reaches the webhook exactly once; a leader frozen (SIGSTOP)
in the middle of an action wakes deposed, does not retry it, and says what the new leader's
row says."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
import yaml

from enhancer.state import StateStore
from tests.conftest import free_port, wait_for

from .conftest import Process, Stack, http_text, metric_value

pytestmark = [pytest.mark.postgres, pytest.mark.prometheus, pytest.mark.timeout(150)]

TTL = 3.0
SIGNAL = "ha_enhancer_signal"


def enhancer_config(
    stack: Stack,
    state_url: str,
    path,
    *,
    signal: str = SIGNAL,
    rule: str = "ha-act",
    path_suffix: str = "act",
    timeout: str = "60s",
    retries: int = 0,
) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "prometheus": {"url": stack.victoria_url, "timeout": "2s", "retries": 0},
                "poll_interval": "500ms",
                "state": state_url,
                "allowed_hosts": ["127.0.0.1"],
                "lease": {"ttl": f"{TTL:g}s"},
                "rules": [
                    {
                        "name": rule,
                        "query": f"{signal} > 0",
                        "trigger": {"kind": "threshold", "value": 0},
                        "action": {
                            "kind": "webhook",
                            "url": stack.receiver.url + f"/actions/{path_suffix}",
                            "body": {"target": "{labels.target}"},
                            "timeout": timeout,
                            "retries": retries,
                            "backoff": "200ms",
                        },
                        "cooldown": "1h",
                    }
                ],
            }
        )
    )


def enhancer(stack: Stack, name: str, config) -> Process:
    port = free_port()
    return Process(
        f"enhancer-{name}",
        [sys.executable, "-m", "enhancer", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}/-/ready",
        stack.directory,
        env={"PYTHONPATH": str(os.getcwd())},
    )


def scrape(process: Process) -> str:
    return http_text(process.ready_url.replace("/-/ready", "/metrics"))


def leads(process: Process) -> bool:
    return metric_value(scrape(process), "inventory_enhancer_is_leader") == 1.0


def acted(process: Process) -> float:
    return metric_value(scrape(process), "inventory_enhancer_actions_total", 'outcome="success",rule="ha-act"') or 0.0


def sent_targets(stack: Stack) -> list[str]:
    return sorted(r.body["target"] for r in stack.receiver.to("/actions/act"))


def test_one_leader_acts_and_a_standby_takes_over_a_killed_leader(stack: Stack, empty_postgres_url, tmp_path):
    config = tmp_path / "enhancer.yml"
    enhancer_config(stack, empty_postgres_url, config)
    first = enhancer(stack, "a", config).start()
    try:
        wait_for(lambda: leads(first), timeout=10, message="the first enhancer leading")
        second = enhancer(stack, "b", config).start()
        try:
            _scenario(stack, empty_postgres_url, first, second)
        finally:
            second.stop()
    finally:
        first.stop()


def _scenario(stack: Stack, empty_postgres_url: str, leader: Process, standby: Process) -> None:
    # -- both running: exactly one acts on each decision
    assert not leads(standby)
    assert metric_value(scrape(leader), "inventory_enhancer_lease_fencing_token") == 1.0
    for target in ("t1", "t2"):
        stack.exporter.set(f'{SIGNAL}{{target="{target}"}}', 1)
    wait_for(lambda: len(sent_targets(stack)) >= 2, timeout=20, interval=0.1, message="two actions")
    time.sleep(3)  # six more polls of each enhancer
    assert sent_targets(stack) == ["t1", "t2"]
    assert acted(leader) == 2.0 and acted(standby) == 0.0
    # the standby evaluates (its view is warm for a takeover) but has not acted
    assert metric_value(scrape(standby), "inventory_enhancer_rule_targets", 'rule="ha-act",state="firing"') == 2.0

    # -- the leader is in the middle of an action (the receiver never answers it) ...
    stack.receiver.hang_targets.add("t3")
    stack.exporter.set(f'{SIGNAL}{{target="t3"}}', 1)
    wait_for(lambda: "t3" in sent_targets(stack), timeout=20, interval=0.05, message="the t3 action sent")
    store = StateStore(empty_postgres_url)
    try:
        [in_flight] = [r for r in store.list_actions() if r.labels.get("target") == "t3"]
        assert in_flight.status == "started" and in_flight.fencing_token == 1

        # ... when it is killed
        leader.kill9()
        killed_at = time.monotonic()
        wait_for(lambda: leads(standby), timeout=2 * TTL, interval=0.05, message="the standby leading")
        handover = time.monotonic() - killed_at
        assert handover <= TTL + 0.5, handover
        assert metric_value(scrape(standby), "inventory_enhancer_lease_fencing_token") == 2.0

        # the new leader resolved the interrupted action: failed, outcome unknown, not re-sent
        def resolved():
            [row] = [r for r in store.list_actions() if r.action_id == in_flight.action_id]
            return row if row.status == "finished" else None

        row = wait_for(resolved, timeout=5, message="the interrupted action resolved")
        assert row.outcome == "failed" and "outcome unknown" in row.reason
        assert f"Idempotency-Key {in_flight.action_id}" in row.reason and "fencing token 2" in row.reason

        # -- the new leader acts on new decisions, once
        stack.exporter.set(f'{SIGNAL}{{target="t4"}}', 1)
        wait_for(lambda: "t4" in sent_targets(stack), timeout=20, interval=0.1, message="the t4 action")
        time.sleep(3)

        # every action reached the sink exactly once, under the key its row records
        assert sent_targets(stack) == ["t1", "t2", "t3", "t4"]
        keys = [r.headers["Idempotency-Key"] for r in stack.receiver.to("/actions/act")]
        rows = [r for r in store.list_actions(limit=500) if r.outcome in ("success", "failed")]
        assert sorted(keys) == sorted(r.action_id for r in rows) and len(set(keys)) == 4
        tokens = {r.labels["target"]: r.fencing_token for r in rows}
        assert tokens == {"t1": 1, "t2": 1, "t3": 1, "t4": 2}
        assert all(r.status == "finished" for r in store.list_actions(limit=500))
    finally:
        store.close()
        stack.receiver.hang_targets.clear()
    # a graceful stop releases the lease at once
    standby.stop()
    store = StateStore(empty_postgres_url)
    with store.engine.connect() as conn:
        expires, now = conn.exec_driver_sql(
            "SELECT expires_at, extract(epoch from clock_timestamp()) FROM enhancer_lease"
        ).one()
    store.close()
    assert float(expires) <= float(now)


FREEZE_SIGNAL = "ha_freeze_signal"


def test_a_leader_frozen_mid_request_wakes_deposed_and_does_not_resend(stack: Stack, empty_postgres_url, tmp_path):
    """SIGSTOP while the receiver holds the request open; the receiver answers while the
    leader is frozen (the answer waits in its socket), the lease passes to the other node,
    then SIGCONT. The old leader times the request out on waking, as its clock says, but asks
    whether it still leads before retrying, and stops: the receiver has the action once."""
    config = tmp_path / "enhancer.yml"
    # timeout 2s < the freeze; two retries that the old code made at once on waking
    enhancer_config(
        stack,
        empty_postgres_url,
        config,
        signal=FREEZE_SIGNAL,
        rule="ha-freeze",
        path_suffix="freeze",
        timeout="2s",
        retries=2,
    )
    old = enhancer(stack, "freeze-a", config).start()
    new = None
    frozen = False
    store = StateStore(empty_postgres_url)
    try:
        wait_for(lambda: leads(old), timeout=10, message="the first enhancer leading")
        new = enhancer(stack, "freeze-b", config).start()
        assert not leads(new)

        def sent(target: str) -> list:
            return [r for r in stack.receiver.to("/actions/freeze") if r.body["target"] == target]

        stack.receiver.delay_targets["f1"] = 1.0  # answered 200 after 1 s: while the leader is frozen
        stack.exporter.set(f'{FREEZE_SIGNAL}{{target="f1"}}', 1)
        wait_for(lambda: sent("f1"), timeout=20, interval=0.01, message="the f1 action sent")
        old.popen.send_signal(signal.SIGSTOP)
        frozen = True
        [request] = sent("f1")
        assert request.headers["Enhancer-Fencing-Token"] == "1"
        action_id = request.headers["Idempotency-Key"]

        # the lease passes to the other node, which resolves the action in flight
        wait_for(lambda: leads(new), timeout=3 * TTL, interval=0.05, message="the other node leading")
        assert metric_value(scrape(new), "inventory_enhancer_lease_fencing_token") == 2.0

        def resolved():
            [row] = [r for r in store.list_actions() if r.action_id == action_id]
            return row if row.status == "finished" else None

        row = wait_for(resolved, timeout=5, message="the frozen leader's action resolved")
        time.sleep(0.5)
        old.popen.send_signal(signal.SIGCONT)
        frozen = False

        line = "the new leader's record stands: failed, outcome unknown, not re-sent"
        wait_for(lambda: line in old.log_tail(), timeout=10, message="the old leader's log of the stop")
        time.sleep(2)  # the old code's retries (backoff 200 ms) would have come by now

        # the receiver has the action once: the old leader stopped, the new one never re-sends
        assert len(sent("f1")) == 1
        # the row and the old leader's log agree: failed, outcome unknown, not re-sent
        assert (row.outcome, row.fencing_token) == ("failed", 1)
        assert "outcome unknown: the leader with fencing token 1 stopped or lost its lease" in row.reason
        assert f"not re-sent (Idempotency-Key {action_id}); resolved by the leader with fencing token 2" in row.reason
        [final] = [r for r in store.list_actions() if r.action_id == action_id]
        assert final == row  # the old leader's late write was refused
        log = (stack.directory / "enhancer-freeze-a.log").read_text()
        [stop_line] = [entry for entry in log.splitlines() if line in entry]
        assert f"action {action_id} (fencing token 1)" in stop_line
        assert "fencing token 1 is not current; lease held by" in stop_line and "(token 2)" in stop_line
        assert "fencing token None" not in log and "retrying in" not in log
        assert "lease: lost to" in log
        # ... and its metrics: a standby now, one fenced action, nothing counted as sent
        old_metrics = scrape(old)
        assert metric_value(old_metrics, "inventory_enhancer_is_leader") == 0.0
        assert metric_value(old_metrics, "inventory_enhancer_actions_fenced_total", 'rule="ha-freeze"') == 1.0
        for outcome in ("success", "failed"):
            labels = f'outcome="{outcome}",rule="ha-freeze"'
            assert metric_value(old_metrics, "inventory_enhancer_actions_total", labels) == 0.0
        # both nodes are ready: the standby serves its metrics and API
        assert http_text(old.ready_url) == "Ready (standby).\n"
        assert http_text(new.ready_url) == "Ready (leader).\n"

        # the new leader acts on what comes next, once, under its token
        stack.exporter.set(f'{FREEZE_SIGNAL}{{target="f2"}}', 1)
        wait_for(lambda: sent("f2"), timeout=20, interval=0.1, message="the f2 action")
        time.sleep(2)
        assert [r.headers["Enhancer-Fencing-Token"] for r in sent("f2")] == ["2"]
        assert len(sent("f1")) == 1
    finally:
        if frozen:
            old.popen.send_signal(signal.SIGCONT)
        store.close()
        stack.receiver.delay_targets.clear()
        if new is not None:
            new.stop()
        old.stop()
