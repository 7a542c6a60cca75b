"""Stress: the exporter's limits and the API middleware's cost per request.

    .venv/bin/python -m benchmarks.stress [--seconds 10] [--rounds 3] [--max-series 3200000]

1. Series: a synthetic collector (one family, N series over bounded labels) runs in the
   exporter's own Runner and server in a child process pinned to core 0. N doubles from
   25,000 until fetching /metrics takes more than 1 s (median of 3 fetches, plain text
   and gzip, as Prometheus asks); the snapshot render time per collection is reported
   too, since that is where the exporter pays for its series (a scrape only copies bytes).
   Then the slowest scrape while a snapshot renders, with the render in a worker thread
   (the exporter) against the render in the event loop (the reference, as before).
2. Saturation: the real exporter (CLI, business and host collectors on a synthetic
   10,000-row inventory, as benchmarks/bench_metrics_endpoint.py) on core 0, wrk on core 1
   with 10, 50 and 200 connections, plain and gzip: requests per second at saturation.
3. Middleware: one aiohttp app with a trivial JSON handler, served with and without
   servicekit.api_metrics.instrument, on core 0; wrk -c10 on core 1; rounds alternate,
   medians; the overhead per request is 1/rps(with) - 1/rps(without).

The machine is shared and has 2 cores: medians of alternating rounds, ratios before
absolute numbers.
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks.bench_metrics_endpoint import free_port, pinned, wait_ready
from benchmarks.synthetic import make_inventory

ROOT = Path(__file__).resolve().parent.parent

SERIES_SERVER = r"""
import asyncio, concurrent.futures, json, sys, time
from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from exporter.runner import Runner
from exporter.server import build_app
from servicekit.server import SERVER_LIMITS
from servicekit import snapshot as snapshot_module

port, series = int(sys.argv[1]), int(sys.argv[2])
render_mode = sys.argv[3] if len(sys.argv) > 3 else "thread"

