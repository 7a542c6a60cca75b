"""50,000 quants through Odoo's JSON-2 API against the fake Odoo, as the exporter reads them.

    .venv/bin/python benchmarks/bench_odoo.py [--quants 50000] [--page-size 5000] [--repeats 3]

Builds a SQLite inventory with one SKU per quant at one mapped location (a third of the
SKUs are split by the fake into a lot in the location and one in its child "Shelf 1"),
serves it from demo/fakes/odoo.py (Odoo 19: protocol auto picks JSON-2) in this process,
runs the Odoo integration collector once per repeat and prints the median wall time,
the requests per run and the comparison's result. Target: at most 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from demo.fakes import odoo as odoo_fake  # noqa: E402
from demo.fakes.common import FakeState  # noqa: E402
from exporter.db import Database  # noqa: E402
from exporter.integrations import CONNECTORS  # noqa: E402
from exporter.integrations.collector import IntegrationCollector  # noqa: E402

TOKEN = "odoo-bench-api-key"


def build_db(path: Path, stock: dict[tuple[str, str], tuple[float, float]]) -> None:
    from tests.conftest import SCHEMA  # the reference schema the tests use

    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO locations (id, name, kind) VALUES ('wh-main', 'wh-main', 'warehouse')")
    conn.executemany("INSERT INTO products (sku, name) VALUES (?, ?)", [(sku, sku) for sku, _ in stock])
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) "
        "VALUES (?, 'wh-main', ?, ?, '2026-11-22T00:00:00Z')",
        [(sku, on_hand, reserved) for (sku, _), (on_hand, reserved) in stock.items()],
    )
    conn.commit()
    conn.close()


async def bench(quants: int, page_size: int, repeats: int) -> None:
    stock: dict[tuple[str, str], tuple[float, float]] = {
        (f"SKU-{i:06d}", "8"): (10 + i % 40, i % 3) for i in range(quants)
    }
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "inventory.db"
        build_db(db_path, stock)
        state = FakeState("odoo", TOKEN, {"8": "wh-main"}, stock=stock)
        runner = web.AppRunner(odoo_fake.build_app(state, server_version="19.0"), shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        os.environ["BENCH_ODOO_TOKEN"] = TOKEN
        settings = CONNECTORS["odoo"].Settings.model_validate(
            {
                "name": "odoo",
                "kind": "odoo",
                "url": f"http://{host}:{port}",
                "token_env": "BENCH_ODOO_TOKEN",
                "database": "inventory",
                "username": "exporter",
                "page_size": page_size,
                "timeout": 120,
                "request_timeout": 60,
                "locations": {"8": "wh-main"},
            }
        )
        times, requests, compared, mismatched, protocol = [], 0, 0.0, 0.0, ""
        try:
            for _ in range(repeats):
                collector = IntegrationCollector(
                    settings, CONNECTORS["odoo"], Database(f"sqlite:///{db_path}", timeout=30)
                )
                before = state.vendor_requests
                started = time.perf_counter()
                try:
                    families = await collector.collect()
                finally:
                    await collector.close()
                times.append(time.perf_counter() - started)
                requests = state.vendor_requests - before
                protocol = str(collector.connector.requested_version)
                for family in families:
                    for sample in family.samples:
                        if sample.name == "inventory_integration_compared_skus":
                            compared = sample.value
                        if sample.name == "inventory_integration_stock_mismatch_skus":
                            mismatched = sample.value
        finally:
            await runner.cleanup()
    split = sum(1 for q in odoo_fake._Catalogue(state).quants) - quants
    print("| quants | page_size | protocol | repeats | median s | min s | requests/run | compared | mismatched |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {quants + split} ({quants} SKU-locations, {split} split into a child location) | {page_size} | {protocol} "
        f"| {repeats} | {statistics.median(times):.2f} | {min(times):.2f} | {requests} "
        f"| {compared:.0f} | {mismatched:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quants", type=int, default=50000, help="SKU-locations (quants before the fake's splits)")
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench(args.quants, args.page_size, args.repeats))


if __name__ == "__main__":
    main()
