"""The exporter's HTTP side: formats, gzip, readiness, landing page, JSON views, CLI lifecycle."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import build_collectors
from exporter.collectors.base import CollectorBase
from exporter.config import load_config
from exporter.runner import Runner
from exporter.server import build_app
from tests.conftest import ROOT, free_port, wait_for
from tests.inventory_data import load, reference_dataset


def write_config(tmp_path, body: str):
    path = tmp_path / "exporter.yml"
    path.write_text(body)
    return path


@pytest.fixture
async def exporter_client(aiohttp_client, sqlite_db, tmp_path):
    load(f"sqlite:///{sqlite_db}", reference_dataset())
    config = load_config(write_config(tmp_path, f"database:\n  url: sqlite:///{sqlite_db}\n  interval: 60s\n"))
    runner = Runner(build_collectors(config))
    client = await aiohttp_client(build_app(runner))
    yield client, runner
    await runner.stop()


async def test_ready_once_every_collector_started_without_waiting_for_first_runs(exporter_client):
    client, runner = exporter_client
    resp = await client.get("/-/ready")
    assert resp.status == 503
    assert "start of" in await resp.text() and "business" in await resp.text()
    await runner.start()
    await asyncio.wait_for(runner.ready.wait(), 10)
    assert (await client.get("/-/ready")).status == 200
    assert (await client.get("/-/healthy")).status == 200


class _HeldCollector(CollectorBase):
    """A first run that takes as long as the test says (a 30-minute catalogue, shortened)."""

    name = "integration_slow"
    interval = 3600.0
    timeout = 60.0

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def collect(self) -> list:
        await self.release.wait()
        family = GaugeMetricFamily("inventory_integration_up", "up", labels=["integration"])
        family.add_metric(["slow"], 1)
        return [family]


async def test_a_slow_first_run_does_not_hold_readiness_back_unless_waited_for(aiohttp_client):
    # Before: /-/ready waited for every first run, so an exporter whose catalogue takes
    # 30 minutes left its Service's endpoints, and Prometheus's targets, for 30 minutes.
    slow = _HeldCollector()
    runner = Runner([slow, _GrowingCollector()])
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    await asyncio.wait_for(runner.ready.wait(), 10)
    assert (await client.get("/-/ready")).status == 200
    body = await (await client.get("/metrics")).text()
    assert 'inventory_exporter_collector_first_run_pending{collector="integration_slow"} 1.0' in body
    assert "<td>integration_slow</td><td>pending</td>" in await (await client.get("/")).text()
    assert not runner.complete.is_set()
    slow.release.set()
    await asyncio.wait_for(runner.complete.wait(), 10)
    body = await (await client.get("/metrics")).text()
    assert 'inventory_exporter_collector_first_run_pending{collector="integration_slow"} 0.0' in body
    await runner.stop()

    # readiness.wait_for: the named collector's first run, served, before ready.
    slow = _HeldCollector()
    runner = Runner([slow, _GrowingCollector()], ready_after=["integration_slow"])
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    await asyncio.sleep(0.3)
    resp = await client.get("/-/ready")
    assert resp.status == 503 and "first run of integration_slow" in await resp.text()
    slow.release.set()
    await asyncio.wait_for(runner.ready.wait(), 10)
    assert 'inventory_integration_up{integration="slow"} 1.0' in runner.snapshot.text.decode()
    await runner.stop()


def test_readiness_wait_for_names_a_collector_of_this_config(tmp_path):
    config = write_config(tmp_path, "host:\n  enabled: true\nreadiness:\n  wait_for: [host, integration_shopify]\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(config), "--check-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "readiness.wait_for.1: no collector 'integration_shopify'" in result.stderr


async def test_metrics_text_openmetrics_and_gzip(exporter_client):
    client, runner = exporter_client
    await runner.start()
    await asyncio.wait_for(runner.complete.wait(), 10)

    plain = await client.get("/metrics")
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await plain.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["inventory_skus"].samples[0].value in (3.0,)
    assert 'inventory_exporter_collector_success{collector="business"} 1.0' in text

    om = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    om_text = await om.text()
    assert om_text.endswith("# EOF\n")
    assert "inventory_stock_movements_total" in om_text

    # auto_decompress off: check the bytes on the wire really are gzip.
    zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()).decode() == text


async def test_failing_collector_drops_its_values_and_others_keep_going(aiohttp_client, tmp_path):
    missing = tmp_path / "missing.db"
    config = load_config(write_config(tmp_path, f"database:\n  url: sqlite:///{missing}\n  interval: 60s\n"))
    runner = Runner(build_collectors(config))
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    await asyncio.wait_for(runner.complete.wait(), 10)
    text = await (await client.get("/metrics")).text()
    assert 'inventory_exporter_collector_success{collector="business"} 0.0' in text
    assert 'inventory_exporter_collector_success{collector="host"} 1.0' in text
    assert "inventory_skus" not in text
    # Read-only access: a missing database is an error, never a new empty file.
    assert not missing.exists()
    await runner.stop()


async def test_landing_page_lists_collectors_and_escapes_errors(aiohttp_client, sqlite_db, tmp_path):
    config = load_config(
        write_config(
            tmp_path,
            f"""
