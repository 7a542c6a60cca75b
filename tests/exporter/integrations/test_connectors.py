"""Each connector against its fake over several pages with drift injected; the expected
mismatch counts, accuracy and mismatch list are worked out here from the seed."""

from __future__ import annotations

import pytest
from integration_support import LOCATION_MAPS, SKUS, make_collector, running_fake, samples, stock_row, value

KINDS = ["shopify", "square", "odoo", "rest_json"]


def available(sku: str, location: str) -> int:
    on_hand, reserved = stock_row(SKUS.index(sku), location)
    return on_hand - reserved


def drift_for(kind: str) -> tuple[dict[str, float], str, str]:
    (remote1, local1), (remote2, local2) = LOCATION_MAPS[kind].items()
    return {f"SKU-001@{remote1}": 5, f"SKU-002@{remote1}": -2, f"SKU-010@{remote2}": 1}, local1, local2


@pytest.mark.parametrize("kind", KINDS)
async def test_drift_over_several_pages(kind, inventory_db):
    drift, local1, local2 = drift_for(kind)
    async with running_fake(kind) as fake:
        fake.control(page_size=7, drift=drift)
        collector = make_collector(kind, fake.url, inventory_db)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        vendor_requests = fake.state.vendor_requests

    # 30 SKUs x 2 mapped locations; pages of 7 mean at least 5 data requests.
    assert vendor_requests >= 6, vendor_requests
    assert value(families, "inventory_integration_up", integration=kind) == 1
    assert value(families, "inventory_integration_fetch_success", integration=kind) == 1
    assert value(families, "inventory_integration_compared_skus", location=local1) == 30
    assert value(families, "inventory_integration_compared_skus", location=local2) == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 2
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local2) == 1
    assert value(families, "inventory_integration_accuracy_ratio", integration=kind) == pytest.approx(57 / 60)
    issues = samples(families, "inventory_integration_data_quality_issues")
    assert sum(issues.values()) == 0, issues
    assert value(families, "inventory_integration_last_fetch_success_timestamp_seconds") > 0

    mismatches = collector.api_views()["mismatches"]
    assert [(m["sku"], m["location"], m["difference"]) for m in mismatches] == [
        ("SKU-001", local1, 5),
        ("SKU-002", local1, -2),
        ("SKU-010", local2, 1),
    ]
    first = mismatches[0]
    assert first == {
        "integration": kind,
        "sku": "SKU-001",
        "location": local1,
        "database": available("SKU-001", local1),
        "remote": available("SKU-001", local1) + 5,
        "difference": 5,
    }
    # No SKU ever becomes a label value.
    for family in families:
        for sample in family.samples:
            assert not any(str(v).startswith("SKU-") for v in sample.labels.values()), sample


async def test_tolerance_and_missing_remote(inventory_db):
    kind = "square"
    drift, local1, local2 = drift_for(kind)
    # The remote loses SKU-020 at the first location entirely.
    remote1 = next(iter(LOCATION_MAPS[kind]))
    async with running_fake(kind) as fake:
        stock = dict(fake.state.stock)
        del stock[("SKU-020", remote1)]
        fake.state.stock = stock
        fake.control(drift=drift)
        tolerant = make_collector(kind, fake.url, inventory_db, tolerance_units=1)
        ignoring = make_collector(kind, fake.url, inventory_db, missing_remote="ignore")
        try:
            with_tolerance = await tolerant.collect()
            ignored = await ignoring.collect()
        finally:
            await tolerant.close()
            await ignoring.close()
    # Tolerance 1: SKU-010's +1 matches; the missing SKU-020 compares as remote 0.
    assert value(with_tolerance, "inventory_integration_stock_mismatch_skus", location=local1) == 3
    assert value(with_tolerance, "inventory_integration_stock_mismatch_skus", location=local2) == 0
    assert value(with_tolerance, "inventory_integration_accuracy_ratio") == pytest.approx(57 / 60)
    missing = [m for m in tolerant.api_views()["mismatches"] if m["sku"] == "SKU-020"]
    assert missing == [
        {
            "integration": kind,
            "sku": "SKU-020",
            "location": local1,
            "database": available("SKU-020", local1),
            "remote": 0,
            "difference": -available("SKU-020", local1),
        }
    ]
    # missing_remote: ignore leaves it out of the comparison altogether.
    assert value(ignored, "inventory_integration_compared_skus", location=local1) == 29
    assert value(ignored, "inventory_integration_stock_mismatch_skus", location=local1) == 2
    assert value(ignored, "inventory_integration_accuracy_ratio") == pytest.approx(56 / 59)


