"""A small inventory whose analytics are worked out by hand in test_worked_examples.py.

Today is 2026-05-11; the history is the 10 days 2026-05-01 .. 2026-05-10 (index 0..9).
Every series' daily demand is spelled out below; the rows written to the database are
the movements that produce it (split sales, returns, noise that must be ignored).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import create_engine, text

from exporter.analytics.config import AnalyticsConfig

TODAY = date(2026, 5, 11)
# The collector's clock: the first instant of TODAY (its surge window ends there).
NOW = datetime.combine(TODAY, time(), tzinfo=UTC)

CONFIG = AnalyticsConfig(
    history_days=10,
    accuracy_window_days=4,
    service_level=0.95,
    lead_time_days=3,
    lead_time_std_days=0,
    min_lead_time_samples=3,
    review_period_days=5,
    pack_size=1,
    intermittent_zero_share=0.5,
    ses_alpha=0.5,
    croston_alpha=0.5,
    gap_tolerance_ratio=0.2,
)

# Daily demand the movements below add up to (after the floor at zero).
DAILY_DEMAND = {
    ("A", "wh"): [2, 4, 4, 6, 2, 4, 6, 4, 4, 4],  # regular: SES
    ("B", "wh"): [0, 0, 3, 0, 0, 0, 5, 0, 0, 0],  # intermittent: Croston SBA, stored lead time 6
    ("C", "store"): [0] * 10,  # no history
    ("D", "store"): [3] * 10,  # sold out, open purchase orders
    ("E", "store"): [2] * 10,  # zero lead time
    ("F", "wh"): [0, 0, 0, 0, 0, 2, 0, 0, 0, 0],  # a day whose returns exceed its sales
    ("G", "wh"): [5] * 10,  # lead times observed from received purchase orders: 2, 4, 6 days
}


def day(i: int, time: str = "10:00:00Z") -> str:
    return f"2026-05-{i + 1:02d}T{time}"


def _movements() -> list[dict]:
    rows: list[tuple] = []
    for (sku, location), demand in DAILY_DEMAND.items():
        if sku in ("A", "F"):
            continue  # spelled out below
        for i, units in enumerate(demand):
            if units:
                rows.append((sku, location, -units, "sale", day(i)))
    a = DAILY_DEMAND[("A", "wh")]
    for i, units in enumerate(a):
        if i == 1:  # sold 5, 1 came back: demand 4
            rows += [("A", "wh", -5, "sale", day(i)), ("A", "wh", 1, "return", day(i, "15:00:00+00:00"))]
        elif i == 3:  # two sales the same day: demand 6
            rows += [("A", "wh", -4, "sale", day(i, "08:00:00Z")), ("A", "wh", -2, "sale", day(i, "23:59:59Z"))]
        else:
            rows.append(("A", "wh", -units, "sale", day(i)))
    rows += [
        # Not demand: receipts, adjustments, a sale with the wrong sign, and sales outside the window.
        ("A", "wh", 40, "receipt", day(2)),
        ("A", "wh", -3, "adjustment", day(4)),
        ("A", "wh", 9, "sale", day(5)),
        ("A", "wh", -50, "sale", "2026-04-30T23:59:59Z"),
        ("A", "wh", -50, "sale", "2026-05-11T00:00:00Z"),
        # F: day 3 sold 1 and took back 4 (net -3, floored to 0); day 5 sold 2.
        ("F", "wh", -1, "sale", day(3)),
        ("F", "wh", 4, "return", day(3, "12:00:00Z")),
        ("F", "wh", -2, "sale", day(5)),
        # Skipped and counted: an unknown SKU, and a timestamp that is not a day of the window.
        ("ZZZ", "wh", -1, "sale", day(2)),
        ("A", "wh", -7, "sale", "2026-05-0xT10:00:00Z"),
        # G's receipts: the first after each received purchase order below.
        ("G", "wh", 60, "receipt", "2026-04-03T08:00:00Z"),
        ("G", "wh", 60, "receipt", "2026-04-14T08:00:00Z"),
        ("G", "wh", 60, "receipt", "2026-04-26T08:00:00Z"),
    ]
    # H belongs to an inactive product: its 10 grouped days are counted as unknown series.
    rows += [("H", "wh", -10, "sale", day(i)) for i in range(10)]
    return [
        {
            "id": n + 1,
            "sku": sku,
            "location_id": location,
            "quantity": quantity,
            "kind": kind,
            "source": "pos",
            "occurred_at": occurred,
        }
        for n, (sku, location, quantity, kind, occurred) in enumerate(rows)
    ]


def _stock(sku, location, on_hand, reserved=0, reorder_point=None, safety_stock=None, lead_time_days=None):
    return {
        "sku": sku,
        "location_id": location,
        "on_hand": on_hand,
        "reserved": reserved,
        "reorder_point": reorder_point,
        "safety_stock": safety_stock,
        "lead_time_days": lead_time_days,
        "updated_at": "2026-05-10T00:00:00Z",
    }


def _po(id, sku, location, quantity, status, created_at):
    return {
        "id": id,
        "sku": sku,
        "location_id": location,
        "quantity": quantity,
        "status": status,
        "created_at": created_at,
        "expected_at": None,
    }


def tables() -> dict[str, list[dict]]:
    products = [
        {
            "sku": sku,
            "name": f"Product {sku}",
            "category": "test",
            "unit_cost": 1,
            "currency": "USD",
            "active": 0 if sku == "H" else 1,
        }
        for sku in "ABCDEFGH"
    ]
    return {
        "locations": [
            {"id": "wh", "name": "Warehouse", "kind": "warehouse"},
            {"id": "store", "name": "Store", "kind": "store"},
        ],
        "products": products,
        "stock_levels": [
            _stock("A", "wh", 15, reserved=3, reorder_point=10, safety_stock=4),
            _stock("B", "wh", 10, reorder_point=30, lead_time_days=6),
            _stock("C", "store", 0),
            _stock("D", "store", 0),
            _stock("E", "store", 0, lead_time_days=0),
            _stock("F", "wh", 50),
            _stock("G", "wh", 30, safety_stock=5),
            _stock("H", "wh", 1),
        ],
        "stock_movements": _movements(),
        "purchase_orders": [
            _po("po-d1", "D", "store", 5, "draft", "2026-05-09T09:00:00Z"),
            _po("po-d2", "D", "store", 4, "sent", "2026-05-10T09:00:00Z"),
            _po("po-d3", "D", "store", 100, "received", "2026-05-01T09:00:00Z"),
            _po("po-d4", "D", "store", 50, "cancelled", "2026-05-02T09:00:00Z"),
            _po("po-g1", "G", "wh", 60, "received", "2026-04-01T08:00:00Z"),
            _po("po-g2", "G", "wh", 60, "received", "2026-04-10T08:00:00Z"),
            _po("po-g3", "G", "wh", 60, "received", "2026-04-20T08:00:00Z"),
        ],
    }


def load(url: str, data: dict[str, list[dict]] | None = None) -> None:
    """Write the rows through SQLAlchemy, so the same rows feed SQLite and PostgreSQL."""
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        for table, rows in (data or tables()).items():
            columns = list(rows[0])
            conn.execute(
                text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"), rows
            )
    engine.dispose()
