"""The Prometheus client and the Alertmanager silence action against the real servers."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from enhancer.actions import ActionSender
from enhancer.config import parse_config
from servicekit.prometheus import PrometheusClient, PrometheusError, PrometheusUnavailable

from .conftest import END, SPIKE_START, free_port, noise


async def test_query_and_query_range_return_the_known_series(prometheus, session):
    client = PrometheusClient(prometheus.url, session)
    samples = await client.query("enh_noise", SPIKE_START + 60)
    assert {s.labels["target"]: s.value for s in samples} == {"a": 200.0, "b": noise("b", SPIKE_START + 60)}
    assert (await client.query("scalar(sum(enh_level))", END))[0].value == 5.0
    [series] = await client.query_range('enh_noise{target="b"}', END - 600, END, 60)
    assert series.points == [(float(t), noise("b", t)) for t in range(END - 600, END + 1, 60)]
    assert client.up is True


async def test_prometheus_errors_are_decoded(prometheus, session):
    client = PrometheusClient(prometheus.url, session, retries=2, backoff=0.01)
    with pytest.raises(PrometheusError) as caught:
        await client.query("sum(enh_noise", END)
    assert caught.value.error_type == "bad_data" and caught.value.status == 400
    assert str(caught.value).startswith("Prometheus rejected the query (bad_data): ")
    assert "parse error" in str(caught.value)
    with pytest.raises(PrometheusError, match="expected an instant vector"):
        await client.query("enh_noise[5m]", END)
    assert client.up is True  # a bad query is the rule's fault; the server is fine


async def test_unreachable_prometheus_is_retried_then_reported(session):
    client = PrometheusClient(f"http://127.0.0.1:{free_port()}", session, retries=2, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(PrometheusUnavailable, match=r"after 3 attempt\(s\)"):
        await client.query("up", END)
    assert time.monotonic() - started >= 0.15  # backoff 0.05 then 0.1
    assert client.up is False


@pytest.fixture
def alertmanager():
    directory = Path(tempfile.mkdtemp(prefix="enhancer-am-"))
    (directory / "alertmanager.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = free_port()
    process = subprocess.Popen(
        [
            "/usr/bin/prometheus-alertmanager",
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)
    shutil.rmtree(directory, ignore_errors=True)


async def test_silence_action_creates_a_silence_in_alertmanager(alertmanager, session):
    config = parse_config(
        {
            "alertmanager": {"url": alertmanager},
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "quiet",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {
                        "kind": "alertmanager_silence",
                        "duration": "30m",
                        "retries": 5,
                        "backoff": "200ms",
                        "matchers": [
                            {"name": "alertname", "value": "InventoryLowStock"},
                            {"name": "location", "value": "{labels.location}"},
                        ],
                    },
                }
            ],
        }
    )
    sender = ActionSender(config, session)
    result = await sender.send(
        config.rules[0], action_id="abc123", labels={"location": "wh-east"}, value=3.0, baseline=None
    )
    assert result.success, result.detail
    async with aiohttp.ClientSession() as check:
        async with check.get(f"{alertmanager}/api/v2/silences") as response:
            [silence] = await response.json()
    assert silence["status"]["state"] == "active"
    assert {(m["name"], m["value"]) for m in silence["matchers"]} == {
        ("alertname", "InventoryLowStock"),
        ("location", "wh-east"),
    }
    assert silence["comment"] == "inventory-enhancer: rule quiet" and silence["createdBy"] == "inventory-enhancer"


async def test_a_host_outside_the_allowlist_is_never_contacted(receiver, session):
    config = parse_config(
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "x",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {"kind": "webhook", "url": receiver.url + "/x"},
                }
            ],
        }
    )
    # the same config with the allowlist emptied after validation, as a later edit could do
    locked = config.model_copy(update={"allowed_hosts": []})
    result = await ActionSender(locked, session).send(
        config.rules[0], action_id="a1", labels={}, value=1.0, baseline=None
    )
    assert not result.success and result.attempts == 0 and "not in allowed_hosts" in result.detail
    await asyncio.sleep(0.05)
    assert receiver.requests == []


async def test_webhook_headers_read_secrets_from_env_and_file(receiver, session, tmp_path, monkeypatch):
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("ENHANCER_TEST_TOKEN", "from-env")
    config = parse_config(
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "x",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {
                        "kind": "webhook",
                        "url": receiver.url + "/x",
                        "method": "PUT",
                        "headers": {
                            "Authorization": {"env": "ENHANCER_TEST_TOKEN", "prefix": "Bearer "},
                            "X-Api-Key": {"file": str(secret_file)},
                            "X-Plain": "p",
                        },
                    },
                },
                {
                    "name": "y",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {
                        "kind": "webhook",
                        "url": receiver.url + "/y",
                        "headers": {"Authorization": {"env": "ENHANCER_TEST_UNSET"}},
                    },
                },
            ],
        }
    )
    sender = ActionSender(config, session)
    assert (await sender.send(config.rules[0], action_id="k1", labels={}, value=1.0, baseline=None)).success
    [request] = receiver.requests
    assert request.method == "PUT" and request.body is None
    assert (request.headers["Authorization"], request.headers["X-Api-Key"], request.headers["X-Plain"]) == (
        "Bearer from-env",
        "from-file",
        "p",
    )
    assert request.headers["Idempotency-Key"] == "k1"
    missing = await sender.send(config.rules[1], action_id="k2", labels={}, value=1.0, baseline=None)
    assert not missing.success and "ENHANCER_TEST_UNSET is not set" in missing.detail
    assert len(receiver.requests) == 1


async def test_a_webhook_waits_out_retry_after_and_takes_another_4xx_as_final(receiver, session):
    receiver.script("/busy", (429, {"Retry-After": "1"}), (503, {"Retry-After": "soon"}))
    receiver.script("/rejected", 422, 500)
    config = parse_config(
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": name,
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {"kind": "webhook", "url": f"{receiver.url}/{name}", "retries": 2, "backoff": "10ms"},
                }
                for name in ("busy", "rejected")
            ],
        }
    )
    sender = ActionSender(config, session)
    busy = await sender.send(config.rules[0], action_id="b1", labels={}, value=1.0, baseline=None)
    assert busy.success and busy.attempts == 3
    first, second, third = (r.at for r in receiver.to("/busy"))
    assert second - first >= 1.0  # the receiver's Retry-After, not the 10 ms backoff
    assert third - second < 0.5  # an unreadable Retry-After: the backoff (20 ms) alone

    rejected = await sender.send(config.rules[1], action_id="r1", labels={}, value=1.0, baseline=None)
    assert not rejected.success and rejected.attempts == 1
    assert rejected.detail.startswith("HTTP 422") and rejected.detail.endswith("(after 1 attempt)")
    assert len(receiver.to("/rejected")) == 1


async def test_a_sender_asks_its_guard_before_every_attempt_and_stops_when_deposed(receiver, session, caplog):
    """The lease check of a leader (enhancer/lease.py confirm): before the first attempt and
    before any retry. Refused, nothing more is sent and the result says so (fenced)."""
    receiver.script("/hook", 503, 503)
    config = parse_config(
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "hook",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {"kind": "webhook", "url": f"{receiver.url}/hook", "retries": 2, "backoff": "10ms"},
                },
                {
                    "name": "note",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {"kind": "log", "message": "noted"},
                },
            ],
        }
    )
    sender = ActionSender(config, session)
    answers: list[str | None] = []
    asked = 0

    async def guard() -> str | None:
        nonlocal asked
        asked += 1
        return answers.pop(0) if answers else None

    # deposed before the first attempt (e.g. while waiting for a free slot): nothing sent
    answers[:] = ["lost the lease: fencing token 1 is not current; lease held by b (token 2)"]
    before = await sender.send(config.rules[0], action_id="a0", labels={}, value=1.0, baseline=None, guard=guard)
    assert (before.success, before.attempts, before.fenced) == (False, 0, True)
    assert before.detail == "not sent: lost the lease: fencing token 1 is not current; lease held by b (token 2)"
    assert receiver.to("/hook") == []

    # the first attempt fails (503) and the lease is lost meanwhile: no retry, no "retrying" log
    asked = 0
    answers[:] = [None, "lost the lease: fencing token 1 is not current; lease held by b (token 2)"]
    with caplog.at_level(logging.INFO, logger="enhancer.actions"):
        after = await sender.send(
            config.rules[0], action_id="a1", labels={}, value=1.0, baseline=None, guard=guard, fencing_token=1
        )
    assert (after.success, after.attempts, after.fenced, asked) == (False, 1, True, 2)
    assert after.detail.startswith("HTTP 503") and "(attempt 1); not retried: lost the lease" in after.detail
    [request] = receiver.to("/hook")
    assert request.headers["Idempotency-Key"] == "a1" and request.headers["Enhancer-Fencing-Token"] == "1"
    assert "retrying" not in caplog.text

    # while the lease holds, the guard is asked before each of the attempts
    asked = 0
    receiver.script("/hook", 503)
    held = await sender.send(config.rules[0], action_id="a2", labels={}, value=1.0, baseline=None, guard=guard)
    assert (held.success, held.attempts, held.fenced) == (True, 2, False)
    assert asked == 3  # before attempt 1, after its 503 (before the retry's announcement), before attempt 2

    # a log action is a side effect too
    answers[:] = ["lease expired 0.5s ago: fencing token 1 not confirmed"]
    note = await sender.send(config.rules[1], action_id="n1", labels={}, value=1.0, baseline=None, guard=guard)
    assert (note.success, note.fenced) == (False, True) and note.detail.startswith("not sent: lease expired")
