"""Square quantities are decimal strings, exact and without exponent (InventoryCount.quantity:
"a decimal string ... up to 5 digits after the decimal point"), and the connector compares
them correctly, also at realistic size: a shop of 15,000 variations at 2 locations, in pages
of Square's maximum of 1,000 counts."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal

import pytest
from integration_support import LOCATION_MAPS, make_collector, remote_stock, running_fake, value

from demo.fakes.square import decimal_string

NORTH, SOUTH = LOCATION_MAPS["square"]  # remote ids of store-north, store-south


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (1234567, "1234567"),
        (1234567.0, "1234567"),
        (10**7, "10000000"),
        (123456789012345678, "123456789012345678"),
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),  # 0.30000000000000004: Square keeps 5 decimals
        (1 / 3, "0.33333"),
        (-4, "-4"),
        (-0.0, "0"),
        (0, "0"),
        (1e-7, "0"),
        (Decimal("1E+3"), "1000"),
        ("12.50", "12.50"),  # a string (a test's raw value) goes out as it is
        (None, None),
    ],
)
def test_decimal_string(quantity, text):
    assert decimal_string(quantity) == text


def _set(db_url: str, rows: list[tuple[str, str, float, float]]) -> None:
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    conn.executemany("UPDATE stock_levels SET on_hand = ?, reserved = ? WHERE sku = ? AND location_id = ?", rows)
    conn.commit()
    conn.close()


async def test_large_and_fractional_quantities_compare_equal(inventory_db):
    _set(inventory_db, [(1234567, 0, "SKU-001", "store-north"), (2.5, 0, "SKU-002", "store-north")])
    stock = remote_stock("square")
    stock[("SKU-001", NORTH)] = (1234567, 0)
    stock[("SKU-002", NORTH)] = (2.5, 0)
    stock[("SKU-003", NORTH)] = (1234568, 0)  # the database has a small number: one real mismatch
    async with running_fake("square", stock=stock) as fake:
        collector = make_collector("square", fake.url, inventory_db)
        try:
            families = await collector.collect()
            mismatches = collector.api_views()["mismatches"]
        finally:
            await collector.close()
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_compared_skus", location="store-north") == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location="store-north") == 1
    assert [(m["sku"], m["location"]) for m in mismatches] == [("SKU-003", "store-north")]
    assert value(families, "inventory_integration_accuracy_ratio") == pytest.approx(59 / 60)


SKUS = 15_000


@pytest.fixture
def big_db(sqlite_db) -> str:
    conn = sqlite3.connect(sqlite_db)
    conn.executemany(
        "INSERT INTO locations (id, name, kind) VALUES (?, ?, 'store')",
        [(x, x) for x in LOCATION_MAPS["square"].values()],
    )
    conn.executemany("INSERT INTO products (sku, name) VALUES (?, ?)", [(_sku(i), f"P{i}") for i in range(SKUS)])
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) VALUES (?, ?, ?, ?, '2026-11-22')",
        [(_sku(i), loc, *_level(i, loc)) for i in range(SKUS) for loc in LOCATION_MAPS["square"].values()],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{sqlite_db}"


def _sku(i: int) -> str:
    return f"BIG-{i:06d}"


def _level(i: int, location: str) -> tuple[float, float]:
    if i == 7:
        return 1234567, 0
    if i == 8:
        return 12.25, 0.5
    return 1_000_000 + i * 37 + len(location), i % 4


async def test_fifteen_thousand_variations_in_full_pages(big_db):
    stock = {
        (_sku(i), remote): _level(i, local) for remote, local in LOCATION_MAPS["square"].items() for i in range(SKUS)
    }
    async with running_fake("square", stock=stock) as fake:
        collector = make_collector("square", fake.url, big_db, page_size=1000, timeout=120, request_timeout=30)
        try:
            started = time.monotonic()
            families = await collector.collect()
            elapsed = time.monotonic() - started
        finally:
            await collector.close()
        log = list(fake.state.request_log)
    assert value(families, "inventory_integration_fetch_success") == 1, elapsed
    for local in LOCATION_MAPS["square"].values():
        assert value(families, "inventory_integration_compared_skus", location=local) == SKUS
        assert value(families, "inventory_integration_stock_mismatch_skus", location=local) == 0
    assert value(families, "inventory_integration_accuracy_ratio") == 1.0
    pages = [e for e in log if e["path"] == "/v2/inventory/counts/batch-retrieve"]
    assert len(pages) == 2 * SKUS // 1000
    served = sum(e["bytes"] for e in log)
    assert served >= 5 << 20, served  # over 5 MiB through the connector in one run
    assert min(e["bytes"] for e in pages) >= 150_000  # every counts page is a full 1,000-count page
    assert elapsed < 60, elapsed