async def test_shopify_item_levels_beyond_the_first_page(inventory_db):
    # One level per item in the main query: each item's second location needs inventoryItem(id:).
    drift, local1, local2 = drift_for("shopify")
    async with running_fake("shopify") as fake:
        fake.control(drift=drift)
        collector = make_collector("shopify", fake.url, inventory_db, levels_per_item=1, page_size=10)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_compared_skus", location=local2) == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local2) == 1
    assert value(families, "inventory_integration_accuracy_ratio") == pytest.approx(57 / 60)


async def test_shopify_cost_over_the_single_query_limit_halves_the_page(inventory_db, caplog):
    async with running_fake("shopify") as fake:
        # 250 items x 5 levels is priced far above 1000 points by the fake's cost rules.
        collector = make_collector("shopify", fake.url, inventory_db, page_size=250)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_fetch_success") == 1
    assert collector.connector.page_size <= 50
    assert "page_size lowered" in caplog.text


async def test_square_sku_from_catalog_object_id(inventory_db):
    # A database that stores Square variation ids as SKUs: no catalog lookups are needed.
    from demo.fakes.square import variation_id

    async with running_fake("square") as fake:
        fake.state.stock = {(variation_id(sku), loc): v for (sku, loc), v in fake.state.stock.items()}
        collector = make_collector("square", fake.url, inventory_db, sku_from="catalog_object_id")
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        catalog_calls = fake.state.requests_by_path.get("/v2/catalog/batch-retrieve", 0)
    assert catalog_calls == 0
    # The seeded database knows SKU-xxx, not Square ids: every row is an unknown SKU.
    assert value(families, "inventory_integration_data_quality_issues", check="unknown_sku") == 60


async def test_odoo_sums_the_quants_of_one_product_location(inventory_db):
    from demo.fakes.odoo import _Catalogue

    drift, local1, local2 = drift_for("odoo")
    async with running_fake("odoo") as fake:
        fake.control(drift=drift, page_size=3)
        catalogue = _Catalogue(fake.state)
        collector = make_collector("odoo", fake.url, inventory_db, page_size=3)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    # The fake splits some SKU-locations into two lots; pages of 3 cut through some pairs.
    assert len(catalogue.quants) > 60
    assert value(families, "inventory_integration_compared_skus", location=local1) == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 2
    assert value(families, "inventory_integration_duplicate_row") is None
    assert value(families, "inventory_integration_data_quality_issues", check="duplicate_row") == 0


async def test_rest_json_cursor_paging_and_reserved(inventory_db):
    drift, local1, local2 = drift_for("rest_json")
    async with running_fake("rest_json") as fake:
        fake.control(drift=drift)
        collector = make_collector(
            "rest_json",
            fake.url,
            inventory_db,
            path="/api/stock-cursor",
            paging="cursor",
            cursor_path="meta.next_cursor",
            page_size=8,
            quantity_path="on_hand",
            reserved_path="reserved",
        )
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        pages = fake.state.requests_by_path["/api/stock-cursor"]
    assert pages == 1 + 8  # probe + ceil(60 / 8)
    assert value(families, "inventory_integration_accuracy_ratio") == pytest.approx(57 / 60)
    # The fake sends X-RateLimit headers: headroom is known.
    assert 0 < value(families, "inventory_integration_rate_limit_headroom_ratio") <= 1
