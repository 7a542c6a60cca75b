"""Synthetic inventories of any size, generated inside SQLite for speed.

Rows are produced by recursive CTEs in the database itself, so a million stock rows
take seconds, not minutes of Python inserts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = (Path(__file__).resolve().parent.parent / "demo" / "schema.sql").read_text()
LOCATIONS = ("wh-main", "store-north", "store-south", "online")


def make_inventory(path: Path, stock_rows: int, movements: int = 0, orders: int = 0) -> Path:
    """A database in the reference schema with `stock_rows` rows over four locations."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO locations VALUES (?, ?, ?)",
        [(loc, loc, "warehouse" if loc.startswith("wh") else "store") for loc in LOCATIONS],
    )
    products = max(1, stock_rows // len(LOCATIONS))
    conn.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {products})
        INSERT INTO products (sku, name, category, unit_cost, currency, active)
        SELECT printf('SKU-%07d', i), 'product ' || i, 'cat-' || (i % 20), (i % 500) / 10.0 + 0.5,
               CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END, CASE WHEN i % 50 = 0 THEN 0 ELSE 1 END
        FROM n""")
    conn.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {stock_rows - 1})
        INSERT INTO stock_levels (sku, location_id, on_hand, reserved, reorder_point, safety_stock,
                                  lead_time_days, updated_at)
        SELECT printf('SKU-%07d', i / {len(LOCATIONS)} + 1),
               CASE i % {len(LOCATIONS)} WHEN 0 THEN 'wh-main' WHEN 1 THEN 'store-north'
                    WHEN 2 THEN 'store-south' ELSE 'online' END,
               (i * 7919) % 120 - 3, (i * 31) % 5,
               CASE WHEN i % 9 = 0 THEN NULL ELSE 15 END, CASE WHEN i % 7 = 0 THEN NULL ELSE 8 END,
               7, '2026-11-20T08:00:00Z'
        FROM n""")
    if movements:
        conn.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {movements})
            INSERT INTO stock_movements (id, sku, location_id, quantity, kind, source, occurred_at)
            SELECT i, printf('SKU-%07d', i % {products} + 1), 'wh-main', -1 - (i % 3),
                   CASE i % 4 WHEN 0 THEN 'receipt' ELSE 'sale' END,
                   CASE i % 3 WHEN 0 THEN 'pos' WHEN 1 THEN 'shopify' ELSE 'wms' END,
                   strftime('%Y-%m-%dT%H:%M:%SZ', '2026-08-01', '+' || (i % 7776000) || ' seconds')
            FROM n""")
        conn.execute("""
            INSERT INTO audit_log (movement_id, actor, action, recorded_at)
            SELECT id, 'system', kind, occurred_at FROM stock_movements WHERE id % 100 <> 0""")
    if orders:
        conn.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {orders})
            INSERT INTO orders (id, channel, location_id, status, created_at)
            SELECT 'o' || i, CASE i % 3 WHEN 0 THEN 'pos' WHEN 1 THEN 'online' ELSE 'wholesale' END, NULL,
                   CASE WHEN i % 40 = 0 THEN 'backordered' WHEN i % 50 = 0 THEN 'cancelled' ELSE 'fulfilled' END,
                   strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || (i % 172800) || ' seconds')
            FROM n""")
    conn.commit()
    conn.close()
    return path
