"""Benchmark of one analytics cycle: 100k SKU-locations x 90 days of sales history on SQLite.

    .venv/bin/python benchmarks/bench_analytics.py                 # build (once) and measure
    .venv/bin/python benchmarks/bench_analytics.py --dense         # every SKU-location sells every day

Builds a SQLite database with the reference schema (demo/schema.sql): SKUs x locations
stock levels, `days` days of sale and return movements ending yesterday, open and
received purchase orders with their receipts. It is kept (path printed) and reused
when its parameters match. Then, in a fresh process pinned to one CPU, it times the
whole cycle (SQL + numpy, exporter.analytics.cycle.run_cycle) `runs` times and prints
the median, the SQL / compute split, and the peak resident memory of that process;
then `runs` cycles more with the demand history cached, as the collector runs for the
rest of a day (exporter.analytics.cycle.DemandCache).

Demand mix (default): 30 % fast movers selling on 80 % of days (up to 2 movements a
day), 70 % slow movers selling on 15 % of days; 3 % of sale days see a return.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 6, 1)
# Columns named: the schema has optional columns after these (received_at).
PO_INSERT = "INSERT INTO purchase_orders (id, sku, location_id, quantity, status, created_at, expected_at) VALUES"


def build(path: Path, skus: int, locations: int, days: int, dense: bool, seed: int = 7) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    schema = (ROOT / "demo" / "schema.sql").read_text()
    tables, indexes = [], []
    for statement in schema.split(";"):
        (indexes if "CREATE INDEX" in statement else tables).append(statement)
    conn.executescript(";".join(tables))

    sku_names = [f"SKU-{i:06d}" for i in range(skus)]
    location_names = [f"loc-{j:02d}" for j in range(locations)]
    conn.executemany("INSERT INTO locations VALUES (?, ?, 'store')", [(loc, loc) for loc in location_names])
    conn.executemany("INSERT INTO products (sku, name, unit_cost) VALUES (?, ?, 1.5)", [(s, s) for s in sku_names])
    keys = [(s, loc) for s in sku_names for loc in location_names]
    n = len(keys)
    on_hand = rng.integers(0, 200, n)
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, reorder_point, safety_stock, updated_at) "
        "VALUES (?, ?, ?, 0, ?, ?, '2026-05-31T00:00:00Z')",
        [(s, loc, int(q), 20, 8) for (s, loc), q in zip(keys, on_hand)],
    )

    fast = rng.random(n) < 0.3
    probability = np.ones(n) if dense else np.where(fast, 0.8, 0.15)
    rate = np.where(fast, rng.uniform(3, 15, n), rng.uniform(1, 3, n))
    start = TODAY - timedelta(days=days)
    movements = 0
    for d in range(days):
        stamp = f"{(start + timedelta(days=d)).isoformat()}T"
        sells = np.flatnonzero(rng.random(n) < probability)
        quantity = rng.poisson(rate[sells]) + 1
        twice = fast[sells] & (rng.random(len(sells)) < 0.5)
        returns = rng.random(len(sells)) < 0.03
        rows = [
            (keys[i][0], keys[i][1], -int(q), "sale", "pos", f"{stamp}10:{i % 60:02d}:00Z")
            for i, q in zip(sells.tolist(), quantity.tolist())
        ]
        rows += [(keys[i][0], keys[i][1], -1, "sale", "shopify", f"{stamp}16:00:00Z") for i in sells[twice].tolist()]
        rows += [(keys[i][0], keys[i][1], 1, "return", "pos", f"{stamp}18:00:00Z") for i in sells[returns].tolist()]
        conn.executemany(
            "INSERT INTO stock_movements (sku, location_id, quantity, kind, source, occurred_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        movements += len(rows)

    # Purchase orders: 10 % of series with an open order, 20 % with three received ones and their receipts.
    open_po = np.flatnonzero(rng.random(n) < 0.10)
    conn.executemany(
        f"{PO_INSERT} (?, ?, ?, ?, ?, '2026-05-30T09:00:00Z', NULL)",
        [(f"open-{i}", keys[i][0], keys[i][1], 24, "draft" if i % 2 else "sent") for i in open_po.tolist()],
    )
    received = np.flatnonzero(rng.random(n) < 0.20)
    po_rows, receipt_rows = [], []
    for i in received.tolist():
        for k in range(3):
            created = start + timedelta(days=10 + 25 * k)
            arrived = created + timedelta(days=int(rng.integers(3, 12)))
            po_rows.append(
                (f"rcv-{i}-{k}", keys[i][0], keys[i][1], 48, "received", f"{created.isoformat()}T09:00:00Z", None)
            )
            receipt_rows.append((keys[i][0], keys[i][1], 48, "receipt", "wms", f"{arrived.isoformat()}T14:00:00Z"))
    conn.executemany(
        f"{PO_INSERT} (?, ?, ?, ?, ?, ?, ?)",
        po_rows,
    )
    conn.executemany(
        "INSERT INTO stock_movements (sku, location_id, quantity, kind, source, occurred_at) VALUES (?, ?, ?, ?, ?, ?)",
        receipt_rows,
    )
    conn.commit()
    conn.executescript(";".join(indexes))
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    tmp.rename(path)
    print(
        f"built {path}: {n} SKU-locations, {movements + len(receipt_rows)} movements, "
        f"{len(open_po)} open and {len(po_rows)} received purchase orders",
        flush=True,
    )


def measure(path: Path, days: int, runs: int) -> dict:
    """Runs in its own process: pinned to one CPU so numpy or SQLite cannot use more."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from exporter.analytics.config import AnalyticsConfig
    from exporter.analytics.cycle import DemandCache, run_cycle
    from exporter.db import Database

    config = AnalyticsConfig(history_days=days, accuracy_window_days=min(14, days - 1))
    database = Database(f"sqlite:///{path}", timeout=600)
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    totals, sql, numpy_side = [], [], []
    result = None
    for _ in range(runs):
        timings: dict[str, float] = {}
        started = time.perf_counter()
        result = run_cycle(database, config, TODAY, timings)
        totals.append(time.perf_counter() - started)
        sql.append(timings["sql_seconds"])
        numpy_side.append(timings["compute_seconds"])
    # The collector's steady state within a day: the demand history comes from the cache
    # (one full cycle primes it), only the stock and purchase-order statements run.
    cache = DemandCache(refresh=3600.0)
    run_cycle(database, config, TODAY, cache=cache)
    cached = []
    for _ in range(runs):
        started = time.perf_counter()
        run_cycle(database, config, TODAY, cache=cache)
        cached.append(time.perf_counter() - started)
    database.dispose()
    return {
        "cached_seconds": [round(t, 3) for t in cached],
        "median_cached_seconds": round(statistics.median(cached), 3),
        "runs": runs,
        "seconds": [round(t, 3) for t in totals],
        "median_seconds": round(statistics.median(totals), 3),
        "median_sql_seconds": round(statistics.median(sql), 3),
        "median_compute_seconds": round(statistics.median(numpy_side), 3),
        "series": len(result.series),
        "demand_rows": int((result.demand.values > 0).sum()),
        "recommendations": len(result.recommendations),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_imports_mib": round(baseline_rss / 1024, 1),
        "cpus_used": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dense", action="store_true", help="every SKU-location sells every day")
    parser.add_argument("--db", type=Path, default=None, help="where to keep the generated database")
    parser.add_argument("--measure-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure_only:
        print(json.dumps(measure(args.measure_only, args.days, args.runs)))
        return
    name = f"bench_analytics_{args.skus}x{args.locations}_{args.days}d{'_dense' if args.dense else ''}.db"
    path = args.db or Path(os.environ.get("TMPDIR", "/tmp")) / name
    if not path.exists():
        started = time.perf_counter()
        build(path, args.skus, args.locations, args.days, args.dense)
        print(f"generation took {time.perf_counter() - started:.1f} s", flush=True)
    output = subprocess.run(
        [sys.executable, __file__, "--measure-only", str(path), "--days", str(args.days), "--runs", str(args.runs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(output)
    print(json.dumps(report, indent=2))
    print(
        f"analytics cycle: {report['series']} SKU-locations x {args.days} days, median of {args.runs}: "
        f"{report['median_seconds']} s (SQL {report['median_sql_seconds']} s, numpy "
        f"{report['median_compute_seconds']} s), peak RSS {report['peak_rss_mib']} MiB on 1 CPU; "
        f"with the demand history cached (the rest of the day): {report['median_cached_seconds']} s"
    )


if __name__ == "__main__":
    main()
