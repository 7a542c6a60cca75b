"""Host metrics against psutil's own view, API probes against a real HTTP server, and
`promtool check metrics` on a full /metrics response."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import psutil
import pytest
from aiohttp import web

from exporter.collectors import build_collectors
from exporter.collectors.api_probes import ApiProbeCollector
from exporter.collectors.host import HostCollector
from exporter.config import ApiProbe, ApiProbesConfig, HostConfig, load_config
from exporter.runner import Runner
from exporter.server import build_app
from tests.exporter.test_business import of, samples
from tests.inventory_data import load, reference_dataset


async def test_host_metrics_match_psutil():
    collector = HostCollector(HostConfig(mountpoints=["/"]))
    await asyncio.sleep(0.1)
    values = samples(await collector.collect())
    memory = psutil.virtual_memory()
    assert of(values, "inventory_host_memory_total_bytes") == {(): memory.total}
    used = of(values, "inventory_host_memory_used_bytes")[()]
    assert 0 < used < memory.total
    assert abs(used - (memory.total - memory.available)) < 0.05 * memory.total
    disk = psutil.disk_usage("/")
    assert of(values, "inventory_host_disk_total_bytes") == {("/",): disk.total}
    assert abs(of(values, "inventory_host_disk_used_bytes")[("/",)] - disk.used) < 0.01 * disk.total
    cpu = of(values, "inventory_host_cpu_utilization_ratio")[()]
    assert 0.0 <= cpu <= 1.0
    received = of(values, "inventory_host_network_received_bytes_total")
    assert ("lo",) not in received  # ignored by default
    assert set(received) == {(n,) for n in psutil.net_io_counters(pernic=True) if n != "lo"}
    assert of(values, "process_resident_memory_bytes")[()] > 0


@pytest.fixture
async def inventory_api(aiohttp_server):
    state = {"status": 200, "delay": 0.0}

    async def health(request):
        await asyncio.sleep(state["delay"])
        return web.Response(status=state["status"], text='{"status": "ok", "database": "up"}')

    app = web.Application()
    app.router.add_get("/health", health)
    server = await aiohttp_server(app)
    return server, state


async def test_api_probes_status_body_latency_and_timeout(inventory_api):
    server, state = inventory_api
    base = f"http://127.0.0.1:{server.port}"
    collector = ApiProbeCollector(
        [
            ApiProbe(target="health", url=f"{base}/health", expect_body='"database": "up"'),
            ApiProbe(target="wrong-body", url=f"{base}/health", expect_body="nope"),
            ApiProbe(target="missing", url=f"{base}/nothing-here"),
            ApiProbe(target="refused", url="http://127.0.0.1:9/health"),
        ],
        ApiProbesConfig(timeout=0.5),
    )
    values = samples(await collector.collect())
    assert of(values, "inventory_api_up") == {("health",): 1, ("wrong-body",): 0, ("missing",): 0, ("refused",): 0}
    assert of(values, "inventory_api_probe_http_status_code") == {
        ("health",): 200,
        ("wrong-body",): 200,
        ("missing",): 404,
        ("refused",): 0,
    }

    state["status"] = 503
    values = samples(await collector.collect())
    assert of(values, "inventory_api_up")[("health",)] == 0

    state["status"], state["delay"] = 200, 1.0
    values = samples(await collector.collect())
    assert of(values, "inventory_api_up")[("health",)] == 0
    assert 0.45 < of(values, "inventory_api_probe_duration_seconds")[("health",)] < 0.9

    state["delay"] = 0.2
    values = samples(await collector.collect())
    assert of(values, "inventory_api_up")[("health",)] == 1
    assert 0.2 <= of(values, "inventory_api_probe_duration_seconds")[("health",)] < 0.5
    await collector.close()


async def test_promtool_check_metrics_is_clean_on_a_full_response(aiohttp_client, inventory_api, sqlite_db, tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed: run `make test`, which installs Debian's prometheus package"
    server, _ = inventory_api
    load(f"sqlite:///{sqlite_db}", reference_dataset())
    path = tmp_path / "exporter.yml"
    path.write_text(f"""
database:
  url: sqlite:///{sqlite_db}
api_probes:
  - target: inventory-api
    url: http://127.0.0.1:{server.port}/health
constant_labels:
  tenant: test-shop
""")
    config = load_config(path)
    runner = Runner(build_collectors(config), config.constant_labels)
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    await asyncio.wait_for(runner.complete.wait(), 15)
    body = await (await client.get("/metrics")).text()
    assert all(s.success for s in runner.states.values()), runner.states
    for name in (
        "inventory_skus",
        "inventory_host_cpu_utilization_ratio",
        "inventory_api_up",
        "inventory_data_quality_issues",
        "inventory_exporter_build_info",
    ):
        assert f"\n{name}{{" in body or f"\n{name} " in body, name
    assert 'tenant="test-shop"' in body
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""
    await runner.stop()
