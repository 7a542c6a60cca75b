"""/metrics under 10 concurrent clients: the exporter against three references, same run.

The exporter runs for real (CLI, business and host collectors on a synthetic inventory).
Its /metrics output is parsed back into families and served by two references that
expose exactly the same samples:
- prometheus_client.start_http_server: the library's own server (HTTP/1.0 in a thread
  per connection, each connection closed after one answer), serialising per scrape;
- aiohttp + generate_latest: a keep-alive asyncio server serialising the registry per
  scrape, as asyncio exporters (query-exporter's prometheus-aioexporter) serve.
The gap between the two references is connection handling; the gap between the second
and the exporter is the design (a scrape copies bytes rendered once per collection).
And query-exporter 5 (installed into .venv-bench/ on first use) with the business SQL
of the same metrics on the same database: a real exporter in the same niche, whose own
series count is printed beside its figures.

Each server is pinned to core 0 and wrk (10 connections) to core 1; rounds alternate and
medians are reported.

Run: .venv/bin/python -m benchmarks.bench_metrics_endpoint [--seconds 10] [--rounds 3] [--no-query-exporter]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.synthetic import make_inventory

ROOT = Path(__file__).resolve().parent.parent

# The references: the exporter's own /metrics parsed back into families and served from a
# registry, by prometheus_client's start_http_server ("http_server") or by an aiohttp
# keep-alive server calling generate_latest per scrape ("aiohttp").
REFERENCE_SERVER = r"""
import sys, time
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families
port, source, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
families = list(text_string_to_metric_families(open(source).read()))
class Static:
    def collect(self):
        return families
registry = CollectorRegistry()
registry.register(Static())
if mode == "http_server":
    start_http_server(port, addr="127.0.0.1", registry=registry)
    while True:
        time.sleep(3600)
from aiohttp import web
async def metrics(request):
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
app = web.Application()
app.router.add_get("/metrics", metrics)
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
"""

# query-exporter's config: the exporter's business metrics as plain SQL on the same tables.
QUERY_EXPORTER_CONFIG = """
databases:
  inventory:
    dsn: sqlite:///{db}
metrics:
  inventory_skus: {{type: gauge, labels: [location]}}
  inventory_on_hand_units: {{type: gauge, labels: [location]}}
  inventory_available_units: {{type: gauge, labels: [location]}}
  inventory_stock_value: {{type: gauge, labels: [location, currency]}}
  inventory_low_stock_skus: {{type: gauge, labels: [location]}}
  inventory_out_of_stock_skus: {{type: gauge, labels: [location]}}
  inventory_orders: {{type: gauge, labels: [channel, status]}}
  inventory_stock_movements: {{type: gauge, labels: [kind, source]}}
  inventory_audit_unlogged_movements: {{type: gauge}}
queries:
  stock:
    interval: 3600
    databases: [inventory]
    metrics: [inventory_skus, inventory_on_hand_units, inventory_available_units, inventory_low_stock_skus,
              inventory_out_of_stock_skus]
    sql: >
      SELECT location_id AS location, COUNT(*) AS inventory_skus, SUM(on_hand) AS inventory_on_hand_units,
             SUM(on_hand - reserved) AS inventory_available_units,
             SUM(CASE WHEN on_hand - reserved > 0 AND on_hand - reserved <= reorder_point THEN 1 ELSE 0 END)
               AS inventory_low_stock_skus,
             SUM(CASE WHEN on_hand - reserved <= 0 THEN 1 ELSE 0 END) AS inventory_out_of_stock_skus
      FROM stock_levels GROUP BY location_id
  value:
    interval: 3600
    databases: [inventory]
    metrics: [inventory_stock_value]
    sql: >
      SELECT s.location_id AS location, p.currency AS currency, SUM(s.on_hand * p.unit_cost) AS inventory_stock_value
      FROM stock_levels s JOIN products p ON p.sku = s.sku GROUP BY s.location_id, p.currency
  orders:
    interval: 3600
    databases: [inventory]
    metrics: [inventory_orders]
    sql: SELECT channel, status, COUNT(*) AS inventory_orders FROM orders GROUP BY channel, status
  movements:
    interval: 3600
    databases: [inventory]
    metrics: [inventory_stock_movements]
    sql: SELECT kind, source, COUNT(*) AS inventory_stock_movements FROM stock_movements GROUP BY kind, source
  audit:
    interval: 3600
    databases: [inventory]
    metrics: [inventory_audit_unlogged_movements]
    sql: >
      SELECT COUNT(*) AS inventory_audit_unlogged_movements FROM stock_movements m
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.movement_id = m.id)
"""
BENCH_VENV = ROOT / ".venv-bench"


def query_exporter_bin() -> Path:
    """query-exporter in a venv of its own: its pins must not move the project's."""
    binary = BENCH_VENV / "bin" / "query-exporter"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "query-exporter>=5,<6"], check=True)
    return binary


