"""Soak: 10 concurrent scrapers plus the demo's traffic, memory and latency watched throughout.

    .venv/bin/python -m benchmarks.soak --minutes 30 [--scrapers 10] [--scrape-interval 0.1]
                                        [--skus 3000] [--json out.json]

Starts the whole demo stack (`python -m demo.run --fast` on free ports: seeded database,
simulator traffic with its default fault schedule, fakes, exporter, Prometheus,
Alertmanager, enhancer) and, once it is up, N scraper threads that fetch the exporter's
/metrics back to back with a pause of --scrape-interval, half asking for plain text and
half for gzipped OpenMetrics as Prometheus does, each with a 1 s timeout. Every 5 s the
resident memory (RSS) of the exporter, the enhancer and the demo API is sampled through
psutil, following a process the supervisor restarted. At the end: scrapes, errors by
kind, latency percentiles and standard deviation, RSS at the end of the warm-up (the
first tenth of the run, at most 60 s), at the end, its peak and its slope (least squares,
MB per hour), and the number of supervisor restarts (there should be none).

tests/demo/test_soak.py runs it for one minute in CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.chaos import DemoStack

SCRAPE_TIMEOUT_SECONDS = 1.0
SAMPLE_SECONDS = 5.0
WATCHED = ("exporter", "enhancer", "api")


@dataclass
class SoakResult:
    seconds: float
    scrapers: int
    scrapes: int
    errors: dict[str, int]
    latency_ms: dict[str, float]
    rss_mb: dict[str, dict[str, float]]
    restarts: int
    samples: list[dict] = field(default_factory=list)


def _scraper(
    url: str,
    gzip_openmetrics: bool,
    pause: float,
    stop: threading.Event,
    latencies: list[float],
    errors: dict[str, int],
    lock: threading.Lock,
) -> None:
    headers = (
        {
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "Accept-Encoding": "gzip",
        }
        if gzip_openmetrics
        else {}
    )
    while not stop.is_set():
        started = time.perf_counter()
        outcome = None
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=SCRAPE_TIMEOUT_SECONDS) as resp:
                body = resp.read()
                if resp.status != 200 or not body:
                    outcome = f"http_{resp.status}"
        except urllib.error.HTTPError as exc:
            outcome = f"http_{exc.code}"
        except (TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            outcome = (
                "timeout" if isinstance(reason, TimeoutError) or "timed out" in str(reason) else type(reason).__name__
            )
        elapsed = time.perf_counter() - started
        with lock:
            if outcome is None:
                latencies.append(elapsed)
            else:
                errors[outcome] = errors.get(outcome, 0) + 1
        if pause:
            stop.wait(pause)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _slope_per_hour(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 3600


def run(
    seconds: float,
    scrapers: int = 10,
    scrape_interval: float = 0.1,
    skus: int = 3000,
    workdir: Path | None = None,
    log=print,
) -> SoakResult:
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="soak-")
        workdir = Path(own_tmp.name)
    # the fault suite's stack, with its action receiver unused: port 9 (discard) is never called
    stack = DemoStack(workdir, skus, receiver_port=9, log=log, faults=True)
    stack.enhancer_config = lambda: Path(__file__).resolve().parent.parent / "enhancer" / "enhancer.yml"
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    samples: list[dict] = []
    threads = []
    try:
        stack.start()
        stack.wait(lambda: stack.ready("exporter", "/-/ready"), 60, "the exporter to be ready")
        log(f"demo up on port offset {stack.offset}; soaking for {seconds:.0f}s with {scrapers} scrapers")
        url = stack.urls["exporter"] + "/metrics"
        for i in range(scrapers):
            thread = threading.Thread(
                target=_scraper,
                args=(url, i % 2 == 1, scrape_interval, stop, latencies, errors, lock),
                daemon=True,
                name=f"scraper-{i}",
            )
            thread.start()
            threads.append(thread)
        started = time.monotonic()
        processes: dict[str, psutil.Process] = {}
        while True:
            now = time.monotonic() - started
            sample = {"t": round(now, 1)}
            for name in WATCHED:
                try:
                    pid = stack.pid(name)
                    if name not in processes or processes[name].pid != pid:
                        processes[name] = psutil.Process(pid)
                    sample[name] = processes[name].memory_info().rss / 2**20
                except (KeyError, psutil.Error, OSError, ValueError):
                    sample[name] = None
            samples.append(sample)
            if now >= seconds:
                break
            with lock:
                done = len(latencies)
            if len(samples) % 12 == 0:
                log(
                    f"{now:.0f}s: {done} scrapes, errors {errors}, RSS MB "
                    + ", ".join(f"{n} {sample[n]:.0f}" for n in WATCHED if sample[n] is not None)
                )
            time.sleep(min(SAMPLE_SECONDS, max(0.0, seconds - now)))
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        stack.stop()
    log_text = stack.log_path.read_text(errors="replace")
    restarts = log_text.count("[run] restarting ")
    if own_tmp is not None:
        own_tmp.cleanup()

    ordered = sorted(latencies)
    latency = {
        "p50": 1000 * _percentile(ordered, 0.50),
        "p90": 1000 * _percentile(ordered, 0.90),
        "p99": 1000 * _percentile(ordered, 0.99),
        "max": 1000 * (ordered[-1] if ordered else float("nan")),
        "mean": 1000 * statistics.fmean(ordered) if ordered else float("nan"),
        "stdev": 1000 * statistics.pstdev(ordered) if len(ordered) > 1 else 0.0,
    }
    warmup = min(60.0, seconds / 10)
    rss = {}
    for name in WATCHED:
        points = [(s["t"], s[name]) for s in samples if s.get(name) is not None]
        if not points:
            continue
        after_warmup = [p for p in points if p[0] >= warmup] or points
        rss[name] = {
            "warm": after_warmup[0][1],
            "end": points[-1][1],
            "peak": max(p[1] for p in points),
            "growth": points[-1][1] - after_warmup[0][1],
            "slope_mb_per_hour": _slope_per_hour(after_warmup),
        }
    return SoakResult(elapsed, scrapers, len(latencies) + sum(errors.values()), errors, latency, rss, restarts, samples)


def report(result: SoakResult, scrape_interval: float) -> str:
    lines = [
        f"{result.seconds:.0f} s, {result.scrapers} scrapers (pause {scrape_interval:g} s, timeout "
        f"{SCRAPE_TIMEOUT_SECONDS:g} s): {result.scrapes} scrapes "
        f"({result.scrapes / max(result.seconds, 1):.0f}/s), errors {result.errors or 0}, "
        f"supervisor restarts {result.restarts}",
        "latency ms: " + ", ".join(f"{k} {v:.2f}" for k, v in result.latency_ms.items()),
        "",
        "| process | RSS after warm-up (MB) | at the end | peak | growth | slope (MB/h) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in result.rss_mb.items():
        lines.append(
            f"| {name} | {r['warm']:.1f} | {r['end']:.1f} | {r['peak']:.1f} | {r['growth']:+.1f} | "
            f"{r['slope_mb_per_hour']:+.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--scrapers", type=int, default=10)
    parser.add_argument("--scrape-interval", type=float, default=0.1, help="pause between one scraper's scrapes")
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--json", help="write the result (with every RSS sample) here")
    args = parser.parse_args(argv)
    result = run(
        args.minutes * 60,
        args.scrapers,
        args.scrape_interval,
        args.skus,
        log=lambda line: print(f"[soak] {line}", flush=True),
    )
    print(report(result, args.scrape_interval))
    if args.json:
        Path(args.json).write_text(json.dumps(result.__dict__, indent=1))
    growth = max((r["growth"] for r in result.rss_mb.values()), default=0.0)
    return 0 if not result.errors and growth < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
