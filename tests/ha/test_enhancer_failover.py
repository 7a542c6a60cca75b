"""Two real enhancer processes on one PostgreSQL state, querying VictoriaMetrics: exactly one
acts on each decision; kill -9 of the leader in the middle of an action hands over within
the lease TTL, and every action reaches the webhook exactly once."""

from __future__ import annotations

import os
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


def enhancer_config(stack: Stack, state_url: str, path) -> None:
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
                        "name": "ha-act",
                        "query": f"{SIGNAL} > 0",
                        "trigger": {"kind": "threshold", "value": 0},
                        "action": {
                            "kind": "webhook",
                            "url": stack.receiver.url + "/actions/act",
                            "body": {"target": "{labels.target}"},
                            "timeout": "60s",
                            "retries": 0,
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
