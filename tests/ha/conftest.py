"""The HA profile on loopback with the real binaries: two Prometheus replicas built from
deploy/ha/prometheus.yml, an Alertmanager cluster of two gossiping peers, VictoriaMetrics
single-node deduplicating the replicas, a tiny exporter whose series the tests set, and
an aiohttp webhook receiver. Intervals are shortened (1 s scrapes and evaluations) so the
whole package runs in about two minutes; everything is stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from tests.conftest import ROOT, free_port, stop_process

HA_DIR = ROOT / "deploy" / "ha"
SCRAPE_SECONDS = 1  # scrape and evaluation interval of the test replicas
SHORT_FOR = "2s"  # InventoryOutOfStock's `for`, shortened from 1m for the test
VICTORIA = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


def binary(path: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{path} not found: install Debian's {Path(path).name} package (deploy/install-system-deps.sh installs it)"
        )
    return path


def http_json(url: str, data: bytes | None = None, timeout: float = 5.0):
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def http_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    """The value of `name{labels}` in an exposition text, or None."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


# -- processes ---------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    args: list[str]
    ready_url: str
    directory: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> Process:
        log = open(self.directory / f"{self.name}.log", "ab")
        self.popen = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}, cwd=self.directory
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.directory / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None:
            stop_process(self.popen)


# -- the exporter and the receiver -------------------------------------------------------


class TestExporter:
    """Serves /metrics from a dict the test changes: {series text: value}."""

    __test__ = False

    def __init__(self) -> None:
        self.series: dict[str, float] = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                with owner.lock:
                    body = "".join(f"{name} {value:g}\n" for name, value in owner.series.items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, series: str, value: float) -> None:
        with self.lock:
            self.series[series] = value

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: object


@dataclass
class WebhookReceiver:
    """aiohttp on 127.0.0.1 in its own thread; records every request on arrival.

    A POST /actions whose body's target is in `hang_targets` is never answered: the
    enhancer that sent it is, for as long as the test likes, in the middle of an action.
    One whose target is in `delay_targets` is answered 200 after that many seconds.
    """

    url: str = ""
    received: list[Received] = field(default_factory=list)
    hang_targets: set[str] = field(default_factory=set)
    delay_targets: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            self.received.append(Received(time.time(), request.path, dict(request.headers), body))
            if isinstance(body, dict) and body.get("target") in self.hang_targets:
                await asyncio.sleep(3600)
            if isinstance(body, dict) and body.get("target") in self.delay_targets:
                await asyncio.sleep(self.delay_targets[body["target"]])
            return web.json_response({"ok": True})

        async def serve() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handle)
            self.runner = web.AppRunner(app, handler_cancellation=True)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(serve())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10), "webhook receiver did not start"

    def to(self, prefix: str) -> list[Received]:
        return [r for r in list(self.received) if r.path.startswith(prefix)]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# -- configs derived from the shipped files ---------------------------------------------


def prometheus_config(directory: Path, *, alertmanagers: list[str], victoria: str, exporter: str) -> Path:
    """deploy/ha/prometheus.yml with loopback addresses and 1 s intervals; the HA parts
    (external labels from ${REPLICA}, alert and write relabelling, remote_write queue,
    file_sd for the exporter) are the shipped ones."""
    config = yaml.safe_load((HA_DIR / "prometheus.yml").read_text())
    config["global"].update(
        scrape_interval=f"{SCRAPE_SECONDS}s",
        scrape_timeout=f"{SCRAPE_SECONDS}s",
        evaluation_interval=f"{SCRAPE_SECONDS}s",
    )
    rules = directory / "rules"
    rules.mkdir()
    for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        for group in data["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == "InventoryOutOfStock":
                    rule["for"] = SHORT_FOR
        (rules / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    config["rule_files"] = [str(rules / "*.yml")]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": alertmanagers}]}]
    [remote] = config["remote_write"]
    remote["url"] = f"http://{victoria}/api/v1/write"
    remote["queue_config"]["batch_send_deadline"] = "500ms"
    targets = directory / "targets"
    targets.mkdir()
    shipped = yaml.safe_load((HA_DIR / "targets" / "exporters.yml").read_text())
    test_targets = [{"targets": [exporter], "labels": dict(shipped[0]["labels"])}]
    (targets / "exporters.yml").write_text(yaml.safe_dump(test_targets))
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "inventory-exporter"]
    job.update(scrape_interval=f"{SCRAPE_SECONDS}s", scrape_timeout=f"{SCRAPE_SECONDS}s")
    job["file_sd_configs"] = [{"files": [str(targets / "*.yml")], "refresh_interval": "1s"}]
    config["scrape_configs"] = [job]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def alertmanager_config(directory: Path, receiver_url: str) -> Path:
    """The shipped alertmanager.yml (routes, grouping, inhibitions, receivers) with the
    webhooks pointed at the test receiver and the waits shortened."""
    config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())

    def shorten(route: dict) -> None:
        route.update(group_wait="1s", group_interval="1m", repeat_interval="1h")
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = receiver_url + urllib.parse.urlsplit(hook["url"]).path
    (directory / "templates").symlink_to(ROOT / "alertmanager" / "templates")
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# -- the stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    directory: Path
    exporter: TestExporter
    receiver: WebhookReceiver
    victoria: Process
    alertmanagers: dict[str, Process]
    prometheis: dict[str, Process]

    @property
    def victoria_url(self) -> str:
        return self.victoria.ready_url.rsplit("/", 1)[0]

    def vm_query(self, query: str, **params) -> list:
        url = f"{self.victoria_url}/api/v1/query?" + urllib.parse.urlencode({"query": query, **params})
        answer = http_json(url)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]


