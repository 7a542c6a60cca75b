"""Business collector cycle time and peak memory at 10k, 100k and 1M stock rows (SQLite).

Run: .venv/bin/python -m benchmarks.bench_business [--sizes 10000,100000,1000000] [--repeat 5]
Each size runs in a fresh process, so its peak RSS belongs to that size alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic import make_inventory


def measure(path: str, repeat: int, split: bool) -> dict:
    import exporter.db
    from exporter.collectors.business import BusinessCollector
    from exporter.config import BusinessConfig, DatabaseConfig
    from exporter.db import Database

    if not split:
        exporter.db.PARALLEL_MIN_ROWS = float("inf")
    url = f"sqlite:///{path}"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    collector = BusinessCollector(Database(url, timeout=60), DatabaseConfig(url=url, timeout=60), BusinessConfig())
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        asyncio.run(collector.collect())
        times.append(time.perf_counter() - started)
    return {
        "median_seconds": statistics.median(times),
        "min_seconds": min(times),
        "rss_before_kib": rss_before,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--no-split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat, split=not args.no_split)))
        return
    print("One-core rows: the same cycle with the parallel scan switched off (the reference).\n")
    print("| stock rows | movements | scan | median cycle (s) | min (s) | peak RSS (MiB) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"inv-{size}.db"
            make_inventory(path, size, movements=size // 2, orders=size // 10)
            for mode in ("split", "one core"):
                extra = ["--no-split"] if mode == "one core" else []
                out = subprocess.run([sys.executable, "-m", "benchmarks.bench_business", "--measure", str(path),
                                      "--repeat", str(args.repeat), *extra], check=True, capture_output=True, text=True)
                r = json.loads(out.stdout)
                print(f"| {size:,} | {size // 2:,} | {mode} | {r['median_seconds']:.3f} | {r['min_seconds']:.3f} | "
                      f"{r['peak_rss_kib'] / 1024:.1f} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