database:
  url: sqlite:///{sqlite_db}
business:
  overrides:
    inventory_skus: 'SELECT 1 AS value FROM "<script>alert(1)</script>"'
""",
        )
    )
    runner = Runner(build_collectors(config))
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    await asyncio.wait_for(runner.complete.wait(), 10)
    page = await (await client.get("/")).text()
    assert "<td>host</td><td>ok</td>" in page
    # The statement fails alone: the collector runs on, the statement is listed with its error.
    assert "<td>business</td><td>ok</td>" in page
    assert "<td>business</td><td>inventory_skus</td>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    await runner.stop()


class _ViewCollector(CollectorBase):
    """A collector that offers a JSON view, to exercise the server's filters."""

    name = "views"
    interval = 60.0
    timeout = 5.0

    async def collect(self):
        return []

    def api_views(self):
        return {
            "mismatches": [
                {"integration": "shopify", "location": "wh", "sku": "A", "difference": 3},
                {"integration": "square", "location": "st", "sku": "B", "difference": -1},
            ]
        }


async def test_json_views_filter_limit_and_reject_unknown_parameters(aiohttp_client):
    runner = Runner([_ViewCollector()])
    client = await aiohttp_client(build_app(runner))
    assert (await client.get("/api/v1/mismatches")).status == 503  # nothing collected yet
    await runner.start()
    await asyncio.wait_for(runner.complete.wait(), 5)
    body = await (await client.get("/api/v1/mismatches?integration=square")).json()
    assert [item["sku"] for item in body["data"]] == ["B"]
    body = await (await client.get("/api/v1/mismatches?limit=1")).json()
    assert len(body["data"]) == 1
    assert (await client.get("/api/v1/mismatches?sku=A")).status == 400
    assert (await client.get("/api/v1/mismatches?limit=0")).status == 400
    assert (await client.get("/api/v1/unknown")).status == 404
    assert (await client.post("/api/v1/mismatches")).status == 405  # read-only
    await runner.stop()


class _SlowCollector(CollectorBase):
    name = "slow"
    interval = 60.0
    timeout = 0.2

    async def collect(self):
        await asyncio.sleep(5)
        return []


async def test_collector_timeout_counts_as_failure_and_scrape_does_not_wait(aiohttp_client):
    runner = Runner([_SlowCollector()])
    client = await aiohttp_client(build_app(runner))
    await runner.start()
    started = time.perf_counter()
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert time.perf_counter() - started < 0.15  # served from the snapshot, not the collector
    await asyncio.wait_for(runner.complete.wait(), 2)
    assert runner.states["slow"].last_error == "timed out after 0.2s"
    assert 'inventory_exporter_collector_success{collector="slow"} 0.0' in await (await client.get("/metrics")).text()
    await runner.stop()


class _GrowingCollector(CollectorBase):
    """Small on its first run, then a registry whose render takes about a second."""

    name = "growing"
    interval = 3600.0
    timeout = 60.0

    def __init__(self):
        self.series = 10

    async def collect(self):
        family = GaugeMetricFamily("inventory_test_series", "Synthetic series.", labels=["n"])
        for n in range(self.series):
            family.add_metric([str(n)], n)
        return [family]


async def test_scrape_is_served_while_a_large_snapshot_renders(aiohttp_client):
    collector = _GrowingCollector()
    runner = Runner([collector])
    client = await aiohttp_client(build_app(runner))
    await runner.run_once(collector)
    collector.series = 100_000  # about 1 s of rendering (docs/reliability.md, stress)
    run = asyncio.create_task(runner.run_once(collector))
    for _ in range(30_000):  # until the collection is done and the render has begun
        if runner._render_lock.locked():
            break
        await asyncio.sleep(0.001)

    resp = await client.get("/metrics")
    # Answered from the previous snapshot while the new one is still being rendered:
    # the render runs in a worker thread, not in the loop that serves scrapes.
    still_rendering = runner._render_lock.locked()
    body = await resp.text()
    assert resp.status == 200
    assert still_rendering
    assert 'inventory_test_series{n="9"} 9.0' in body
    assert 'n="99999"' not in body

    await asyncio.wait_for(run, 60)
    assert 'inventory_test_series{n="99999"} 99999.0' in await (await client.get("/metrics")).text()
    await runner.stop()


