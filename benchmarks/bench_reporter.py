"""Time to build a quarterly report over a Prometheus holding two quarters of the demo's series.

Run: .venv/bin/python -m benchmarks.bench_reporter [--interval 120] [--repeat 3] [--pdf]

The series are the metric set the report reads, with the demo's label sets (the same as
tests/reporter/dataset.py: API requests and latency histogram, alerts, stock, orders,
forecast, integrations, enhancer, host), sampled every --interval seconds from the start
of the previous quarter to the end of the last complete one (about 183 days), written as
OpenMetrics and turned into blocks by promtool. The timed part is what `inventory-report
--period quarterly --format html,json,csv` does: all queries, figures, changes, charts,
rendering and the atomic writes (plus the PDF with --pdf). Median of --repeat runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from reporter.config import parse_config
from reporter.periods import last_complete
from reporter.pipeline import build_once


def series_set() -> list[tuple[str, str, bool]]:
    """(metric name, label text, is_counter) for the demo's series: the dataset's label sets."""
    from tests.reporter.dataset import SERIES

    out = []
    for name, labels in SERIES:
        text = ",".join(f'{k}="{v}"' for k, v in labels)
        out.append((name, text, name.endswith("_total") or name.endswith("_bucket")))
    return out


def value(name: str, index: int, t: int, counter: bool) -> float:
    phase = math.sin(t / 86400 * 2 * math.pi + index)
    if counter:
        return 1000.0 * (index + 1) + t * (index % 5 + 1) * 0.01
    if name == "ALERTS":
        return 1.0
    if name.endswith("_ratio") or "ratio" in name:
        return 0.95 + 0.04 * phase
    if name.endswith("_timestamp_seconds"):
        return float(t - 60)
    return 1000.0 + 100.0 * phase + index


def write_openmetrics(path: Path, start: int, end: int, interval: int) -> int:
    samples = 0
    with path.open("w") as out:
        seen = set()
        for index, (name, labels, counter) in enumerate(series_set()):
            if name not in seen:
                out.write(f"# TYPE {name} gauge\n")
                seen.add(name)
            selector = f"{name}{{{labels}}}"
            # ALERTS only while firing: one hour a day
            times = range(start + 30, end, interval)
            lines = [
                f"{selector} {value(name, index, t, counter):.6g} {t}\n"
                for t in times
                if name not in ("ALERTS", "ALERTS_FOR_STATE") or (t % 86400) < 3600
            ]
            out.writelines(lines)
            samples += len(lines)
        out.write("# EOF\n")
    return samples


def load(work: Path, start: int, end: int, interval: int) -> int:
    """promtool reads its whole input once per 2-hour block, so feed it two days at a time."""
    from concurrent.futures import ThreadPoolExecutor

    chunk = 2 * 86400
    bounds = [(t, min(t + chunk, end)) for t in range(start, end, chunk)]

    def one(index_bounds):
        index, (first, last) = index_bounds
        source = work / f"series-{index:04d}.om.txt"
        count = write_openmetrics(source, first, last, interval)
        subprocess.run(
            ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(work / "tsdb")],
            check=True,
            capture_output=True,
        )
        source.unlink()
        return count

    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(one, enumerate(bounds)))


def wait_for_compaction(url: str, limit: float = 900) -> int:
    """Wait until the block count is steady (Prometheus may merge the 2-hour blocks promtool wrote),
    so a compaction does not run during the timed part."""
    import urllib.request

    def blocks() -> int:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("prometheus_tsdb_blocks_loaded "):
                    return int(float(line.split()[1]))
        return -1

    deadline, last, stable = time.monotonic() + limit, None, 0
    while time.monotonic() < deadline and stable < 3:
        time.sleep(10)
        now = blocks()
        stable = stable + 1 if now == last else 0
        last = now
    return last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=int, default=120, help="seconds between samples")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pdf", action="store_true", help="also print the PDF with Chromium")
    args = parser.parse_args()

    from tests.reporter.conftest import PrometheusServer

    work = Path(tempfile.mkdtemp(prefix="bench-reporter-"))
    try:
        base = parse_config({"timezone": "UTC"})
        quarter = last_complete("quarterly", time.time(), base.tz)
        previous = quarter.previous()
        began = time.monotonic()
        samples = load(work, int(previous.start_ts) - 3600, int(quarter.end_ts), args.interval)
        print(
            f"data: {len(series_set())} series, {samples} samples every {args.interval}s "
            f"from {previous.start:%Y-%m-%d} to {quarter.end:%Y-%m-%d}, loaded in {time.monotonic() - began:.0f}s"
        )
        server = PrometheusServer(work)
        try:
            print(f"blocks loaded when timing starts: {wait_for_compaction(server.url)}")
            config = parse_config(
                yaml.safe_load(
                    yaml.safe_dump(
                        {
                            "prometheus": {"url": server.url, "timeout": "120s"},
                            "timezone": "UTC",
                            "output": {"directory": str(work / "archive")},
                        }
                    )
                )
            )
            formats = ["html", "json", "csv"] + (["pdf"] if args.pdf else [])
            timings = []
            for run in range(args.repeat):
                started = time.monotonic()
                asyncio.run(build_once(config, quarter, formats, work / "archive", send=False))
                timings.append(time.monotonic() - started)
                print(f"run {run + 1}: {timings[-1]:.2f}s")
        finally:
            server.stop()
        print(
            f"quarterly report {quarter.name} ({','.join(formats)}): median {statistics.median(timings):.2f}s "
            f"over {args.repeat} runs"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
