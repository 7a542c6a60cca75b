"""Every business metric of the contract, on a hand-built dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from exporter.business_catalogue import REFERENCE_CHECKS
from exporter.collectors.business import BusinessCollector
from exporter.config import BusinessConfig, CustomMetric, DatabaseConfig
from exporter.db import Database
from exporter.queries import MOVEMENT_KINDS
from tests.conftest import SCHEMA
from tests.inventory_data import hours_ago, load, movement, order, reference_dataset, stock, sync


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def samples(families) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value} over every family."""
    out = {}
    for family in families:
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate sample {key}"
            out[key] = s.value
    return out


def of(values: dict, name: str) -> dict[tuple, float]:
    """The samples of one metric, keyed by their label values in alphabetical label-name order."""
    return {tuple(v for _, v in labels): value for (n, labels), value in values.items() if n == name}


async def collect(url: str, **business) -> dict[tuple, float]:
    collector = BusinessCollector(Database(url, timeout=10), DatabaseConfig(url=url), BusinessConfig(**business))
    try:
        return samples(await collector.collect())
    finally:
        await collector.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        sqlite_db = request.getfixturevalue("sqlite_db")
        return f"sqlite:///{sqlite_db}"
    url, _, _ = request.getfixturevalue("postgres_db")
    return url


async def test_every_contract_metric_on_the_reference_dataset(database_url):
    load(database_url, reference_dataset())
    assert_reference_values(await collect(database_url))


