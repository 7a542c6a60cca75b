"""Business collector cycle time and peak memory at 10k, 100k and 1M stock rows (SQLite).

Run: .venv/bin/python -m benchmarks.bench_business [--sizes 10000,100000,1000000] [--repeat 5]
Each size runs in a fresh process, so its peak RSS belongs to that size alone.

Besides the split and one-core scans, each size is measured once more with statement
isolation off (every statement in one transaction that the first failure aborts, as
before issue 14), so the cost of letting statements fail alone is a ratio of one run.
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


def business_collector(path: str, isolate: bool = True):
    """The business collector over a SQLite file; without `isolate`, the reference: every
    statement in one transaction that the first failure aborts, no per-statement timings."""
    from exporter.collectors.business import BusinessCollector
    from exporter.config import BusinessConfig, DatabaseConfig
    from exporter.db import Database

    url = f"sqlite:///{path}"
    collector = BusinessCollector(Database(url, timeout=60), DatabaseConfig(url=url, timeout=60), BusinessConfig())
    if not isolate:
        collector.run_statements = lambda: (  # type: ignore[method-assign]
            collector.database.fetch_all(collector.statements, collector.parameters()),
            {},
            {},
        )
    return collector


def measure(path: str, repeat: int, split: bool, isolate: bool = True) -> dict:
    import exporter.db

    if not split:
        exporter.db.PARALLEL_MIN_ROWS = float("inf")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    collector = business_collector(path, isolate)
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


def compare_isolation(path: str, rounds: int) -> dict:
    """Isolated and one-transaction cycles alternated in one process: on a noisy machine
    the ratio of their medians is steadier than two separate runs."""
    isolated, plain = business_collector(path), business_collector(path, isolate=False)
    times: dict[str, list[float]] = {"isolated": [], "plain": []}

    async def cycles() -> None:
        for _ in range(rounds):
            for name, collector in (("isolated", isolated), ("plain", plain)):
                started = time.perf_counter()
                await collector.collect()
                times[name].append(time.perf_counter() - started)

    asyncio.run(cycles())
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {**medians, "ratio": medians["isolated"] / medians["plain"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--no-split", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-isolation", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--isolation-rounds",
        type=int,
        default=15,
        help="alternated isolated / one-transaction cycles for the isolation ratio",
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat, split=not args.no_split, isolate=not args.no_isolation)))
        return
    print("One-core rows: the same cycle with the parallel scan switched off (the reference).")
    print("No-isolation rows: one transaction that the first failing statement aborts (before issue 14).\n")
    print("| stock rows | movements | scan | median cycle (s) | min (s) | peak RSS (MiB) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    isolation: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"inv-{size}.db"
            make_inventory(path, size, movements=size // 2, orders=size // 10)
            modes = {"split": [], "split, no isolation": ["--no-isolation"], "one core": ["--no-split"]}
            for mode, extra in modes.items():
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_business",
                        "--measure",
                        str(path),
                        "--repeat",
                        str(args.repeat),
                        *extra,
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                r = json.loads(out.stdout)
                print(
                    f"| {size:,} | {size // 2:,} | {mode} | {r['median_seconds']:.3f} | {r['min_seconds']:.3f} | "
                    f"{r['peak_rss_kib'] / 1024:.1f} |",
                    flush=True,
                )
            c = compare_isolation(str(path), args.isolation_rounds)
            isolation.append(f"| {size:,} | {c['isolated']:.3f} | {c['plain']:.3f} | {(c['ratio'] - 1) * 100:+.1f} % |")
            path.unlink()
    print(f"\nStatement isolation, {args.isolation_rounds} alternated cycles each (split scan):\n")
    print("| stock rows | isolated median (s) | one transaction median (s) | cost of isolation |")
    print("| ---: | ---: | ---: | ---: |")
    print("\n".join(isolation))


if __name__ == "__main__":
    main()