async def test_complete_only_once_the_served_snapshot_holds_every_first_run():
    big, small = _GrowingCollector(), _GrowingCollector()
    small.name = "small"
    big.series = 50_000
    runner = Runner([big, small])
    first = asyncio.create_task(runner.run_once(big))
    for _ in range(30_000):
        if runner._render_lock.locked():
            break
        await asyncio.sleep(0.001)
    # `small` runs while big's snapshot renders: every collector has now run once, but
    # the snapshot being rendered does not hold `small`'s result
    second = asyncio.create_task(runner.run_once(small))
    await asyncio.wait_for(runner.complete.wait(), 60)
    assert 'inventory_exporter_collector_success{collector="small"} 1.0' in runner.snapshot.text.decode()
    await asyncio.gather(first, second)


async def test_collectors_finishing_during_a_render_share_the_next_one(aiohttp_client):
    first, second = _GrowingCollector(), _GrowingCollector()
    second.name = "growing_too"
    runner = Runner([first, second])
    renders = []
    original = runner._families

    def counted():
        renders.append(1)
        return original()

    runner._families = counted
    first.series = 50_000
    await asyncio.gather(runner.run_once(first), runner.run_once(second), runner.run_once(second))
    # One render for the first collector, one more covering both runs of the second.
    assert len(renders) == 2
    text = runner.snapshot.text.decode()
    assert 'inventory_exporter_collector_success{collector="growing_too"} 1.0' in text
    assert 'inventory_test_series{n="49999"} 49999.0' in text


async def test_render_does_not_wait_for_a_busy_shared_thread_pool():
    # Collectors' blocking statements run in the loop's default pool; one that is stuck
    # (a hung database) must not hold up the snapshot of every other collector.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    release = threading.Event()
    stuck = loop.run_in_executor(None, release.wait)
    try:
        collector = _GrowingCollector()
        runner = Runner([collector])
        await asyncio.wait_for(runner.run_once(collector), 10)
        assert 'inventory_test_series{n="9"} 9.0' in runner.snapshot.text.decode()
        await runner.stop()
    finally:
        release.set()
        await stuck


def test_cli_serves_and_shuts_down_cleanly_on_sigterm(sqlite_db, tmp_path):
    load(f"sqlite:///{sqlite_db}", reference_dataset())
    port = free_port()
    config = write_config(
        tmp_path,
        f"listen: 127.0.0.1:{port}\ndatabase:\n  url: sqlite:///{sqlite_db}\nreadiness:\n  wait_for: [business]\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--config", str(config), "--log-format", "json"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def ready():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).status == 200
            except OSError:
                return False

        wait_for(ready, 15, message="exporter ready")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        assert 'inventory_on_hand_units{location="wh"} 107.0' in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert '"msg": "shutting down"' in stderr


def test_listen_flag_overrides_config_and_bad_listen_exits_2(tmp_path):
    config = write_config(tmp_path, "host:\n  enabled: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(config), "--listen", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--web.listen-address" in result.stderr and "nonsense" in result.stderr


@pytest.mark.parametrize("path", ["metrics", "/-/ready", "/"])
def test_a_bad_telemetry_path_exits_2(tmp_path, path):
    config = write_config(tmp_path, "host:\n  enabled: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(config), "--web.telemetry-path", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--web.telemetry-path" in result.stderr


def test_the_ecosystems_flags_listen_address_telemetry_path_and_log_format(tmp_path, sqlite_db):
    load(f"sqlite:///{sqlite_db}", reference_dataset())
    port = free_port()
    config = write_config(
        tmp_path, f"listen: 127.0.0.1:1\ndatabase:\n  url: sqlite:///{sqlite_db}\nreadiness:\n  wait_for: [business]\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--config",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--web.telemetry-path",
            "/probe/metrics",
            "--log.format",
            "json",
            "--log.level",
            "debug",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _code(f"{base}/-/ready") == 200, 15, message="exporter ready on the flag's address")
        body = urllib.request.urlopen(f"{base}/probe/metrics", timeout=2).read().decode()
        assert "inventory_on_hand_units" in body
        assert _code(f"{base}/metrics") == 404
        assert 'href="/probe/metrics"' in urllib.request.urlopen(f"{base}/", timeout=2).read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert '"level": "debug"' in stderr  # --log.level debug, written by --log.format json


def _code(url: str) -> int | None:
    try:
        return urllib.request.urlopen(url, timeout=1).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class _StubbornCollector(CollectorBase):
    """Swallows its cancellation once, as a driver call that cannot be interrupted would."""

    name = "stubborn"
    interval = 3600.0
    timeout = 3600.0

    async def collect(self) -> list:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)
        return []

    async def close(self) -> None:
        await asyncio.sleep(3600)


async def test_stop_is_bounded_even_by_a_collector_that_does_not_end(monkeypatch, caplog):
    from exporter import runner as runner_module

    monkeypatch.setattr(runner_module, "STOP_SECONDS", 0.3)
    runner = Runner([_StubbornCollector()])
    await runner.start()
    await asyncio.wait_for(runner.ready.wait(), 5)
    started = time.monotonic()
    await asyncio.wait_for(runner.stop(), 5)
    assert time.monotonic() - started < 2
    assert "collector-stubborn did not stop" in caplog.text and "closing collector stubborn" in caplog.text
