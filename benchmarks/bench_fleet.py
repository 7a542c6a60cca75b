"""A fleet of stores scraped by one real Prometheus, and the enhancer's leader handover.

Run: .venv/bin/python -m benchmarks.bench_fleet [--stores 100,300] [--interval 5]
                                                [--measure 40] [--handover-trials 3] [--ttl 5]

1. Profile: the real exporter runs on a synthetic store database (benchmarks/synthetic.py,
   four locations) with one real integration (Shopify, against demo/fakes/shopify.py);
   its /metrics is classified into series per location, per integration and per
   exporter instance. That is the series model of docs/scaling.md.
2. Fleet: one HTTP server serves that exporter's real body once per store (location and
   tenant labels rewritten per store, one location per store), every store a target of
   one real Prometheus through file_sd (`__metrics_path__` and `instance` per target).
   For each fleet size, after a warm-up, over `--measure` seconds: Prometheus's CPU
   seconds (from /proc), samples appended per second, head series, and RSS. CPU per
   1,000 target-scrapes is the scrape cost the capacity model extrapolates from.
3. Handover: two real enhancers (`python -m enhancer`) on one PostgreSQL state with
   lease.ttl `--ttl`; the leader is killed with SIGKILL and the time until the standby's
   /metrics says `inventory_enhancer_is_leader 1` is measured, `--handover-trials` times.

Prints one JSON document; docs/scaling.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.bench_metrics_endpoint import free_port
from benchmarks.synthetic import make_inventory

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# -- 1. profile the real exporter ------------------------------------------------------------


def profile_exporter(work: Path) -> dict:
    # 100 SKUs per location: a store-sized catalogue the fake Shopify pages through in one run
    db = make_inventory(work / "store.db", stock_rows=400, movements=2000, orders=500)
    shop_port, exporter_port = free_port(), free_port()
    shopify = start(
        [
            sys.executable,
            "-m",
            "demo.fakes.shopify",
            "--port",
            str(shop_port),
            "--db",
            str(db),
            "--location-map",
            "gid://shopify/Location/1001=online",
        ],
        work / "shopify.log",
    )
    config = work / "exporter.yml"
    config.write_text(
        json.dumps(
            {
                "listen": f"127.0.0.1:{exporter_port}",
                "constant_labels": {"tenant": "store-0"},
                "database": {"url": f"sqlite:///{db}", "interval": "5s"},
                "integrations": [
                    {
                        "name": "shopify",
                        "kind": "shopify",
                        "url": f"http://127.0.0.1:{shop_port}",
                        "token_env": "BENCH_SHOPIFY_TOKEN",
                        "interval": "20s",
                        "timeout": "15s",
                        "locations": {"gid://shopify/Location/1001": "online"},
                    }
                ],
            }
        )
    )
    exporter = start(
        [sys.executable, "-m", "exporter", "--config", str(config)],
        work / "exporter.log",
        env={"BENCH_SHOPIFY_TOKEN": "shpat_demo_0123456789abcdef"},
    )
    try:
        url = f"http://127.0.0.1:{exporter_port}/metrics"
        body = wait(
            lambda: (
                lambda text: (
                    text if "inventory_integration_accuracy_ratio" in text and "inventory_skus{" in text else None
                )
            )(get(url)),
            60,
            "the exporter's first runs",
        )
    finally:
        stop(exporter)
        stop(shopify)
    per_location, per_integration, fixed = {}, {}, {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = sample.labels
            if "integration" in labels or labels.get("collector", "").startswith("integration_"):
                bucket = per_integration
            elif "location" in labels:
                bucket = per_location
            else:
                bucket = fixed
            bucket[family.name] = bucket.get(family.name, 0) + 1
    locations = len(set(re.findall(r'location="([^"]+)"', body)) - {""})
    return {
        "body": body,
        "locations": locations,
        "series_per_location": sum(per_location.values()) / max(locations, 1),
        "series_per_integration": sum(per_integration.values()),
        "series_per_exporter": sum(fixed.values()),
        "total": sum(per_location.values()) + sum(per_integration.values()) + sum(fixed.values()),
    }


def store_body(body: str, store: int) -> bytes:
    """The real exporter body as one store's: its one location and tenant."""
    lines = []
    for line in body.splitlines():
        if 'location="' in line:
            # one location per store: keep the `online` location's series (it has the
            # integration comparison too), renamed to the store
            if 'location="online"' not in line:
                continue
            line = line.replace('location="online"', f'location="store-{store}"')
        lines.append(line.replace('tenant="store-0"', f'tenant="store-{store}"'))
    return ("\n".join(lines) + "\n").encode()


# -- 2. the fleet -----------------------------------------------------------------------------


