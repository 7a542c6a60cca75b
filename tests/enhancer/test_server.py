"""/metrics, the JSON API and the CLI as a real process (--once across restarts, SIGTERM)."""

from __future__ import annotations

import asyncio
import gzip
import signal
import statistics
import sys
import threading
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

import enhancer.server
from enhancer.metrics import build_registry
from enhancer.server import build_app
from servicekit import snapshot

from .conftest import END, HOUR, MINUTE, SPIKE_START, FakeClock, free_port, noise, rule
from .test_engine import LEVEL_ABOVE_1, location_rule

ROOT = Path(__file__).resolve().parents[2]
T0 = END - 3 * HOUR


def samples(text: str, parse=text_string_to_metric_families) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in parse(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_carry_the_contract_names_and_no_target_labels(make_engine, receiver, aiohttp_client):
    clock = FakeClock(SPIKE_START - 10 * MINUTE)
    engine = make_engine(
        [
            location_rule(receiver, cooldown="10m"),
            rule(
                "noise",
                "enh_noise",
                trigger={"kind": "deviation", "k": 3},
                baseline={"kind": "robust", "window": "1h", "min_samples": 30},
                url=receiver.url + "/noise",
            ),
            rule("bad", "sum(", trigger=LEVEL_ABOVE_1),
        ],
        clock=clock,
    )
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    assert (await client.get("/-/healthy")).status == 200
    response = await client.get("/-/ready")
    assert response.status == 503
    assert await response.text() == "Not ready: first_poll: the first poll cycle has not started.\n"
    status = (await (await client.get("/api/v1/status")).json())["data"]
    assert status["ready"] is False and status["role"] == "single" and status["lease"] is None
    assert status["pending"] == {"first_poll": "the first poll cycle has not started"}
    found = samples(await (await client.get("/metrics")).text())
    assert found[("inventory_enhancer_ready", ())] == 0
    assert found[("inventory_enhancer_ready_pending", (("check", "first_poll"),))] == 1
    assert found[("inventory_enhancer_ready_pending", (("check", "lease"),))] == 0
    await engine.run_cycle()
    clock.advance(4 * MINUTE)
    await engine.run_cycle()
    response = await client.get("/-/ready")
    assert response.status == 200 and await response.text() == "Ready (single).\n"
    status = (await (await client.get("/api/v1/status")).json())["data"]
    assert status["ready"] is True and status["pending"] == {} and status["last_poll_at"] == clock.at

    text = await (await client.get("/metrics")).text()
    found = samples(text)
    assert found[("inventory_enhancer_actions_total", (("outcome", "success"), ("rule", "po")))] == 1
    assert found[("inventory_enhancer_actions_total", (("outcome", "suppressed_cooldown"), ("rule", "po")))] == 1
    assert found[("inventory_enhancer_actions_total", (("outcome", "suppressed_budget"), ("rule", "po")))] == 0
    assert found[("inventory_enhancer_cooldown_remaining_seconds", (("rule", "po"),))] == 360
    assert found[("inventory_enhancer_prometheus_up", ())] == 1
    assert found[("inventory_enhancer_rule_query_success", (("rule", "bad"),))] == 0
    at = clock.at
    highest = max(statistics.median(noise(t, s) for s in range(int(at) - HOUR, int(at) + 1, MINUTE)) for t in "ab")
    assert found[("inventory_enhancer_baseline", (("rule", "noise"),))] == pytest.approx(highest)
    assert ("inventory_enhancer_build_info", (("version", "0.1.0"),)) in found
    label_names = {name for (_, labels) in found for name, _ in labels}
    assert label_names <= {
        *("rule", "outcome", "state", "group", "direction", "check"),
        *("version", "implementation", "major", "minor", "patchlevel"),
    }

    rules = (await (await client.get("/api/v1/rules")).json())["data"]
    po = next(r for r in rules if r["name"] == "po")
    east = next(t for t in po["targets"] if t["labels"] == {"location": "wh-east"})
    assert east["cooldown_remaining_seconds"] == 360 and east["state"] == "firing"
    assert "parse error" in next(r for r in rules if r["name"] == "bad")["error"]


def enhancer_samples(text: str, parse=text_string_to_metric_families) -> dict[tuple[str, tuple], float]:
    """The enhancer's own samples (process_* and python_* move between two scrapes)."""
    return {key: value for key, value in samples(text, parse).items() if key[0].startswith("inventory_enhancer_")}


async def test_metrics_negotiate_openmetrics_and_gzip_like_the_exporter(
    make_engine, receiver, aiohttp_client, monkeypatch
):
    engine = make_engine([location_rule(receiver, cooldown="10m")], clock=FakeClock(T0))
    await engine.run_cycle()
    encoded_in: list[int] = []

    def encode_and_note_thread(families, fmt):
        encoded_in.append(threading.get_ident())
        return snapshot.encode(families, fmt)

    monkeypatch.setattr(enhancer.server, "encode", encode_and_note_thread)
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    success = ("inventory_enhancer_actions_total", (("outcome", "success"), ("rule", "po")))

    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})  # aiohttp asks for gzip
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in plain.headers
    text = await plain.text()
    assert enhancer_samples(text)[success] == 1

    om = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    om_text = await om.text()
    assert om_text.endswith("# EOF\n")
    assert enhancer_samples(om_text, openmetrics_families) == enhancer_samples(text)

    # auto_decompress off: the bytes on the wire really are gzip
    zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert enhancer_samples(gzip.decompress(await zipped.read()).decode()) == enhancer_samples(text)

    both = await client.get(
        "/metrics",
        auto_decompress=False,
        headers={"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    assert both.headers["Content-Encoding"] == "gzip"
    assert both.headers["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(await both.read()).decode().endswith("# EOF\n")

    # encoded per scrape, off the event loop (the test and the app share one loop thread)
    assert len(encoded_in) == 4 and threading.get_ident() not in encoded_in


async def test_metric_label_values_are_the_stored_and_documented_strings(make_engine, receiver, aiohttp_client):
    engine = make_engine([location_rule(receiver, cooldown="10m")], clock=FakeClock(T0))
    await engine.run_cycle()
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    found = samples(await (await client.get("/metrics")).text())
    labels = {
        name: {dict(key)[name] for metric, key in found if metric == family}
        for name, family in (
            ("outcome", "inventory_enhancer_actions_total"),
            ("state", "inventory_enhancer_rule_targets"),
        )
    }
    # docs/enhancer.md; the action log and /api/v1 carry the same strings
    assert labels == {
        "outcome": {
            "success",
            "failed",
            "dry_run",
            "suppressed_maintenance",
            "suppressed_cooldown",
            "suppressed_priority",
            "suppressed_budget",
            "held_out",
        },
        "state": {"ok", "pending", "firing", "waiting_baseline", "no_data"},
    }
    [row] = engine.store.list_actions()
    assert type(row.outcome) is str and row.outcome == "success" and row.status == "finished"


async def test_actions_api_pages_through_the_log(make_engine, receiver, aiohttp_client):
    engine = make_engine(
        [rule("multi", "enh_multi", trigger={"kind": "threshold", "value": 0}, url=receiver.url + "/multi")],
        clock=FakeClock(T0),
    )
    await engine.run_cycle()
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    seen, before = [], None
    while True:
        query = {"limit": "2", **({"before": str(before)} if before else {})}
        page = await (await client.get("/api/v1/actions", params=query)).json()
        seen += page["data"]
        before = page["next_before"]
        if before is None:
            break
    assert len(seen) == 5 and len({row["action_id"] for row in seen}) == 5
    assert {row["labels"]["loc"] for row in seen} == {"l1", "l2", "l3", "l4", "l5"}
    assert all(row["outcome"] == "success" and row["reason"] for row in seen)
    assert (await client.get("/api/v1/actions", params={"limit": "x"})).status == 400
    assert (await client.post("/api/v1/actions")).status == 405


def cli_config(tmp_path: Path, prometheus_url: str, receiver_url: str) -> Path:
    path = tmp_path / "enhancer.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "prometheus": {"url": prometheus_url},
                "state": str(tmp_path / "cli-state.db"),
                "poll_interval": "1s",
                "allowed_hosts": ["127.0.0.1"],
                "rules": [
                    {
                        "name": "always",
                        "query": "vector(1)",
                        "trigger": {"kind": "threshold", "value": 0},
                        "cooldown": "1h",
                        "action": {"kind": "webhook", "url": receiver_url + "/always", "body": {"value": "{value}"}},
                    }
                ],
            }
        )
    )
    return path


