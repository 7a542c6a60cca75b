"""Hand-built inventory datasets for the business collector's tests.

Each dataset is plain rows; `load` writes them into a real SQLite, PostgreSQL or
MySQL/MariaDB database through SQLAlchemy, so the same rows feed all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_ago(hours: float) -> str:
    return iso(datetime.now(UTC) - timedelta(hours=hours))


def load(url: str, tables: dict[str, list[dict]]) -> None:
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    elif url.startswith("mysql://"):
        url = url.replace("mysql://", "mysql+pymysql://", 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        for table, rows in tables.items():
            if not rows:
                continue
            columns = list(rows[0])
            statement = text(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
            )
            conn.execute(statement, rows)
    engine.dispose()


def stock(sku, location, on_hand, reserved=0, reorder_point=None, safety_stock=None):
    return {
        "sku": sku,
        "location_id": location,
        "on_hand": on_hand,
        "reserved": reserved,
        "reorder_point": reorder_point,
        "safety_stock": safety_stock,
        "lead_time_days": None,
        "updated_at": "2026-11-20T08:00:00Z",
    }


def movement(id, sku, location, quantity, kind, source, occurred_at):
    return {
        "id": id,
        "sku": sku,
        "location_id": location,
        "quantity": quantity,
        "kind": kind,
        "source": source,
        "occurred_at": occurred_at,
    }


def sync(id, integration, status, started_at, finished_at, conflicts=0):
    return {
        "id": id,
        "integration": integration,
        "started_at": started_at,
        "finished_at": finished_at,
        "status": status,
        "records": 10,
        "conflicts": conflicts,
        "error": None,
    }


def order(id, channel, status, created_at):
    return {
        "id": id,
        "channel": channel,
        "location_id": None,
        "status": status,
        "created_at": created_at,
        "promised_at": None,
        "fulfilled_at": None,
    }


def reference_dataset() -> dict[str, list[dict]]:
    """Every contract metric's inputs; tests/exporter/test_business.py works out the expected values."""
    return {
        "locations": [
            {"id": "wh", "name": "Warehouse", "kind": "warehouse"},
            {"id": "st", "name": "Store", "kind": "store"},
        ],
        "products": [
            {"sku": "A", "name": "Apple", "category": "fruit", "unit_cost": 2.5, "currency": "USD", "active": 1},
            {"sku": "B", "name": "Bread", "category": "bakery", "unit_cost": 10, "currency": "USD", "active": 1},
            {"sku": "C", "name": "Cheese", "category": "dairy", "unit_cost": 4, "currency": "USD", "active": 1},
            {"sku": "D", "name": "Dates", "category": "fruit", "unit_cost": 1, "currency": "EUR", "active": 1},
            {"sku": "X", "name": "Retired", "category": "old", "unit_cost": 5, "currency": "USD", "active": 0},
        ],
        "stock_levels": [
            stock("A", "wh", 100, reserved=10, reorder_point=20, safety_stock=10),
            stock("A", "st", 5, reorder_point=10, safety_stock=8),
            stock("B", "wh", 0, reorder_point=5),
            stock("B", "st", 3, reserved=5, safety_stock=2),
            stock("D", "wh", 7, reorder_point=7, safety_stock=0),
            stock("X", "wh", 50, reorder_point=100, safety_stock=100),
            stock("C", "st", -3, reorder_point=5, safety_stock=1),
        ],
        "orders": [
            order("o1", "pos", "fulfilled", hours_ago(1)),
            order("o2", "pos", "fulfilled", hours_ago(2)),
            order("o3", "pos", "open", hours_ago(3)),
            order("o4", "pos", "cancelled", hours_ago(1)),
            order("o5", "pos", "fulfilled", hours_ago(30)),
            order("o6", "online", "backordered", hours_ago(5)),
            order("o7", "online", "fulfilled", hours_ago(6)),
            order("o8", "wholesale", "cancelled", hours_ago(2)),
        ],
        "stock_movements": [
            movement(1, "A", "wh", -5, "sale", "pos", "2026-11-21T09:00:00Z"),
            movement(2, "A", "wh", 20, "receipt", "wms", "2026-11-21T10:00:00Z"),
            movement(3, "B", "st", -1, "sale", "shopify", "2026-11-22T14:05:00Z"),
            movement(4, "A", "st", 1, "return", "pos", "2026-11-20T08:00:00+00:00"),
            movement(5, "ZZZ", "wh", -1, "sale", "pos", "2026-11-21T09:30:00Z"),
        ],
        "audit_log": [
            {"id": 1, "movement_id": 1, "actor": "till-1", "action": "sale", "recorded_at": "2026-11-21T09:00:01Z"},
            {"id": 2, "movement_id": 2, "actor": "wms", "action": "receipt", "recorded_at": "2026-11-21T10:00:01Z"},
            {"id": 3, "movement_id": 3, "actor": "shopify", "action": "sale", "recorded_at": "2026-11-22T14:05:01Z"},
        ],
        "integration_syncs": [
            sync(1, "shopify", "success", "2026-11-22T10:00:00Z", "2026-11-22T10:01:00Z", conflicts=2),
            sync(2, "shopify", "failed", "2026-11-22T11:00:00Z", "2026-11-22T11:00:30Z"),
            sync(3, "shopify", "success", "2026-11-22T12:00:00Z", "2026-11-22T12:02:00Z", conflicts=1),
            sync(4, "square", "running", "2026-11-22T12:30:00Z", None),
            sync(5, "square", "success", "2026-11-22T09:00:00Z", "2026-11-22T09:00:45+00:00"),
        ],
    }
