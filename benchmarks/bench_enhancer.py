"""One enhancer poll cycle: N rules over M series each, against a real Prometheus.

Run: .venv/bin/python -m benchmarks.bench_enhancer [--rules 100] [--series 100] [--repeat 5]

Every rule has a robust baseline (1h window, 1m step) and a deviation trigger; in each
rule one series spikes, so a cold cycle fetches all baselines and sends N webhooks to a
receiver in its own process. A warm cycle (baselines cached, every spike in cooldown)
is the steady state between refreshes. Wall and CPU time are medians over --repeat
cycles; CPU is the enhancer's process and, separately, Prometheus's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.bench_metrics_endpoint import free_port

HOUR, MINUTE = 3600, 60


def write_series(path: Path, rules: int, series: int, end: int) -> None:
    with path.open("w") as out:
        out.write("# TYPE bench_signal gauge\n")
        for r in range(rules):
            for s in range(series):
                labels = f'bench_signal{{rule="r{r:03d}",series="s{s:03d}"}}'
                for t in range(end - 90 * MINUTE, end + 1, MINUTE):
                    spike = s == 0 and t > end - 10 * MINUTE
                    value = 1000 if spike else 100 + (t // MINUTE * (s + 7)) % 11
                    out.write(f"{labels} {value} {t}\n")
        out.write("# EOF\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, process: subprocess.Popen) -> None:
    import urllib.request

    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} not ready")


def receiver(port: int) -> None:
    from aiohttp import web

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def config_for(prometheus_url: str, receiver_url: str, rules: int, state: str):
    from enhancer.config import parse_config

    return parse_config(
        {
            "prometheus": {"url": prometheus_url, "timeout": "30s"},
            "state": state,
            "allowed_hosts": ["127.0.0.1"],
            "budget": {"per_hour": rules * 10},
            "rules": [
                {
                    "name": f"r{r:03d}",
                    "query": f'bench_signal{{rule="r{r:03d}"}}',
                    "baseline": {"kind": "robust", "window": "1h", "step": "1m", "min_samples": 30, "refresh": "1h"},
                    "trigger": {"kind": "deviation", "k": 3},
                    "action": {"kind": "webhook", "url": f"{receiver_url}/hook", "body": {"series": "{labels.series}"}},
                    "cooldown": "1h",
                }
                for r in range(rules)
            ],
        }
    )


async def measure(prometheus_url: str, receiver_url: str, args, end: int, prom_pid: int, workdir: Path) -> dict:
    from enhancer.actions import ActionSender
    from enhancer.engine import Engine
    from enhancer.state import StateStore
    from servicekit.prometheus import PrometheusClient

    results: dict[str, list[tuple[float, float, float]]] = {"cold": [], "warm": []}
    async with aiohttp.ClientSession() as session:
        for run in range(args.repeat):
            config = config_for(prometheus_url, receiver_url, args.rules, str(workdir / f"state-{run}.db"))
            store = StateStore(config.state)
            client = PrometheusClient(config.prometheus.url, session, timeout=30)
            engine = Engine(config, store, client, ActionSender(config, session), clock=lambda: float(end))
            for phase in ("cold", "warm"):
                prom_cpu = cpu_seconds(prom_pid)
                report = await engine.run_cycle()
                prom_cpu = cpu_seconds(prom_pid) - prom_cpu
                acted = report.outcomes.get("success", 0)
                expected = args.rules if phase == "cold" else 0
                if report.errors or acted != expected:
                    raise SystemExit(f"unexpected cycle: {acted} actions, errors {list(report.errors.items())[:2]}")
                results[phase].append((report.wall_seconds, report.cpu_seconds, prom_cpu))
            store.close()
    return {phase: tuple(statistics.median(column) for column in zip(*rows)) for phase, rows in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver(args.receiver)
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-enhancer-"))
    end = (int(time.time()) // HOUR) * HOUR - 4 * HOUR
    processes = []
    try:
        started = time.perf_counter()
        write_series(workdir / "series.om.txt", args.rules, args.series, end)
        subprocess.run(
            [
                "/usr/bin/promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(workdir / "series.om.txt"),
                str(workdir / "tsdb"),
            ],
            check=True,
        )
        (workdir / "prometheus.yml").write_text("global: {}\n")
        prom_port, receiver_port = free_port(), free_port()
        prometheus = subprocess.Popen(
            [
                "/usr/bin/prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                "--storage.tsdb.retention.time=10y",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(prometheus)
        processes.append(
            subprocess.Popen([sys.executable, "-m", "benchmarks.bench_enhancer", "--receiver", str(receiver_port)])
        )
        prom_url, receiver_url = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{receiver_port}"
        wait_ready(prom_url + "/-/ready", prometheus)
        wait_ready(receiver_url + "/", processes[1])
        setup = time.perf_counter() - started
        medians = asyncio.run(measure(prom_url, receiver_url, args, end, prometheus.pid, workdir))
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"enhancer poll cycle: {args.rules} rules x {args.series} series "
        f"({args.rules * args.series} series), median of {args.repeat} runs; "
        f"Prometheus 2.42 on the same host; {os.cpu_count()} CPUs; setup {setup:.0f}s\n"
    )
    print("| cycle | what it does | wall time | enhancer CPU | Prometheus CPU |")
    print("| --- | --- | ---: | ---: | ---: |")
    what = {
        "cold": f"{args.rules} instant + {args.rules} range queries, {args.rules} webhooks, state writes",
        "warm": f"{args.rules} instant queries, baselines cached, all in cooldown",
    }
    for phase, (wall, cpu, prom_cpu) in medians.items():
        print(f"| {phase} | {what[phase]} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {prom_cpu * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
