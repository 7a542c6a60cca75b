"""Issue 18: lead times from each order's own receipt, reorder on the inventory position,
safety stock over lead time plus review period.

Every expected figure is worked out by hand in the comments. Config: constant demand
2/day (so sigma_d = 0 and SES gives d = 2 exactly), default lead time L = 3, review period
R = 5: safety stock 0, reorder point ROP = d L = 6, order-up-to S = d (L + R) = 16.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import date
from statistics import NormalDist

import pytest

from exporter.analytics.config import AnalyticsConfig
from exporter.analytics.cycle import run_cycle
from exporter.analytics.safety_stock import order_up_to_level, safety_stock
from exporter.db import Database
from tests.conftest import SCHEMA
from tests.exporter.analytics import dataset

TODAY = date(2026, 5, 11)
CONFIG = AnalyticsConfig(
    history_days=10,
    accuracy_window_days=4,
    lead_time_days=3,
    lead_time_std_days=0,
    min_lead_time_samples=3,
    review_period_days=5,
    pack_size=1,
)
Z = NormalDist().inv_cdf(0.95)


def _stock(sku, on_hand, reserved=0, location="wh"):
    return {
        "sku": sku,
        "location_id": location,
        "on_hand": on_hand,
        "reserved": reserved,
        "reorder_point": None,
        "safety_stock": None,
        "lead_time_days": None,
        "updated_at": "2026-05-10T00:00:00Z",
    }


def _po(id, sku, quantity, status, created_at, received_at=None):
    row = {
        "id": id,
        "sku": sku,
        "location_id": "wh",
        "quantity": quantity,
        "status": status,
        "created_at": created_at,
        "expected_at": None,
    }
    if received_at is not False:
        row["received_at"] = received_at
    return row


def _receipt(sku, when):
    return (sku, "wh", 10, "receipt", when)


def _tables(stock, purchase_orders=(), receipts=(), orders=(), lines=()):
    skus = sorted({row["sku"] for row in stock})
    movements = [(s, "wh", -2, "sale", dataset.day(i)) for s in skus for i in range(10)] + list(receipts)
    tables = {
        "locations": [{"id": "wh", "name": "Warehouse", "kind": "warehouse"}],
        "products": [
            {"sku": s, "name": s, "category": "t", "unit_cost": 1, "currency": "USD", "active": 1} for s in skus
        ],
        "stock_levels": list(stock),
        "stock_movements": [
            {"id": n + 1, "sku": s, "location_id": loc, "quantity": q, "kind": k, "source": "pos", "occurred_at": t}
            for n, (s, loc, q, k, t) in enumerate(movements)
        ],
        "purchase_orders": list(purchase_orders),
        "orders": list(orders),
        "order_lines": list(lines),
    }
    return {name: rows for name, rows in tables.items() if rows}


def _run(path, tables, config=CONFIG):
    dataset.load(f"sqlite:///{path}", tables)
    database = Database(f"sqlite:///{path}")
    try:
        return run_cycle(database, config, TODAY)
    finally:
        database.dispose()


def _by_sku(result):
    return {sku: i for i, sku in enumerate(result.series.skus)}


def _quantities(result):
    return {v["sku"]: v["quantity"] for v in result.recommendations}


# --- Lead times -------------------------------------------------------------------------


def test_overlapping_orders_each_consume_their_own_receipt(sqlite_db):
    # J: three received orders, created Apr 1, 4 and 20; receipts Apr 6, 11 and 26. FIFO:
    # Apr 1 -> Apr 6 (5 d), Apr 4 -> Apr 11 (7 d; the Apr 6 receipt is taken), Apr 20 -> Apr 26
    # (6 d): L = 6, sigma_L = sample sd of 5, 7, 6 = 1. (First receipt after creation would
    # give 5, 2, 6: L = 4.33.)
    tables = _tables(
        [_stock("J", 100)],
        [
            _po("j1", "J", 10, "received", "2026-04-01T09:00:00Z", False),
            _po("j2", "J", 10, "received", "2026-04-04T09:00:00Z", False),
            _po("j3", "J", 10, "received", "2026-04-20T09:00:00Z", False),
        ],
        [
            _receipt("J", "2026-04-06T09:00:00Z"),
            _receipt("J", "2026-04-11T09:00:00Z"),
            _receipt("J", "2026-04-26T09:00:00Z"),
        ],
    )
    result = _run(sqlite_db, tables)
    j = _by_sku(result)["J"]
    assert result.lead_time.observations[j] == 3
    assert result.lead_time.mean[j] == pytest.approx(6.0)
    assert result.lead_time.std[j] == pytest.approx(1.0)
    assert result.lead_time.source[j] == "observed"
    # SS = z sqrt((L + R) sigma_d^2 + d^2 sigma_L^2) = z sqrt(0 + 4 * 1) = 2 z; ROP = 2 * 6 + 2 z.
    assert result.safety_stock[j] == pytest.approx(2 * Z)
    assert result.reorder_point[j] == pytest.approx(12 + 2 * Z)


def test_orders_from_before_the_window_keep_their_receipts(sqlite_db):
    # Observations: orders created in the last 30 days (from Apr 11). The order of Apr 5 is
    # older, but its receipt (Apr 15) is inside the window; it must not be taken by the
    # order of Apr 12, or every later order would be matched one receipt too early:
    # Apr 12 -> Apr 20 (8 d), Apr 14 -> Apr 25 (11 d), Apr 16 -> Apr 28 (12 d): mean 31/3.
    config = CONFIG.model_copy(update={"lead_time_history_days": 30})
    tables = _tables(
        [_stock("W", 100)],
        [
            _po("w0", "W", 10, "received", "2026-04-05T09:00:00Z", False),
            _po("w1", "W", 10, "received", "2026-04-12T09:00:00Z", False),
            _po("w2", "W", 10, "received", "2026-04-14T09:00:00Z", False),
            _po("w3", "W", 10, "received", "2026-04-16T09:00:00Z", False),
        ],
        [_receipt("W", f"2026-04-{d}T09:00:00Z") for d in (15, 20, 25, 28)],
    )
    result = _run(sqlite_db, tables, config)
    w = _by_sku(result)["W"]
    assert result.lead_time.observations[w] == 3
    assert result.lead_time.mean[w] == pytest.approx(31 / 3)


def test_received_at_is_preferred_when_set(sqlite_db):
    # Q: every order has received_at: 4, 4 and 8 days -> L = 16/3, sigma_L = sqrt(16/3).
    # The stray receipt of Apr 2 would make the first order 1 day by the movements.
    # S: only the second order has received_at (Apr 6, 2 days: it arrived first); it claims
    # the receipt of Apr 6, so the first order is matched to Apr 11 (10 days) and the third
    # to Apr 26 (6 days): L = 6, sigma_L = sample sd of 10, 2, 6 = 4.
    tables = _tables(
        [_stock("Q", 100), _stock("S", 100)],
        [
            _po("q1", "Q", 10, "received", "2026-04-01T08:00:00Z", "2026-04-05T08:00:00Z"),
            _po("q2", "Q", 10, "received", "2026-04-10T08:00:00Z", "2026-04-14T08:00:00Z"),
            _po("q3", "Q", 10, "received", "2026-04-20T08:00:00Z", "2026-04-28T08:00:00Z"),
            _po("s1", "S", 10, "received", "2026-04-01T08:00:00Z", None),
            _po("s2", "S", 10, "received", "2026-04-04T08:00:00Z", "2026-04-06T08:00:00Z"),
            _po("s3", "S", 10, "received", "2026-04-20T08:00:00Z", None),
        ],
        [
            _receipt("Q", "2026-04-02T08:00:00Z"),
            _receipt("S", "2026-04-06T08:00:00Z"),
            _receipt("S", "2026-04-11T08:00:00Z"),
            _receipt("S", "2026-04-26T08:00:00Z"),
        ],
    )
    result = _run(sqlite_db, tables)
    index = _by_sku(result)
    q, s = index["Q"], index["S"]
    assert result.lead_time.observations[q] == 3
    assert result.lead_time.mean[q] == pytest.approx(16 / 3)
    assert result.lead_time.std[q] == pytest.approx(math.sqrt(16 / 3))
    assert result.lead_time.mean[s] == pytest.approx(6.0)
    assert result.lead_time.std[s] == pytest.approx(4.0)


def test_a_schema_without_received_at_matches_receipts(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("\n".join(line for line in SCHEMA.splitlines() if "received_at" not in line))
    conn.close()
    assert "received_at" not in [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(purchase_orders)")]
    tables = _tables(
        [_stock("J", 100)],
        [
            _po("j1", "J", 10, "received", "2026-04-01T09:00:00Z", False),
            _po("j2", "J", 10, "received", "2026-04-04T09:00:00Z", False),
            _po("j3", "J", 10, "received", "2026-04-20T09:00:00Z", False),
        ],
        [
            _receipt("J", "2026-04-06T09:00:00Z"),
            _receipt("J", "2026-04-11T09:00:00Z"),
            _receipt("J", "2026-04-26T09:00:00Z"),
        ],
    )
    result = _run(path, tables)
    assert result.lead_time.mean[0] == pytest.approx(6.0)


# --- Inventory position -----------------------------------------------------------------


def test_stock_on_order_counts_in_the_position(sqlite_db):
    # ROP 6, S 16 for every SKU here.
    # K0: available 4, nothing on order: position 4 <= 6 -> 16 - 4 = 12.
    # K:  available 4, 6 on a sent order: position 10 > 6 -> no order (6 on order means
    #     6 fewer than K0's 12 would still be 6; the position is above the reorder point, so 0).
    # M0: available 0 -> 16.  M: available 0 + 6 on a draft order: position 6 <= 6 -> 10,
    #     i.e. 6 fewer than M0.
    tables = _tables(
        [_stock("K0", 4), _stock("K", 4), _stock("M0", 0), _stock("M", 0)],
        [
            _po("k", "K", 6, "sent", "2026-05-10T09:00:00Z", False),
            _po("m", "M", 6, "draft", "2026-05-10T09:00:00Z", False),
        ],
    )
    result = _run(sqlite_db, tables)
    assert _quantities(result) == {"K0": 12, "M0": 16, "M": 10}
    index = _by_sku(result)
    assert result.position[index["K"]] == 10
    assert result.order_up_to[index["K"]] == pytest.approx(16)


def test_backorders_lower_the_position_without_counting_reserved_twice(sqlite_db):
    # N: on_hand 5, reserved 2 (held for open order o1: 2 units, none shipped); backordered
    #    order o2 wants 4, 1 shipped, 3 owed. Outstanding customer units 2 + 3 = 5, of which
    #    the 2 reserved are already out of `available`: backordered = 5 - 2 = 3.
    #    Position = (5 - 2) + 0 - 3 = 0 -> 16 - 0 = 16 (not 16 - 3 = 13 as from available).
    #    Cancelled and fulfilled orders, and a backorder at another location, do not count.
    # P: a held backorder (the demo API's hold=true when short): wants 5, 2 reserved, none
    #    shipped: outstanding 5, reserved 2 -> backordered 3; position 0 - 3 = -3 -> 19.
    orders = [
        {"id": oid, "channel": "online", "location_id": loc, "status": status, "created_at": "2026-05-09T10:00:00Z"}
        for oid, loc, status in [
            ("o1", "wh", "open"),
            ("o2", "wh", "backordered"),
            ("o3", "wh", "cancelled"),
            ("o4", "wh", "fulfilled"),
            ("o5", "store", "backordered"),
            ("o6", "wh", "backordered"),
        ]
    ]
    lines = [
        {"order_id": oid, "sku": sku, "quantity": q, "fulfilled_quantity": f}
        for oid, sku, q, f in [
            ("o1", "N", 2, 0),
            ("o2", "N", 4, 1),
            ("o3", "N", 10, 0),
            ("o4", "N", 7, 7),
            ("o5", "N", 9, 0),
            ("o6", "P", 5, 0),
        ]
    ]
    tables = _tables([_stock("N", 5, reserved=2), _stock("P", 2, reserved=2)], orders=orders, lines=lines)
    result = _run(sqlite_db, tables)
    assert _quantities(result) == {"N": 16, "P": 19}
    index = _by_sku(result)
    assert result.backordered[index["N"]] == 3
    assert result.backordered[index["P"]] == 3
    n = next(v for v in result.recommendations if v["sku"] == "N")
    assert n["backordered"] == 3 and n["position"] == 0 and n["available"] == 3


# --- Safety stock over lead time plus review period -------------------------------------


def test_published_periodic_review_example():
    # homeworksource.com/p/1110943: review period 1 day, lead time 5 days, daily demand
    # mean 100, sd 30, service level 0.90 (z = 1.2815): sigma over the 6-day protection
    # period = 30 sqrt(6) = 73.47; safety stock = 1.2815 * 73.47 = 94.15 (94 rounded).
    # The page truncates z (1.28155) and sqrt(6) (2.44949 as 2.449); unrounded it is 94.17.
    z = NormalDist().inv_cdf(0.90)
    assert math.floor(z * 1e4) / 1e4 == 1.2815
    assert safety_stock(1.0, 100.0, 30.0, 5.0, 0.0, review_period=1.0) == pytest.approx(73.47, abs=0.02)
    ss = safety_stock(z, 100.0, 30.0, 5.0, 0.0, review_period=1.0)
    assert ss == pytest.approx(94.15, abs=0.03)
    assert round(ss) == 94
    # Order-up-to level = demand over R + L plus safety stock (karlknapp.com periodic
    # review: Q = d(T+L) + z sigma_{T+L} - I): 600 + 94.15.
    assert order_up_to_level(100.0, 5.0, 1.0, ss) == pytest.approx(694.15, abs=0.03)


def test_review_period_raises_safety_stock(sqlite_db):
    # The worked-example dataset's A: sigma_d = 4/3, L = 3, sigma_L = 0. Over L + R with
    # R = 5: SS = z * 4/3 * sqrt(8) = 6.2031; with R = 0: z * 4/3 * sqrt(3) = 3.7986.
    dataset.load(f"sqlite:///{sqlite_db}")
    database = Database(f"sqlite:///{sqlite_db}")
    try:
        weekly = run_cycle(database, dataset.CONFIG, dataset.TODAY)
        continuous = run_cycle(database, dataset.CONFIG.model_copy(update={"review_period_days": 0}), dataset.TODAY)
    finally:
        database.dispose()
    a = weekly.series.skus.index("A")
    assert weekly.safety_stock[a] == pytest.approx(Z * 4 / 3 * math.sqrt(8), abs=1e-9)
    assert weekly.safety_stock[a] == pytest.approx(6.2031, abs=1e-4)
    assert continuous.safety_stock[a] == pytest.approx(Z * 4 / 3 * math.sqrt(3), abs=1e-9)
