"""Dirty remote rows (unknown SKUs, unmapped locations, duplicates, negative or
non-numeric quantities, no SKU) are counted by check and skipped; the rest is compared."""

from __future__ import annotations

import pytest
from integration_support import LOCATION_MAPS, make_collector, running_fake, value


def dirty_rows(kind: str) -> list[dict]:
    remote1 = next(iter(LOCATION_MAPS[kind]))
    unmapped = {"shopify": "gid://shopify/Location/999", "square": "LUNKNOWN00099", "odoo": "77", "rest_json": "Z"}[
        kind
    ]
    return [
        {"sku": "GHOST-1", "location": remote1, "quantity": 4},  # unknown_sku
        {"sku": "GHOST-2", "location": remote1, "quantity": 1},  # unknown_sku
        {"sku": "SKU-003", "location": unmapped, "quantity": 9},  # unmapped_location
        {"sku": "SKU-004", "location": remote1, "quantity": 999},  # duplicate_row (listed twice)
        {"sku": "SKU-005", "location": remote1, "quantity": -3},  # bad_quantity once SKU-005 is gone
        {"sku": "SKU-006", "location": remote1, "quantity": "lots"},  # bad_quantity once SKU-006 is gone
        {"sku": None, "location": remote1, "quantity": 2},  # missing_sku
    ]


@pytest.mark.parametrize("kind", ["shopify", "square", "rest_json"])
async def test_dirty_rows_are_counted_and_skipped(kind, inventory_db):
    remote1, local1 = next(iter(LOCATION_MAPS[kind].items()))
    async with running_fake(kind) as fake:
        stock = dict(fake.state.stock)
        # SKU-005 and SKU-006 only come as the bad rows at the first location.
        del stock[("SKU-005", remote1)], stock[("SKU-006", remote1)]
        fake.state.stock = stock
        fake.control(page_size=6, extra_rows=dirty_rows(kind))
        collector = make_collector(kind, fake.url, inventory_db)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    issues = {
        check: value(families, "inventory_integration_data_quality_issues", check=check)
        for check in ("unknown_sku", "unmapped_location", "duplicate_row", "bad_quantity", "missing_sku")
    }
    assert issues == {"unknown_sku": 2, "unmapped_location": 1, "duplicate_row": 1, "bad_quantity": 2, "missing_sku": 1}
    # Everything else still compares: SKU-005/006 are listed (badly), so they are neither
    # compared nor treated as missing; the duplicate's first listing wins.
    assert value(families, "inventory_integration_compared_skus", location=local1) == 28
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 0
    assert value(families, "inventory_integration_accuracy_ratio") == 1.0
    assert value(families, "inventory_integration_fetch_success") == 1


async def test_odoo_dirty_quants(inventory_db):
    async with running_fake("odoo") as fake:
        fake.control(
            extra_rows=[
                {"sku": "GHOST-1", "location": "8", "quantity": 4},
                {"sku": "SKU-003", "location": "77", "quantity": 9},
                {"sku": None, "location": "8", "quantity": 2},
                {"sku": "SKU-007", "location": "21", "quantity": "n/a"},
            ]
        )
        collector = make_collector("odoo", fake.url, inventory_db)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_data_quality_issues", check="unknown_sku") == 1
    # The search_read domain asks for the mapped locations only: location 77 never arrives.
    assert value(families, "inventory_integration_data_quality_issues", check="unmapped_location") == 0
    assert value(families, "inventory_integration_data_quality_issues", check="missing_sku") == 1
    # A non-numeric quant poisons the sum of its product-location: counted, not compared.
    assert value(families, "inventory_integration_data_quality_issues", check="bad_quantity") == 1
    assert value(families, "inventory_integration_compared_skus", location="store-north") == 29


async def test_negative_quantities_allowed_when_configured(inventory_db):
    remote1, local1 = next(iter(LOCATION_MAPS["shopify"].items()))
    async with running_fake("shopify") as fake:
        stock = dict(fake.state.stock)
        del stock[("SKU-005", remote1)]
        fake.state.stock = stock
        fake.control(extra_rows=[{"sku": "SKU-005", "location": remote1, "quantity": -3}])
        collector = make_collector("shopify", fake.url, inventory_db, allow_negative=True)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_data_quality_issues", check="bad_quantity") == 0
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 1
    [mismatch] = collector.api_views()["mismatches"]
    assert mismatch["sku"] == "SKU-005" and mismatch["remote"] == -3


async def test_mismatch_list_keeps_the_largest_differences(inventory_db):
    remote1, local1 = next(iter(LOCATION_MAPS["square"].items()))
    drift = {f"SKU-{i:03d}@{remote1}": i for i in range(1, 31)}  # SKU-n differs by n
    async with running_fake("square") as fake:
        fake.control(drift=drift)
        collector = make_collector("square", fake.url, inventory_db, mismatch_list_size=5)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 30
    assert [m["difference"] for m in collector.api_views()["mismatches"]] == [30, 29, 28, 27, 26]