async def run_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enhancer",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()


async def test_cli_once_acts_and_a_second_process_respects_the_cooldown(prometheus, receiver, tmp_path):
    config = cli_config(tmp_path, prometheus.url, receiver.url)
    code, output = await run_cli("--config", str(config), "--once")
    assert code == 0, output
    assert [r.body for r in receiver.requests] == [{"value": 1.0}]
    code, output = await run_cli("--config", str(config), "--once", "--log-format", "json")
    assert code == 0, output
    assert len(receiver.requests) == 1
    assert '"msg": "rule always target {}: suppressed_cooldown' in output

    down = cli_config(tmp_path, f"http://127.0.0.1:{free_port()}", receiver.url)
    code, output = await run_cli("--config", str(down), "--once", "--dry-run")
    assert code == 1 and "prometheus_up False" in output


async def test_cli_serves_and_stops_cleanly_on_sigterm(prometheus, receiver, tmp_path):
    config = cli_config(tmp_path, prometheus.url, receiver.url)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enhancer",
        "--config",
        str(config),
        "--dry-run",
        "--listen",
        f"127.0.0.1:{port}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/api/v1/status") as response:
                        # ready once the first poll has started: wait for it to complete
                        if response.status == 200 and (await response.json())["data"]["last_poll_at"]:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                found = samples(await response.text())
        assert found[("inventory_enhancer_prometheus_up", ())] == 1
        assert found[("inventory_enhancer_actions_total", (("outcome", "dry_run"), ("rule", "always")))] == 1
        assert receiver.requests == []
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0, output.decode()
        assert "shutting down" in output.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_takes_the_ecosystems_flags(prometheus, receiver, tmp_path):
    config = cli_config(tmp_path, prometheus.url, receiver.url)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enhancer",
        "--config",
        str(config),
        "--dry-run",
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--web.telemetry-path",
        "/enhancer/metrics",
        "--log.format",
        "json",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/api/v1/status") as response:
                        # ready once the first poll has started: wait for it to complete
                        if response.status == 200 and (await response.json())["data"]["last_poll_at"]:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with session.get(f"http://127.0.0.1:{port}/enhancer/metrics") as response:
                assert response.status == 200
                assert ("inventory_enhancer_prometheus_up", ()) in samples(await response.text())
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 404
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0
        assert '"msg": "shutting down' in output.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    code, output = await run_cli("--config", str(config), "--web.telemetry-path", "/-/ready")
    assert code == 2 and "--web.telemetry-path" in output