class Synthetic:
    # bounded-looking labels as a big estate would have: 4 locations x 50 categories x k buckets
    name, interval, timeout = "synthetic", 3600.0, 3600.0
    families = None
    async def collect(self):
        # Built once: a re-run then costs only the render, which is what is measured.
        if self.families is None:
            family = GaugeMetricFamily("inventory_synthetic_units", "Synthetic series for the stress run.",
                                       labels=["location", "category", "bucket"])
            for i in range(series):
                family.add_metric([f"loc-{i % 4}", f"cat-{(i // 4) % 50}", str(i // 200)], float(i))
            self.families = [family]
        return self.families
    def api_views(self):
        return {}
    async def close(self):
        pass

render_seconds = []
original = snapshot_module.Snapshot.render.__func__
def timed(cls, families):
    started = time.perf_counter()
    result = original(cls, families)
    render_seconds.append(time.perf_counter() - started)
    return result
snapshot_module.Snapshot.render = classmethod(timed)

async def main():
    runner = Runner([Synthetic()], ready_after=["synthetic"])
    if render_mode == "inline":
        # The reference: the exporter before the render moved to a worker thread. The
        # runner's own publish() runs, only its render executor runs the render in place.
        class InPlace(concurrent.futures.Executor):
            def submit(self, fn, *args):
                future = concurrent.futures.Future()
                future.set_result(fn(*args))
                return future
        runner._render_thread = InPlace()
    app = build_app(runner)
    async def render_time(request):
        return web.json_response({"render_seconds": render_seconds[-1], "collect_runs": len(render_seconds)})
    async def rerun(request):
        asyncio.get_running_loop().create_task(runner.run_once(runner.collectors[0]))
        return web.json_response({})
    app.router.add_get("/render", render_time)
    app.router.add_post("/rerun", rerun)
    site_runner = web.AppRunner(app, access_log=None, **SERVER_LIMITS)
    await site_runner.setup()
    await web.TCPSite(site_runner, "127.0.0.1", port).start()
    await runner.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""

MIDDLEWARE_SERVER = r"""
import sys
from aiohttp import web
from servicekit.api_metrics import instrument

port, mode = int(sys.argv[1]), sys.argv[2]

async def product(request):
    return web.json_response({"sku": request.match_info["sku"], "on_hand": 12})

app = web.Application()
app.router.add_get("/products/{sku}", product)
if mode == "instrumented":
    instrument(app)
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
"""


def _fetch_seconds(url: str, gzip: bool) -> tuple[float, int]:
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as resp:
        size = len(resp.read())
    return time.perf_counter() - started, size


def series_limit(max_series: int, log=print) -> list[dict]:
    rows = []
    series = 25_000
    while series <= max_series:
        port = free_port()
        server = subprocess.Popen(pinned(0, [sys.executable, "-c", SERIES_SERVER, str(port), str(series)]), cwd=ROOT)
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready", timeout=600)
            render = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/render", timeout=10))
            plain = [_fetch_seconds(f"http://127.0.0.1:{port}/metrics", False) for _ in range(3)]
            gz = [_fetch_seconds(f"http://127.0.0.1:{port}/metrics", True) for _ in range(3)]
        finally:
            server.terminate()
            server.wait(30)
        row = {
            "series": series,
            "render_s": render["render_seconds"],
            "plain_s": statistics.median(s for s, _ in plain),
            "plain_mb": plain[0][1] / 2**20,
            "gzip_s": statistics.median(s for s, _ in gz),
            "gzip_mb": gz[0][1] / 2**20,
        }
        rows.append(row)
        log(
            f"{series} series: render {row['render_s']:.2f}s, /metrics plain {row['plain_s']:.3f}s "
            f"({row['plain_mb']:.1f} MB), gzip {row['gzip_s']:.3f}s ({row['gzip_mb']:.1f} MB)"
        )
        if max(row["plain_s"], row["gzip_s"]) > 1.0:
            break
        series *= 2
    return rows


def _wrk(url: str, seconds: int, connections: int, gzip: bool = False) -> dict:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    out = subprocess.run(pinned(1, argv + [url]), check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    stdev = re.search(r"Latency\s+\S+\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms(latency["50"]),
        "p90_ms": ms(latency["90"]),
        "p99_ms": ms(latency["99"]),
        "stdev_ms": ms(stdev.group(1)) if stdev else None,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def saturation(seconds: int, rounds: int, log=print) -> dict:
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = make_inventory(tmp / "inv.db", 10_000, movements=10_000, orders=1000)
        port = free_port()
        (tmp / "exporter.yml").write_text(
            f"listen: 127.0.0.1:{port}\ndatabase:\n  url: sqlite:///{db}\n  interval: 1h\nhost:\n  interval: 1h\n"
            # ready once the first runs are served: the benchmark reads their values
            "readiness:\n  wait_for: [host, business, analytics]\n"
        )
        exporter = subprocess.Popen(
            pinned(0, [sys.executable, "-m", "exporter", "--config", str(tmp / "exporter.yml")]),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready")
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
            series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
            for _ in range(rounds):
                for connections in (10, 50, 200):
                    for gzip in (False, True):
                        key = f"c{connections}{' gzip' if gzip else ''}"
                        results.setdefault(key, []).append(
                            _wrk(f"http://127.0.0.1:{port}/metrics", seconds, connections, gzip)
                        )
        finally:
            exporter.terminate()
            exporter.wait(30)
    summary = {"series": series, "bytes": len(body)}
    for key, runs in results.items():
        summary[key] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p90_ms", "p99_ms")}
        summary[key]["stdev_ms"] = statistics.median(r["stdev_ms"] for r in runs if r["stdev_ms"] is not None)
        summary[key]["errors"] = sum(r["errors"] for r in runs)
        summary[key]["socket_errors"] = "; ".join(r["socket_errors"] for r in runs if r["socket_errors"])
        log(
            f"/metrics {key}: {summary[key]['rps']:.0f} req/s, p50 {summary[key]['p50_ms']:.2f} ms, "
            f"p99 {summary[key]['p99_ms']:.2f} ms, stdev {summary[key]['stdev_ms']:.2f} ms"
        )
    return summary


def middleware_overhead(seconds: int, rounds: int, log=print) -> dict:
    runs: dict[str, list[dict]] = {"plain": [], "instrumented": []}
    servers = {}
    try:
        for mode in runs:
            port = free_port()
            servers[mode] = (
                port,
                subprocess.Popen(pinned(0, [sys.executable, "-c", MIDDLEWARE_SERVER, str(port), mode]), cwd=ROOT),
            )
            wait_ready(f"http://127.0.0.1:{port}/products/SKU-1")
        for round_no in range(rounds):
            # alternate which goes first: a neighbour's burst should not always hit the same one
            order = list(servers.items()) if round_no % 2 == 0 else list(reversed(servers.items()))
            for mode, (port, _) in order:
                runs[mode].append(_wrk(f"http://127.0.0.1:{port}/products/SKU-1", seconds, 10))
        status, metrics = 0, ""
        with urllib.request.urlopen(f"http://127.0.0.1:{servers['instrumented'][0]}/metrics") as resp:
            status, metrics = resp.status, resp.read().decode()
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(30)
    assert status == 200 and "inventory_api_requests_total" in metrics, "the middleware did not count"
    out = {}
    for mode, items in runs.items():
        out[mode] = {k: statistics.median(r[k] for r in items) for k in ("rps", "p50_ms", "p99_ms")}
    out["rounds_rps"] = {mode: [round(r["rps"]) for r in items] for mode, items in runs.items()}
    out["overhead_us_per_request"] = (1 / out["instrumented"]["rps"] - 1 / out["plain"]["rps"]) * 1e6
    out["throughput_ratio"] = out["instrumented"]["rps"] / out["plain"]["rps"]
    log(
        f"middleware: plain {out['plain']['rps']:.0f} req/s, instrumented {out['instrumented']['rps']:.0f} req/s, "
        f"{out['overhead_us_per_request']:.0f} us per request ({out['throughput_ratio']:.2f}x)"
    )
    return out


def scrape_during_render(sizes=(100_000, 400_000), rounds: int = 3, log=print) -> list[dict]:
    """The slowest scrape while a snapshot renders: render in the loop vs in a thread.

    Per size and mode: a fresh server, then `rounds` re-collections; during each, gzip
    scrapes back to back for twice the first render's time. Median of the rounds' maxima.
    """
    rows = []
    for series in sizes:
        for mode in ("inline", "thread"):
            port = free_port()
            server = subprocess.Popen(
                pinned(0, [sys.executable, "-c", SERIES_SERVER, str(port), str(series), mode]), cwd=ROOT
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/-/ready", timeout=600)
                first_render = json.load(urllib.request.urlopen(f"{base}/render", timeout=10))["render_seconds"]
                maxima, counts = [], []
                for _ in range(rounds):
                    urllib.request.urlopen(urllib.request.Request(f"{base}/rerun", method="POST"), timeout=10)
                    window_end = time.perf_counter() + 2 * first_render + 0.5
                    latencies = []
                    while time.perf_counter() < window_end:
                        latencies.append(_fetch_seconds(f"{base}/metrics", True)[0])
                    maxima.append(max(latencies))
                    counts.append(len(latencies))
                    time.sleep(0.5)
            finally:
                server.terminate()
                server.wait(30)
            row = {
                "series": series,
                "render": mode,
                "render_s": first_render,
                "max_scrape_s": statistics.median(maxima),
                "maxima": maxima,
                "scrapes": int(statistics.median(counts)),
            }
            rows.append(row)
            log(
                f"{series} series, render {mode}: render {first_render:.2f}s, slowest scrape during it "
                f"{row['max_scrape_s']:.3f}s (rounds {', '.join(f'{m:.3f}' for m in maxima)}; "
                f"{row['scrapes']} scrapes per window)"
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-series", type=int, default=3_200_000)
    parser.add_argument("--only", choices=("series", "render", "saturation", "middleware"), action="append")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    parts = args.only or ["series", "render", "saturation", "middleware"]
    say = lambda line: print(f"[stress] {line}", flush=True)  # noqa: E731
    results: dict = {"cores": os.cpu_count(), "load_at_start": os.getloadavg()}
    if "series" in parts:
        results["series"] = series_limit(args.max_series, say)
    if "render" in parts:
        results["scrape_during_render"] = scrape_during_render(rounds=args.rounds, log=say)
    if "saturation" in parts:
        results["saturation"] = saturation(args.seconds, args.rounds, say)
    if "middleware" in parts:
        results["middleware"] = middleware_overhead(args.seconds, args.rounds, say)
    print(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