async def test_scan_split_across_cores_gives_the_same_figures(sqlite_db, monkeypatch):
    # Big SQLite tables are scanned in rowid ranges on several cores and the partial
    # sums merged; force that path on the small dataset, with an uneven three-way split.
    import exporter.db

    monkeypatch.setattr(exporter.db, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(exporter.db, "_cores", lambda: 3)
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    assert_reference_values(await collect(url))


def assert_reference_values(values: dict) -> None:
    # SKU-locations of active products: wh has A, B, D (X is inactive); st has A, B, C.
    assert of(values, "inventory_skus") == {("st",): 3, ("wh",): 3}
    # on_hand: wh 100 + 0 + 7; st 5 + 3, C's -3 skipped (negative).
    assert of(values, "inventory_on_hand_units") == {("st",): 8, ("wh",): 107}
    # available: wh (100-10) + 0 + 7; st 5 + (3-5), C skipped.
    assert of(values, "inventory_available_units") == {("st",): 3, ("wh",): 97}
    # value, on_hand > 0 only: wh USD A 100*2.5 (B has 0), EUR D 7*1; st USD A 5*2.5 + B 3*10.
    assert of(values, "inventory_stock_value") == {("USD", "wh"): 250.0, ("EUR", "wh"): 7.0, ("USD", "st"): 42.5}
    # low: 0 < available <= reorder_point: wh D (7 <= 7); st A (5 <= 10).
    assert of(values, "inventory_low_stock_skus") == {("st",): 1, ("wh",): 1}
    # out of stock, available <= 0: wh B (0); st B (-2) and C (-3).
    assert of(values, "inventory_out_of_stock_skus") == {("st",): 2, ("wh",): 1}
    # below safety stock: st A (5 < 8), B (-2 < 2), C (-3 < 1); wh none (90 >= 10, D 7 >= 0).
    assert of(values, "inventory_below_safety_stock_skus") == {("st",): 3, ("wh",): 0}

    assert of(values, "inventory_orders") == {
        ("pos", "open"): 1,
        ("pos", "fulfilled"): 3,
        ("pos", "cancelled"): 1,
        ("pos", "backordered"): 0,
        ("online", "open"): 0,
        ("online", "fulfilled"): 1,
        ("online", "cancelled"): 0,
        ("online", "backordered"): 1,
        ("wholesale", "open"): 0,
        ("wholesale", "fulfilled"): 0,
        ("wholesale", "cancelled"): 1,
        ("wholesale", "backordered"): 0,
    }
    # Counters of order rows: every order ever created (any status), and those fulfilled.
    assert of(values, "inventory_orders_created_total") == {("pos",): 5, ("online",): 2, ("wholesale",): 1}
    # wholesale has no fulfilled order yet: 0 from the start, so its first one is counted
    assert of(values, "inventory_orders_fulfilled_total") == {("pos",): 3, ("online",): 1, ("wholesale",): 0}
    # Last 24h, cancelled excluded: pos o1, o2 fulfilled of o1-o3 (o5 is 30h old);
    # online o7 of o6, o7; wholesale has only a cancelled order: absent.
    assert of(values, "inventory_order_fulfillment_ratio") == {("pos",): pytest.approx(2 / 3), ("online",): 0.5}

    # No order has a promise: the service-level counters are 0 for every channel and no
    # ratio is published (tests/exporter/test_service_level.py has the edges); o6 is backordered.
    assert of(values, "inventory_orders_due_total") == {("pos",): 0, ("online",): 0, ("wholesale",): 0}
    assert of(values, "inventory_order_otif_ratio") == {}
    assert of(values, "inventory_backorders") == {("pos",): 0, ("online",): 1, ("wholesale",): 0}
    assert of(values, "inventory_backorder_oldest_age_seconds") == {("online",): pytest.approx(5 * 3600, abs=120)}

    # Every known kind for every source, at 0 until its first movement.
    movements = {(kind, source): 0 for kind in MOVEMENT_KINDS for source in ("pos", "wms", "shopify")}
    movements.update({("sale", "pos"): 2, ("receipt", "wms"): 1, ("sale", "shopify"): 1, ("return", "pos"): 1})
    assert of(values, "inventory_stock_movements_total") == movements
    assert of(values, "inventory_last_stock_movement_timestamp_seconds") == {(): ts("2026-11-22T14:05:00")}
    # Movements 4 and 5 have no audit_log row.
    assert of(values, "inventory_audit_unlogged_movements") == {(): 2}

    # Every status for every integration, at 0 until its first row: square's first failed
    # sync then moves its series from 0 to 1, which increase() counts.
    assert of(values, "inventory_integration_sync_runs_total") == {
        ("shopify", "running"): 0,
        ("shopify", "success"): 2,
        ("shopify", "failed"): 1,
        ("square", "running"): 1,
        ("square", "success"): 1,
        ("square", "failed"): 0,
    }
    assert of(values, "inventory_integration_sync_conflicts_total") == {("shopify",): 3, ("square",): 0}
    assert of(values, "inventory_integration_last_sync_success_timestamp_seconds") == {
        ("shopify",): ts("2026-11-22T12:02:00"),
        ("square",): ts("2026-11-22T09:00:45"),
    }

    quality = of(values, "inventory_data_quality_issues")
    assert set(quality) == {(check,) for check in REFERENCE_CHECKS}
    # C's negative on_hand; B@st has no reorder point; movement 5's SKU ZZZ is unknown.
    nonzero = {check: count for (check,), count in quality.items() if count}
    assert nonzero == {"negative_on_hand": 1, "null_reorder_point": 1, "movements_unknown_sku": 1}


def _dirty_schema() -> str:
    # Real schemas are looser than the reference: costs may be NULL.
    return SCHEMA.replace("unit_cost NUMERIC(18, 6) NOT NULL DEFAULT 0", "unit_cost NUMERIC(18, 6) NULL")


async def test_dirty_rows_are_counted_and_never_change_a_total(tmp_path):
    path = tmp_path / "dirty.db"
    conn = sqlite3.connect(path)
    conn.executescript(_dirty_schema())
    conn.commit()
    conn.close()
    url = f"sqlite:///{path}"
    data = reference_dataset()
    data["products"].append(
        {"sku": "N", "name": "No cost", "category": None, "unit_cost": None, "currency": "USD", "active": 1}
    )
    data["stock_levels"].append(stock("N", "wh", 4, reorder_point=1))
    data["orders"] += [
        order("bad-ts", "pos", "fulfilled", "yesterday"),
        order("bad-status", "pos", "shipped", hours_ago(1)),
    ]
    data["stock_movements"] += [
        # Sorts after every real date as text: must not become the newest movement.
        movement(6, "A", "wh", 1, "adjustment", "manual", "not a date"),
        movement(7, "A", "wh", 1, "teleport", "manual", "2026-11-21T09:00:00Z"),
    ]
    data["integration_syncs"] += [
        sync(6, "shopify", "success", "2026-11-22T13:00:00Z", "garbage"),
        sync(7, "square", "success", "2026-11-22T08:00:00Z", "2026-11-22T07:00:00Z"),
        sync(8, "square", "exploded", "2026-11-22T08:00:00Z", None),
        sync(9, "square", "failed", "2026-11-22T08:00:00Z", "2026-11-22T08:01:00Z", conflicts=-4),
    ]
    load(url, data)
    # A location id that is not valid UTF-8, as legacy imports leave behind.
    raw = sqlite3.connect(path)
    raw.execute(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) "
        "VALUES ('A', CAST(X'73749F' AS TEXT), 2, 0, '2026-11-20T08:00:00Z')"
    )
    raw.commit()
    raw.close()

    values = await collect(url)
    # N (no cost) counts everywhere except the value: wh value is still 250 USD.
    assert of(values, "inventory_stock_value")[("USD", "wh")] == 250.0
    assert of(values, "inventory_on_hand_units")[("wh",)] == 107 + 4
    # The bad-status and bad-timestamp orders do not move the pos ratio.
    assert of(values, "inventory_order_fulfillment_ratio")[("pos",)] == pytest.approx(2 / 3)
    assert of(values, "inventory_orders")[("pos", "fulfilled")] == 4  # "yesterday" still counts by status
    assert of(values, "inventory_last_stock_movement_timestamp_seconds") == {(): ts("2026-11-22T14:05:00")}
    assert ("teleport", "manual") not in of(values, "inventory_stock_movements_total")
    assert of(values, "inventory_integration_last_sync_success_timestamp_seconds")[("shopify",)] == ts(
        "2026-11-22T12:02:00"
    )
    # The sync that finished before it started still counts as a run (it is a row) but is flagged.
    assert of(values, "inventory_integration_sync_runs_total")[("square", "success")] == 2
    assert of(values, "inventory_integration_sync_conflicts_total")[("square",)] == 0
    # The non-UTF-8 location becomes its own series with U+FFFD rather than a crash.
    assert of(values, "inventory_skus")[("st\ufffd",)] == 1

    quality = {check: count for (check,), count in of(values, "inventory_data_quality_issues").items() if count}
    assert quality == {
        "negative_on_hand": 1,
        "null_reorder_point": 2,  # B@st and the non-UTF-8 row
        "null_unit_cost": 1,
        "movements_unknown_sku": 1,
        "unknown_order_status": 1,
        "orders_bad_timestamp": 1,
        "unknown_movement_kind": 1,
        "movements_bad_timestamp": 1,
        "syncs_bad_timestamp": 1,
        "syncs_out_of_order": 1,
        "unknown_sync_status": 1,
        "negative_conflicts": 1,
        "invalid_utf8": 1,
    }