def count_lines(body: bytes) -> tuple[int, int]:
    """(families, samples) of a text exposition: # TYPE lines, and lines that are samples."""
    lines = body.decode().splitlines()
    return sum(1 for x in lines if x.startswith("# TYPE ")), sum(1 for x in lines if x and not x.startswith("#"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def pinned(core: int, argv: list[str]) -> list[str]:
    return (["taskset", "-c", str(core)] + argv) if shutil.which("taskset") and os.cpu_count() > 1 else argv


def _to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int) -> dict:
    out = subprocess.run(
        pinned(1, ["wrk", "-t1", "-c10", f"-d{seconds}s", "--latency", url]), check=True, capture_output=True, text=True
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _to_ms(latency["50"]),
        "p99_ms": _to_ms(latency["99"]),
        "errors": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stock-rows", type=int, default=10000)
    parser.add_argument("--no-query-exporter", action="store_true", help="leave query-exporter out")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does)")

    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = make_inventory(tmp / "inv.db", args.stock_rows, movements=args.stock_rows, orders=1000)
        port = free_port()
        (tmp / "exporter.yml").write_text(
            f"listen: 127.0.0.1:{port}\ndatabase:\n  url: sqlite:///{db}\n  interval: 1h\nhost:\n  interval: 1h\n"
            # ready once the first runs are served: the benchmark reads their values
            "readiness:\n  wait_for: [host, business, analytics]\n"
        )

        def start(argv: list[str]) -> None:
            processes.append(subprocess.Popen(pinned(0, argv), cwd=ROOT, stderr=subprocess.DEVNULL))

        servers: dict[str, str] = {}
        bodies: dict[str, bytes] = {}
        try:
            start([sys.executable, "-m", "exporter", "--config", str(tmp / "exporter.yml")])
            wait_ready(f"http://127.0.0.1:{port}/-/ready")
            servers["inventory-exporter"] = f"http://127.0.0.1:{port}/metrics"
            body = urllib.request.urlopen(servers["inventory-exporter"]).read()
            (tmp / "metrics.txt").write_bytes(body)
            for name, mode in (
                ("prometheus_client start_http_server", "http_server"),
                ("aiohttp + generate_latest (keep-alive)", "aiohttp"),
            ):
                ref_port = free_port()
                start([sys.executable, "-c", REFERENCE_SERVER, str(ref_port), str(tmp / "metrics.txt"), mode])
                servers[name] = f"http://127.0.0.1:{ref_port}/metrics"
                wait_ready(servers[name])
            if not args.no_query_exporter:
                qe_port = free_port()
                (tmp / "qe.yml").write_text(QUERY_EXPORTER_CONFIG.format(db=db))
                start(
                    [str(query_exporter_bin()), "--config", str(tmp / "qe.yml"), "-H", "127.0.0.1", "-p", str(qe_port)]
                )
                servers["query-exporter 5 (same SQL, same DB)"] = f"http://127.0.0.1:{qe_port}/metrics"
                wait_ready(servers["query-exporter 5 (same SQL, same DB)"])
                time.sleep(2)  # its first query run, so its scrapes carry the results
            for name, url in servers.items():
                bodies[name] = urllib.request.urlopen(url).read()
            results: dict[str, list[dict]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, url in servers.items():
                    results[name].append(run_wrk(url, args.seconds))
        finally:
            for process in processes:
                process.terminate()

    print(
        f"wrk -t1 -c10 -d{args.seconds}s, {args.rounds} alternating rounds, medians; servers on core 0, wrk on core 1\n"
    )
    print("| server | families / samples per scrape | bytes | requests/s | p50 (ms) | p99 (ms) | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        errors = sum(r["errors"] for r in runs)
        families, samples = count_lines(bodies[name])
        m = medians[name]
        print(
            f"| {name} | {families} / {samples} | {len(bodies[name])} | {m['rps']:.0f} | {m['p50_ms']:.2f} "
            f"| {m['p99_ms']:.2f} | {errors} |"
        )
    ours = medians["inventory-exporter"]["rps"]
    print()
    for name in medians:
        if name != "inventory-exporter":
            print(f"exporter / {name}: {ours / medians[name]['rps']:.1f}x")


if __name__ == "__main__":
    main()
