"""Fetch a large catalogue from the fake Shopify under a realistic cost throttle, with
the Bulk Operations API and with paged queries.

    .venv/bin/python benchmarks/bench_shopify_catalogue.py [--mode both|bulk|paged]
        [--sku-locations 50000] [--paged-sku-locations 5000] [--locations 5]
        [--maximum-available 2000] [--restore-rate 100]
        [--bulk-start-seconds 2] [--bulk-objects-per-second 1000]

Builds a SQLite inventory with N SKU-locations (N / locations SKUs, each stocked at every
location), starts `python -m demo.fakes.shopify --db` on a free port with the given
leaky bucket (the Standard plan: 2000 points, 100 points/s), drifts 1 SKU-location in
500, and runs the Shopify integration collector once, as the exporter would:

* bulk (`bulk: auto`, above its threshold): one count query, the bulkOperationRunQuery
  mutation, polls, and the JSONL result streamed from the fake's download URL. The fake
  takes `--bulk-start-seconds` to start the operation and processes
  `--bulk-objects-per-second` objects (items and levels), an assumption, not a
  measurement of Shopify;
* paged (`bulk: never`): inventoryItems pages paced by the cost bucket. Its time is set
  by the throttle ((total cost - bucket) / restore rate), so `--mode both` runs it on
  `--paged-sku-locations` and extrapolates to N by that formula times the measured
  wall / allowed ratio; `--mode paged` measures N itself (50,000: about half an hour).

`--mode both` runs each mode in a process of its own, so each peak RSS is its own.

Reports wall time, requests, THROTTLED answers (the fake's throttle_violations; must be
0), the comparison's result and the collector process's peak RSS growth, as markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_metrics_endpoint import free_port  # noqa: E402
from exporter.db import Database  # noqa: E402
from exporter.integrations import CONNECTORS  # noqa: E402
from exporter.integrations.collector import IntegrationCollector  # noqa: E402

TOKEN = "shpat_bench_token"


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def build_db(path: Path, skus: int, locations: list[str]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((ROOT / "demo" / "schema.sql").read_text())
    conn.executemany("INSERT INTO locations VALUES (?, ?, 'store')", [(loc, loc) for loc in locations])
    conn.executemany("INSERT INTO products (sku, name) VALUES (?, ?)", [(f"B{i:06d}", f"P{i}") for i in range(skus)])
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) VALUES (?, ?, ?, ?, ?)",
        [
            (f"B{i:06d}", loc, 3 + (i * 7 + j) % 200, i % 3, "2026-11-22T00:00:00Z")
            for i in range(skus)
            for j, loc in enumerate(locations)
        ],
    )
    conn.commit()
    conn.close()


def control(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{url}/_control", data=data, method="POST" if data else "GET", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the fake Shopify exited")
        try:
            control(url)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the fake Shopify did not start")


async def run(args: argparse.Namespace, db_url: str, url: str, mapping: dict[str, str], mode: str) -> dict[str, Any]:
    integration = CONNECTORS["shopify"].Settings.model_validate(
        {
            "name": "shopify_bench",
            "kind": "shopify",
            "url": url,
            "token_env": "BENCH_SHOPIFY_TOKEN",
            "interval": 3600,
            "timeout": 3600,
            "request_timeout": 60,
            "locations": mapping,
            "page_size": args.page_size,
            "levels_per_item": args.levels,
            "bulk": "auto" if mode == "bulk" else "never",
        }
    )
    collector = IntegrationCollector(integration, CONNECTORS["shopify"], Database(db_url, timeout=60))
    baseline_peak, baseline_now = rss_kib(), current_rss_kib()
    started = time.perf_counter()
    await collector.collect()
    wall = time.perf_counter() - started
    peak = rss_kib()
    comparison = collector.last_comparison
    connector = collector.connector
    await collector.close()
    return {
        "wall": wall,
        "peak_growth_mib": (peak - max(baseline_peak, baseline_now)) / 1024,
        "rss_before_mib": baseline_now / 1024,
        "peak_mib": peak / 1024,
        "fetch_success": collector.fetch_success,
        "requests": sum(collector.stats.by_code.values()),
        "client_throttled": collector.stats.throttled,
        "compared": sum(comparison.compared.values()) if comparison else 0,
        "mismatched": sum(comparison.mismatched.values()) if comparison else 0,
        "accuracy": comparison.accuracy if comparison else None,
        "mode_used": getattr(connector, "last_mode", None),
        "served_version": connector.served_version,
    }


def measure(args: argparse.Namespace, mode: str, sku_locations: int) -> list[tuple[str, str]]:
    locations = [f"loc-{j + 1}" for j in range(args.locations)]
    skus = sku_locations // args.locations
    mapping = {f"gid://shopify/Location/{j + 1}": loc for j, loc in enumerate(locations)}
    workdir = Path(tempfile.mkdtemp(prefix="bench-shopify-"))
    db_path = workdir / "inventory.db"
    build_db(db_path, skus, locations)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demo.fakes.shopify",
            "--port",
            str(port),
            "--db",
            str(db_path),
            "--token",
            TOKEN,
            "--location-map",
            ",".join(f"{k}={v}" for k, v in mapping.items()),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(url, fake)
        drift = {f"B{i:06d}@gid://shopify/Location/{1 + i % args.locations}": 5 for i in range(0, skus, 100)}
        control(
            url,
            {
                "throttle": {"maximum_available": args.maximum_available, "restore_rate": args.restore_rate},
                "drift": drift,
                "vendor": {
                    "bulk_start_seconds": args.bulk_start_seconds,
                    "bulk_objects_per_second": args.bulk_objects_per_second,
                },
            },
        )
        os.environ["BENCH_SHOPIFY_TOKEN"] = TOKEN
        result = asyncio.run(run(args, f"sqlite:///{db_path}", url, mapping, mode))
        status = control(url)
    finally:
        fake.terminate()
        fake.wait(10)
    rows = [
        ("mode (used)", f"{mode} ({result['mode_used']}), API version served {result['served_version']}"),
        ("SKU-locations fetched", f"{sku_locations} ({skus} items x {args.locations} locations)"),
        ("throttle", f"maximumAvailable {args.maximum_available:g}, restoreRate {args.restore_rate:g}/s"),
    ]
    if mode == "paged":
        pages = -(-skus // args.page_size)
        actual_cost = pages * 2 + skus * (3 + 3 * min(args.levels, args.locations))
        allowed = paged_allowed(args, sku_locations)
        rows += [
            (
                "page",
                f"{args.page_size} items x {args.levels} levels (requested cost "
                f"{2 + args.page_size * (3 + 3 * args.levels)})",
            ),
            ("total actual cost (points)", str(actual_cost)),
            ("time the throttle allows (s)", f"{allowed:.1f}"),
        ]
    else:
        bulk_seconds = args.bulk_start_seconds + (skus + sku_locations) / args.bulk_objects_per_second
        rows.append(
            (
                "fake's bulk operation",
                f"starts after {args.bulk_start_seconds:g}s, {args.bulk_objects_per_second:g} objects/s "
                f"({skus + sku_locations} objects: done after {bulk_seconds:.0f}s)",
            )
        )
    rows += [
        ("requests (probe, queries, polls, download)", str(result["requests"])),
        ("THROTTLED answers (fake's throttle_violations)", str(status["throttle_violations"])),
        ("wall time (s)", f"{result['wall']:.1f}"),
        ("fetch success", str(result["fetch_success"])),
        ("compared / mismatched", f"{result['compared']} / {result['mismatched']} (drifted: {len(drift)})"),
        ("accuracy ratio", f"{result['accuracy']:.4f}" if result["accuracy"] is not None else "n/a"),
        ("RSS before the run (MiB)", f"{result['rss_before_mib']:.1f}"),
        ("peak RSS growth during the run (MiB)", f"{result['peak_growth_mib']:.1f}"),
    ]
    return rows


def paged_allowed(args: argparse.Namespace, sku_locations: int) -> float:
    """Seconds the bucket allows for a paged fetch: (total actual cost - bucket) / restore rate."""
    skus = sku_locations // args.locations
    pages = -(-skus // args.page_size)
    actual_cost = pages * 2 + skus * (3 + 3 * min(args.levels, args.locations))
    return float(max(0.0, (actual_cost + 1 - args.maximum_available) / args.restore_rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["both", "bulk", "paged"], default="both")
    parser.add_argument("--sku-locations", type=int, default=50000)
    parser.add_argument("--paged-sku-locations", type=int, default=5000)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--maximum-available", type=float, default=2000)
    parser.add_argument("--restore-rate", type=float, default=100)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--bulk-start-seconds", type=float, default=2.0)
    parser.add_argument("--bulk-objects-per-second", type=float, default=1000.0)
    parser.add_argument("--extrapolate-to", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.mode == "both":
        # Each mode in a process of its own: peak RSS is per process, and the first run's
        # peak would hide the second's growth.
        common: list[str] = []
        skip = False
        for arg in sys.argv[1:]:
            if not skip and arg != "--mode" and not arg.startswith("--mode="):
                common.append(arg)
            skip = arg == "--mode"
        subprocess.run([sys.executable, __file__, *common, "--mode", "bulk"], check=True)
        subprocess.run(
            [
                sys.executable,
                __file__,
                *common,
                "--mode",
                "paged",
                "--sku-locations",
                str(args.paged_sku_locations),
                "--extrapolate-to",
                str(args.sku_locations),
            ],
            check=True,
        )
        return
    rows = measure(args, args.mode, args.sku_locations)
    target = args.extrapolate_to
    if args.mode == "paged" and target and target != args.sku_locations:
        wall = float(dict(rows)["wall time (s)"])
        ratio = wall / paged_allowed(args, args.sku_locations)
        rows.append(
            (
                f"extrapolated to {target} SKU-locations (s)",
                f"{paged_allowed(args, target) * ratio:.0f} (the time the throttle allows for {target}, "
                f"{paged_allowed(args, target):.0f} s, x the measured wall / allowed, {ratio:.3f})",
            )
        )
    print(f"\n{args.mode}:\n\n| measure | value |\n| --- | --- |", flush=True)
    for name, value in rows:
        print(f"| {name} | {value} |", flush=True)


if __name__ == "__main__":
    main()