class FleetServer:
    def __init__(self, body: str, stores: int):
        self.bodies = {f"/store/{i}/metrics": store_body(body, i) for i in range(stores)}
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                payload = bodies.get(self.path)
                if payload is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def measure_fleet(work: Path, body: str, stores: int, interval: int, measure: int) -> dict:
    fleet = FleetServer(body, stores)
    directory = work / f"prom-{stores}"
    directory.mkdir()
    targets = [
        {"targets": [fleet.address], "labels": {"__metrics_path__": f"/store/{i}/metrics", "instance": f"store-{i}"}}
        for i in range(stores)
    ]
    (directory / "targets.json").write_text(json.dumps(targets))
    (directory / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {
                    "scrape_interval": f"{interval}s",
                    "scrape_timeout": f"{interval}s",
                    "evaluation_interval": f"{interval}s",
                },
                "scrape_configs": [
                    {
                        "job_name": "inventory-exporter",
                        "file_sd_configs": [{"files": [str(directory / "targets.json")]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    prometheus = start(
        [
            "/usr/bin/prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        directory / "prometheus.log",
    )
    base = f"http://127.0.0.1:{port}"

    def query(expr: str) -> float:
        answer = json.loads(get(f"{base}/api/v1/query?query={urllib.request.quote(expr)}"))
        result = answer["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def own(name: str) -> float:
        # Prometheus's own counters, read from its /metrics (it does not scrape itself here)
        return sum(
            float(line.split()[-1])
            for line in get(f"{base}/metrics").splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )

    try:
        wait(lambda: get(f"{base}/-/ready"), 30, "prometheus ready")
        wait(lambda: query('count(up{job="inventory-exporter"} == 1)') >= stores, 60, "every store scraped")
        time.sleep(2 * interval)  # series created; steady state from here
        cpu0, appended0, t0 = (
            cpu_seconds(prometheus.pid),
            own("prometheus_tsdb_head_samples_appended_total"),
            time.monotonic(),
        )
        time.sleep(measure)
        cpu1, appended1, t1 = (
            cpu_seconds(prometheus.pid),
            own("prometheus_tsdb_head_samples_appended_total"),
            time.monotonic(),
        )
        elapsed = t1 - t0
        scrapes = stores * elapsed / interval
        result = {
            "stores": stores,
            "scrape_interval_s": interval,
            "measured_s": round(elapsed, 1),
            "head_series": int(own("prometheus_tsdb_head_series")),
            "series_per_store": round(query("sum(scrape_samples_scraped)") / stores, 1),
            "samples_per_second": round((appended1 - appended0) / elapsed),
            "prometheus_cpu_cores": round((cpu1 - cpu0) / elapsed, 3),
            "cpu_seconds_per_1000_target_scrapes": round((cpu1 - cpu0) / scrapes * 1000, 3),
            "prometheus_rss_mib": round(rss_bytes(prometheus.pid) / 2**20),
            "scrape_duration_avg_ms": round(query("avg(scrape_duration_seconds)") * 1000, 2),
        }
    finally:
        stop(prometheus)
        fleet.close()
        shutil.rmtree(directory, ignore_errors=True)
    return result


# -- 3. handover --------------------------------------------------------------------------------


def measure_handover(work: Path, trials: int, ttl: float) -> dict:
    from tests.conftest import PostgresServer  # the tests' throwaway cluster, reused

    server = PostgresServer()
    server.init()
    server.start()
    prom_dir = work / "handover-prom"
    prom_dir.mkdir()
    (prom_dir / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    prom_port = free_port()
    prometheus = start(
        [
            "/usr/bin/prometheus",
            f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        prom_dir / "prometheus.log",
    )
    config = work / "enhancer.yml"
    config.write_text(
        json.dumps(
            {
                "prometheus": {"url": f"http://127.0.0.1:{prom_port}"},
                "poll_interval": "1s",
                "state": server.url(),
                "lease": {"ttl": f"{ttl:g}s"},
                "rules": [],
            }
        )
    )
    processes: list[subprocess.Popen] = []

    def enhancer() -> tuple[subprocess.Popen, str]:
        port = free_port()
        process = start(
            [sys.executable, "-m", "enhancer", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            work / "enhancer.log",
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}/metrics"
        wait(lambda: get(url), 30, "enhancer up")
        return process, url

    def leads(url: str) -> bool:
        return re.search(r"^inventory_enhancer_is_leader 1\.0$", get(url, 1), re.M) is not None

    handovers = []
    try:
        wait(lambda: get(f"http://127.0.0.1:{prom_port}/-/ready"), 30, "prometheus ready")
        leader = enhancer()
        wait(lambda: leads(leader[1]), 30, "a leader")
        standby = enhancer()
        for _ in range(trials):
            time.sleep(ttl / 2)  # a random-ish point between renewals
            leader[0].send_signal(signal.SIGKILL)
            leader[0].wait()
            killed = time.monotonic()
            wait(lambda: leads(standby[1]), 4 * ttl, "the standby leading")  # noqa: B023 - called here
            handovers.append(round(time.monotonic() - killed, 2))
            leader, standby = standby, enhancer()
    finally:
        for process in processes:
            stop(process)
        stop(prometheus)
        server.cleanup()
    return {
        "ttl_s": ttl,
        "renew_interval_s": round(ttl / 3, 2),
        "trials": handovers,
        "median_s": statistics.median(handovers),
        "max_s": max(handovers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="100,300", help="fleet sizes, comma-separated")
    parser.add_argument("--interval", type=int, default=5, help="scrape interval in seconds")
    parser.add_argument("--measure", type=int, default=40, help="seconds measured per fleet size")
    parser.add_argument("--handover-trials", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=5.0, help="enhancer lease TTL for the handover runs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        profile = profile_exporter(work)
        body = profile.pop("body")
        fleets = [measure_fleet(work, body, int(n), args.interval, args.measure) for n in args.stores.split(",")]
        handover = measure_handover(work, args.handover_trials, args.ttl) if args.handover_trials else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {"machine": {"cpus": os.cpu_count()}, "exporter_profile": profile, "fleet": fleets, "handover": handover},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
