"""/metrics under 10 concurrent clients: the exporter vs prometheus_client's start_http_server.

Both serve the same metric families. The exporter runs for real (CLI, business and host
collectors on a synthetic inventory); its /metrics output is parsed back into families
and served by prometheus_client.start_http_server from a registry, the reference. Each
server is pinned to core 0 and wrk (10 connections) to core 1; rounds alternate and
medians are reported.

Run: .venv/bin/python -m benchmarks.bench_metrics_endpoint [--seconds 10] [--rounds 3]
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

REFERENCE_SERVER = r"""
import sys, time
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(open(sys.argv[2]).read()))
class Static:
    def collect(self):
        return families
registry = CollectorRegistry()
registry.register(Static())
start_http_server(int(sys.argv[1]), addr="127.0.0.1", registry=registry)
while True:
    time.sleep(3600)
"""


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
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = make_inventory(tmp / "inv.db", args.stock_rows, movements=args.stock_rows, orders=1000)
        port = free_port()
        (tmp / "exporter.yml").write_text(
            f"listen: 127.0.0.1:{port}\ndatabase:\n  url: sqlite:///{db}\n  interval: 1h\nhost:\n  interval: 1h\n"
        )
        exporter = subprocess.Popen(
            pinned(0, [sys.executable, "-m", "exporter", "--config", str(tmp / "exporter.yml")]),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        ref_port = free_port()
        reference = None
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready")
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
            (tmp / "metrics.txt").write_bytes(body)
            series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
            reference = subprocess.Popen(
                pinned(0, [sys.executable, "-c", REFERENCE_SERVER, str(ref_port), str(tmp / "metrics.txt")]), cwd=ROOT
            )
            wait_ready(f"http://127.0.0.1:{ref_port}/metrics")
            results = {"exporter": [], "prometheus_client": []}
            for _ in range(args.rounds):
                results["exporter"].append(run_wrk(f"http://127.0.0.1:{port}/metrics", args.seconds))
                results["prometheus_client"].append(run_wrk(f"http://127.0.0.1:{ref_port}/metrics", args.seconds))
        finally:
            exporter.terminate()
            if reference:
                reference.terminate()

    print(
        f"{series} series, {len(body)} bytes per scrape; wrk -t1 -c10 -d{args.seconds}s, "
        f"{args.rounds} alternating rounds, medians; servers on core 0, wrk on core 1\n"
    )
    print("| server | requests/s | p50 (ms) | p99 (ms) | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: |")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        errors = sum(r["errors"] for r in runs)
        m = medians[name]
        print(f"| {name} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {errors} |")
    ratio = medians["exporter"]["rps"] / medians["prometheus_client"]["rps"]
    print(f"\nthroughput ratio exporter / prometheus_client: {ratio:.1f}x")


if __name__ == "__main__":
    main()
