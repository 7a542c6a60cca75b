"""A realistic size through the Shopify connector: a bulk JSONL result of more than
5 MB (35,000 SKU-locations) is streamed and compared row for row."""

from __future__ import annotations

import os
import sqlite3

from integration_support import make_collector, running_fake, value

from demo.fakes.shopify import bulk_runs

SKUS = 7000
REMOTES = [f"gid://shopify/Location/{2000 + j}" for j in range(5)]
LOCALS = [f"store-{j}" for j in range(5)]


def quantity(i: int, j: int) -> tuple[int, int]:
    return 5 + (i * 13 + j * 7) % 300, (i + j) % 4


async def test_a_bulk_result_over_5_mb_compares_correctly(sqlite_db):
    conn = sqlite3.connect(sqlite_db)
    conn.executemany("INSERT INTO locations (id, name, kind) VALUES (?, ?, 'store')", [(x, x) for x in LOCALS])
    conn.executemany("INSERT INTO products (sku, name) VALUES (?, ?)", [(f"L{i:06d}", "p") for i in range(SKUS)])
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) VALUES (?, ?, ?, ?, ?)",
        [(f"L{i:06d}", LOCALS[j], *quantity(i, j), "2026-11-22T00:00:00Z") for i in range(SKUS) for j in range(5)],
    )
    conn.commit()
    conn.close()
    stock = {(f"L{i:06d}", REMOTES[j]): quantity(i, j) for i in range(SKUS) for j in range(5)}
    # Every 50th SKU differs, at locations 0, 1, 2, 3, 4 in turn; one SKU is missing at location 0.
    drifted = {f"L{i:06d}@{REMOTES[(i // 50) % 5]}": 3 for i in range(0, SKUS, 50)}
    del stock[("L000001", REMOTES[0])]
    async with running_fake("shopify", stock=stock) as fake:
        fake.state.location_map = dict(zip(REMOTES, LOCALS))
        fake.control(drift=drifted, vendor={"bulk_start_seconds": 0.05, "bulk_objects_per_second": 10**6})
        collector = make_collector(
            "shopify",
            fake.url,
            f"sqlite:///{sqlite_db}",
            locations=dict(zip(REMOTES, LOCALS)),
            bulk_threshold=10000,
            bulk_poll_interval=0.05,
            timeout=120,
            request_timeout=30,
        )
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        [operation] = bulk_runs(fake.state).operations.values()
        size = operation.size
        assert os.path.getsize(operation.result) == size
    assert collector.connector.last_mode == "bulk"
    assert size > 5 * 1024 * 1024, size
    assert value(families, "inventory_integration_fetch_success") == 1
    per_location = len(range(0, SKUS, 50)) // 5  # 140 drifted SKUs, 28 at each location
    for j, local in enumerate(LOCALS):
        assert value(families, "inventory_integration_compared_skus", location=local) == SKUS
        expected = per_location + (1 if j == 0 else 0)  # the missing one compares as remote 0
        assert value(families, "inventory_integration_stock_mismatch_skus", location=local) == expected
    assert value(families, "inventory_integration_accuracy_ratio") == (SKUS * 5 - 141) / (SKUS * 5)