@pytest.fixture(scope="package")
def stack():
    directory = Path(tempfile.mkdtemp(prefix="inventory-ha-"))
    processes: list[Process] = []
    exporter = TestExporter()
    receiver = WebhookReceiver()
    receiver.start()
    try:
        vm_port = free_port()
        victoria = Process(
            "victoria-metrics",
            [
                binary(VICTORIA),
                f"-storageDataPath={directory / 'vm'}",
                f"-httpListenAddr=127.0.0.1:{vm_port}",
                f"-dedup.minScrapeInterval={SCRAPE_SECONDS}s",
                "-search.latencyOffset=1s",
                "-search.disableCache",
                "-loggerLevel=WARN",
            ],
            f"http://127.0.0.1:{vm_port}/health",
            directory,
        ).start()
        processes.append(victoria)

        am_config = alertmanager_config(directory, receiver.url)
        web_ports = {name: free_port() for name in "ab"}
        cluster_ports = {name: free_port() for name in "ab"}
        alertmanagers = {}
        for name, other in (("a", "b"), ("b", "a")):
            (directory / f"am-{name}").mkdir()
            alertmanagers[name] = Process(
                f"alertmanager-{name}",
                [
                    binary("/usr/bin/prometheus-alertmanager"),
                    f"--config.file={am_config}",
                    f"--storage.path={directory / f'am-{name}'}",
                    f"--web.listen-address=127.0.0.1:{web_ports[name]}",
                    f"--cluster.listen-address=127.0.0.1:{cluster_ports[name]}",
                    f"--cluster.peer=127.0.0.1:{cluster_ports[other]}",
                    # the second peer in the cluster order waits this long for the first's
                    # notification to be gossiped before it sends one itself
                    "--cluster.peer-timeout=2s",
                    "--cluster.pushpull-interval=2s",
                    "--cluster.probe-interval=200ms",
                    "--cluster.probe-timeout=100ms",
                ],
                f"http://127.0.0.1:{web_ports[name]}/-/ready",
                directory,
            )
        for process in alertmanagers.values():
            processes.append(process.start())

        prometheis = {}
        for name in "ab":
            replica_dir = directory / f"prometheus-{name}"
            replica_dir.mkdir()
            config = prometheus_config(
                replica_dir,
                alertmanagers=[f"127.0.0.1:{p}" for p in web_ports.values()],
                victoria=f"127.0.0.1:{vm_port}",
                exporter=exporter.address,
            )
            port = free_port()
            prometheis[name] = Process(
                f"prometheus-{name}",
                [
                    binary("/usr/bin/prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={replica_dir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--enable-feature=expand-external-labels",
                ],
                f"http://127.0.0.1:{port}/-/ready",
                directory,
                env={"REPLICA": name},
            )
            processes.append(prometheis[name].start())
        yield Stack(directory, exporter, receiver, victoria, alertmanagers, prometheis)
    finally:
        for process in reversed(processes):
            process.stop()
        receiver.close()
        exporter.close()
        shutil.rmtree(directory, ignore_errors=True)


def prometheus_url(process: Process) -> str:
    return process.ready_url.rsplit("/-/", 1)[0]
