"""Fetch a large catalogue from the fake Shopify under a realistic cost throttle.

    .venv/bin/python benchmarks/bench_shopify_catalogue.py [--sku-locations 50000] [--locations 5]
        [--maximum-available 2000] [--restore-rate 100]

Builds a SQLite inventory with N SKU-locations (N / locations SKUs, each stocked at every
location), starts `python -m demo.fakes.shopify --db` on a free port with the given
leaky bucket (the Standard plan: 100 points/s), drifts 1 SKU-location in 500, and runs
the Shopify integration collector once, as the exporter would. Reports wall time,
requests, THROTTLED answers (the fake's throttle_violations; must be 0), the time the
throttle allows (total actual cost minus the initial bucket, over the restore rate), the
comparison's result and the collector process's peak RSS growth. Prints a markdown table.
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


def control(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{url}/_control", data=data, method="POST" if data else "GET", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_up(url: str, process: subprocess.Popen) -> None:
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


async def run(args: argparse.Namespace, db_url: str, url: str, mapping: dict[str, str]) -> dict:
    integration = CONNECTORS["shopify"].Settings.model_validate(
        {
            "name": "shopify_bench",
            "kind": "shopify",
            "url": url,
            "token_env": "BENCH_SHOPIFY_TOKEN",
            "interval": 3600,
            "timeout": 3600,
            "locations": mapping,
            "page_size": args.page_size,
            "levels_per_item": args.levels,
        }
    )
    collector = IntegrationCollector(integration, CONNECTORS["shopify"], Database(db_url, timeout=60))
    baseline_peak, baseline_now = rss_kib(), current_rss_kib()
    started = time.perf_counter()
    await collector.collect()
    wall = time.perf_counter() - started
    peak = rss_kib()
    comparison = collector.last_comparison
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sku-locations", type=int, default=50000)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--maximum-available", type=float, default=2000)
    parser.add_argument("--restore-rate", type=float, default=100)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--levels", type=int, default=5)
    args = parser.parse_args()

    locations = [f"loc-{j + 1}" for j in range(args.locations)]
    skus = args.sku_locations // args.locations
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
            },
        )
        os.environ["BENCH_SHOPIFY_TOKEN"] = TOKEN
        result = asyncio.run(run(args, f"sqlite:///{db_path}", url, mapping))
        status = control(url)
    finally:
        fake.terminate()
        fake.wait(10)
    items_per_page = args.page_size
    pages = -(-skus // items_per_page)
    actual_cost = pages * 2 + skus * (3 + 3 * min(args.levels, args.locations))
    allowed = max(0.0, (actual_cost + 1 - args.maximum_available) / args.restore_rate)
    rows = [
        ("SKU-locations fetched", f"{args.sku_locations} ({skus} items x {args.locations} locations)"),
        ("throttle", f"maximumAvailable {args.maximum_available:g}, restoreRate {args.restore_rate:g}/s"),
        (
            "page",
            f"{args.page_size} items x {args.levels} levels (requested cost "
            f"{2 + args.page_size * (3 + 3 * args.levels)})",
        ),
        ("requests (probe + pages)", str(result["requests"])),
        ("THROTTLED answers (fake's throttle_violations)", str(status["throttle_violations"])),
        ("total actual cost (points)", str(actual_cost)),
        ("time the throttle allows (s)", f"{allowed:.1f}"),
        ("wall time (s)", f"{result['wall']:.1f}"),
        ("wall / allowed", f"{result['wall'] / allowed:.3f}" if allowed else "n/a"),
        ("fetch success", str(result["fetch_success"])),
        ("compared / mismatched", f"{result['compared']} / {result['mismatched']} (drifted: {len(drift)})"),
        ("accuracy ratio", f"{result['accuracy']:.4f}" if result["accuracy"] is not None else "n/a"),
        ("RSS before the run (MiB)", f"{result['rss_before_mib']:.1f}"),
        ("peak RSS growth during the run (MiB)", f"{result['peak_growth_mib']:.1f}"),
    ]
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
