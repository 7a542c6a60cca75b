"""Cost of the customer service-level statements (issue 20) in the business cycle, on the
1M-row benchmark inventory (benchmarks/synthetic.py): alternated cycles of the full
business collector and of the same collector without `service_level` and
`stockout_exposure`, first on the inventory as generated, then with promises and order
lines added.

    .venv/bin/python -m benchmarks.bench_service_level

Prints one table row per data set: cycle without, cycle with, difference, the two
statements' time inside the cycle, and `service_level` alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic import make_inventory
from exporter.collectors.business import BusinessCollector
from exporter.config import BusinessConfig, DatabaseConfig
from exporter.db import Database


def collector(url, with_sl):
    c = BusinessCollector(Database(url, timeout=120), DatabaseConfig(url=url, timeout=120), BusinessConfig())
    if not with_sl:
        del c.statements["service_level"]
        del c.statements["stockout_exposure"]
    return c


def measure(path, rounds=7):
    url = f"sqlite:///{path}"
    cols = {"with": collector(url, True), "without": collector(url, False)}
    cycles = {"with": [], "without": []}
    sl, so = [], []

    async def run():
        for _ in range(rounds):
            for name, col in cols.items():
                t = time.perf_counter()
                fams = await col.collect()
                cycles[name].append(time.perf_counter() - t)
                if name == "with":
                    for f in fams:
                        if f.name == "inventory_exporter_query_duration_seconds":
                            for s in f.samples:
                                if s.labels["query"] == "service_level":
                                    sl.append(s.value)
                                if s.labels["query"] == "stockout_exposure":
                                    so.append(s.value)

    asyncio.run(run())
    w, wo = statistics.median(cycles["with"]), statistics.median(cycles["without"])
    return w, wo, statistics.median(sl), statistics.median(so)


def standalone(path, rounds=5):
    from exporter.db import Dialect
    from exporter.queries import business_statements

    sql = business_statements(Dialect("sqlite"))["service_level"]
    c = sqlite3.connect(path)
    p = {"now": "2026-11-27T17:10:00", "service_level_since": "2026-11-26T17:10:00"}
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        c.execute(sql, p).fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# Every order but the tills' promised a day after creation, fulfilled up to ~2.3 days
# after it; three lines an order, one in seventeen fulfilled orders shipped short.
PROMISES = """UPDATE orders SET
    promised_at = CASE WHEN channel = 'pos' THEN NULL
                       ELSE strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '+1 day') END,
    fulfilled_at = CASE WHEN status = 'fulfilled'
                        THEN strftime('%Y-%m-%dT%H:%M:%SZ', created_at,
                                      '+' || (CAST(substr(id, 2) AS INTEGER) % 200000) || ' seconds') END"""
LINES = """WITH RECURSIVE k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < 3)
    INSERT INTO order_lines (order_id, sku, quantity, fulfilled_quantity)
    SELECT o.id, printf('SKU-%07d', (CAST(substr(o.id, 2) AS INTEGER) * 7 + j) % 250000 + 1), 1 + j,
           CASE WHEN o.status = 'fulfilled' AND CAST(substr(o.id, 2) AS INTEGER) % 17 <> 0 THEN 1 + j
                WHEN o.status IN ('fulfilled', 'backordered') THEN j - 1 ELSE 0 END
    FROM orders o, k"""


def _row(label: str, path: Path) -> str:
    with_, without, in_cycle, exposure = measure(path)
    cells = [f"{without:.3f}", f"{with_:.3f}", f"{(with_ / without - 1) * 100:+.1f} %"]
    cells += [f"{in_cycle:.3f}", f"{exposure:.3f}", f"{standalone(path):.3f}"]
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    print(
        "| data | cycle without (s) | cycle with (s) | difference | service_level in cycle (s) "
        "| stockout_exposure in cycle (s) | service_level alone (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inv.db"
        make_inventory(path, 1_000_000, movements=500_000, orders=100_000)
        print(_row("as generated: 100,000 orders, no promise, no lines", path))
        conn = sqlite3.connect(path)
        conn.execute(PROMISES)
        conn.execute(LINES)
        conn.commit()
        conn.close()
        print(_row("66,667 orders with a promise, 300,000 order lines", path))


if __name__ == "__main__":
    main()