async def test_empty_database_gives_zero_counts_and_no_ratio(database_url):
    values = await collect(database_url)
    assert of(values, "inventory_skus") == {}
    assert of(values, "inventory_order_fulfillment_ratio") == {}
    assert of(values, "inventory_audit_unlogged_movements") == {(): 0}
    assert of(values, "inventory_last_stock_movement_timestamp_seconds") == {}
    assert all(v == 0 for v in of(values, "inventory_data_quality_issues").values())


async def test_fulfillment_window_is_configurable(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    # 48h also takes in o5 (30h old, fulfilled): pos 3 of 4.
    values = await collect(url, fulfillment_window="48h")
    assert of(values, "inventory_order_fulfillment_ratio")[("pos",)] == 0.75


async def test_override_and_custom_metrics_from_config(database_url):
    load(database_url, reference_dataset())
    values = await collect(
        database_url,
        overrides={
            # A user whose "available" also subtracts a safety margin of 1 per row.
            "inventory_available_units": "SELECT location_id AS location, SUM(on_hand - reserved - 1) AS value "
            "FROM stock_levels GROUP BY location_id",
        },
        metrics=[
            CustomMetric(
                name="inventory_products_by_category",
                help="Products per category.",
                labels=["category"],
                sql="SELECT category, COUNT(*) AS value FROM products GROUP BY category",
            )
        ],
    )
    # wh rows: A 90-1, B -1, D 6, X 49 -> 143; st rows: A 4, B -3, C -4 -> -3
    assert of(values, "inventory_available_units") == {("st",): -3, ("wh",): 143}
    assert of(values, "inventory_products_by_category") == {
        ("bakery",): 1,
        ("dairy",): 1,
        ("fruit",): 2,
        ("old",): 1,
    }
    # The rest of the built-in metrics are untouched.
    assert of(values, "inventory_on_hand_units") == {("st",): 8, ("wh",): 107}


async def test_custom_metric_without_value_column_fails_alone_with_its_name(sqlite_db, caplog):
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    values = await collect(url, metrics=[CustomMetric(name="inventory_bad", sql="SELECT 1 AS n")])
    success = of(values, "inventory_exporter_query_success")
    assert success[("business", "inventory_bad")] == 0
    assert all(v == 1 for (_, query), v in success.items() if query != "inventory_bad")
    assert of(values, "inventory_bad") == {}
    assert of(values, "inventory_on_hand_units") == {("st",): 8, ("wh",): 107}
    assert "inventory_bad returns no 'value' column" in caplog.text
