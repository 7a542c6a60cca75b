"""Shopify: the fake prices by the published cost rules and names the served version;
the connector reports the version, uses Bulk Operations above its threshold (streaming
the JSONL from a URL it sends no token to) and falls back to paged queries, saying so
once, when Shopify cannot run the operation."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from integration_support import LOCATION_MAPS, TOKENS, make_collector, running_fake, stock_row, value

from demo.fakes.shopify import bulk_runs
from exporter.integrations import shopify

REMOTE1, LOCAL1 = next(iter(LOCATION_MAPS["shopify"].items()))
# Fast bulk operations for tests: created, running, done within ~0.1 s.
FAST = {"bulk_start_seconds": 0.02, "bulk_objects_per_second": 100000}


async def post(fake, query: str, variables: dict, version: str = shopify.DEFAULT_API_VERSION):
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.url}/admin/api/{version}/graphql.json",
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": TOKENS["shopify"]},
        ) as resp:
            return resp.status, resp.headers.get("X-Shopify-API-Version"), await resp.json()


async def test_the_fake_prices_queries_by_the_published_rules():
    async with running_fake("shopify") as fake:
        _, _, page = await post(fake, shopify.ITEMS_QUERY, {"first": 50, "levels": 5})
        _, _, probe = await post(fake, shopify.PROBE_QUERY, {})
        _, _, count = await post(fake, shopify.COUNT_QUERY, {"limit": 100})
        _, _, run = await post(fake, shopify.BULK_RUN_MUTATION, {"query": shopify.BULK_INVENTORY_QUERY})
    # Connection 2 + first x node; item 1 + levels connection 2 + levels x (level 1 +
    # location 1 + quantities 1); scalars 0.
    assert page["extensions"]["cost"]["requestedQueryCost"] == 2 + 50 * (1 + 2 + 5 * 3)
    # The seed: 30 items, each at the 2 mapped locations.
    assert len(page["data"]["inventoryItems"]["nodes"]) == 30
    assert page["extensions"]["cost"]["actualQueryCost"] == 2 + 30 * (1 + 2 + 2 * 3)
    assert probe["extensions"]["cost"]["requestedQueryCost"] == 1
    assert count["extensions"]["cost"]["requestedQueryCost"] == 1
    assert count["data"]["productVariantsCount"] == {"count": 30, "precision": "EXACT"}
    # A mutation costs 10, as the vendored bulk fixtures show.
    assert run["extensions"]["cost"]["requestedQueryCost"] == 10
    assert run["data"]["bulkOperationRunQuery"]["userErrors"] == []
    status = run["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 2000 and status["restoreRate"] == 100
    assert status["currentlyAvailable"] <= 2000 - (2 + 30 * 9) - 1 - 1 - 10 + 5  # refills 100/s meanwhile


async def test_the_fake_names_the_served_version():
    async with running_fake("shopify") as fake:
        _, served_pinned, _ = await post(fake, shopify.PROBE_QUERY, {})
        # 2025-01 is past Shopify's support window: served as the oldest supported one.
        _, served_old, body = await post(fake, shopify.PROBE_QUERY, {}, version="2025-01")
        fake.control(vendor={"api_version": "2026-04"})
        _, served_forced, _ = await post(fake, shopify.PROBE_QUERY, {})
    assert served_pinned == "2026-07"
    assert served_old == "2026-01" and body["data"]["shop"]["name"]
    assert served_forced == "2026-04"


async def test_the_connector_reports_the_served_version_and_warns_once(inventory_db, caplog):
    async with running_fake("shopify") as fake:
        collector = make_collector("shopify", fake.url, inventory_db)
        try:
            await collector.collect()
            assert collector.connector.served_version == collector.connector.requested_version == "2026-07"
            assert "served API version" not in caplog.text
            fake.control(vendor={"api_version": "2026-01"})
            with caplog.at_level(logging.WARNING, logger="exporter.integrations.shopify"):
                await collector.collect()
                families = await collector.collect()
        finally:
            await collector.close()
    assert collector.connector.requested_version == "2026-07"
    assert collector.connector.served_version == "2026-01"
    warnings = [r for r in caplog.records if "served API version" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "2026-01" in warnings[0].getMessage() and "2026-07" in warnings[0].getMessage()
    assert value(families, "inventory_integration_fetch_success") == 1
    info = value(families, "inventory_integration_api_version_info", requested="2026-07", served="2026-01")
    assert info == 1


def drift() -> dict[str, int]:
    return {f"SKU-004@{REMOTE1}": -4, f"SKU-017@{REMOTE1}": 6}


async def bulk_collect(inventory_db, fake, runs: int = 1, **extra):
    collector = make_collector("shopify", fake.url, inventory_db, bulk_poll_interval=0.02, **extra)
    try:
        results = [await collector.collect() for _ in range(runs)]
    finally:
        await collector.close()
    return collector, results


def assert_compared(families) -> None:
    # 30 SKUs x 2 locations; the 2 drifted rows at the first location mismatch.
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_compared_skus", location=LOCAL1) == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location=LOCAL1) == 2
    assert value(families, "inventory_integration_accuracy_ratio") == pytest.approx(58 / 60)


async def test_bulk_operation_compares_and_sends_no_token_to_the_download(inventory_db):
    async with running_fake("shopify") as fake:
        fake.control(drift=drift(), vendor=FAST)
        collector, [families] = await bulk_collect(inventory_db, fake, bulk="always")
        log = list(fake.state.request_log)
        operations = bulk_runs(fake.state).operations
    assert collector.connector.last_mode == "bulk"
    assert_compared(families)
    assert len(operations) == 1 and bulk_runs(fake.state).downloads == 1
    [download] = [entry for entry in log if entry["path"].startswith("/_bulk/")]
    assert download["status"] == 200
    assert not any(name.lower() == "x-shopify-access-token" for name in download["headers"])
    graphql_calls = [entry for entry in log if entry["path"].endswith("/graphql.json")]
    assert all(entry["headers"].get("X-Shopify-Access-Token") == TOKENS["shopify"] for entry in graphql_calls)


@pytest.mark.parametrize(("threshold", "mode"), [(59, "bulk"), (60, "paged")])
async def test_auto_uses_bulk_above_the_threshold(inventory_db, threshold, mode):
    # 30 variants x 2 mapped locations = 60 SKU-locations.
    async with running_fake("shopify") as fake:
        fake.control(drift=drift(), vendor=FAST)
        collector, [families] = await bulk_collect(inventory_db, fake, bulk_threshold=threshold)
        operations = len(bulk_runs(fake.state).operations)
    assert collector.connector.last_mode == mode
    assert operations == (1 if mode == "bulk" else 0)
    assert_compared(families)


@pytest.mark.parametrize(
    ("switches", "reason"),
    [
        ({"bulk_status": "FAILED", "bulk_error_code": "TIMEOUT"}, "ended FAILED (TIMEOUT)"),
        ({"bulk_status": "FAILED", "bulk_partial": True}, "partial data"),
        ({"bulk_status": "CANCELED"}, "ended CANCELED"),
        ({"bulk_status": "EXPIRED"}, "ended EXPIRED"),
        # Five operations already running: the limit from 2026-01.
        ({"bulk_running": 5}, "five at a time on API version 2026-07"),
        # Before 2026-01 one running operation is the limit.
        ({"bulk_running": 1, "api_version": "2025-10"}, "one at a time on API version 2025-10"),
    ],
)
async def test_bulk_failures_fall_back_to_paged_and_say_so_once(inventory_db, caplog, switches, reason):
    async with running_fake("shopify") as fake:
        fake.control(drift=drift(), vendor={**FAST, **switches})
        with caplog.at_level(logging.DEBUG, logger="exporter.integrations.shopify"):
            collector, results = await bulk_collect(inventory_db, fake, runs=2, bulk="always")
        downloads = bulk_runs(fake.state).downloads
    assert collector.connector.last_mode == "paged"
    for families in results:
        assert_compared(families)
    assert downloads == 0  # not even the partial file
    fallbacks = [r for r in caplog.records if "bulk operation not used" in r.getMessage()]
    assert len(fallbacks) == 2 and reason in fallbacks[0].getMessage()
    assert [r.levelno for r in fallbacks] == [logging.WARNING, logging.DEBUG]


async def test_one_bulk_operation_at_a_time_before_2026_01():
    async with running_fake("shopify") as fake:
        fake.control(vendor={"api_version": "2025-10", "bulk_start_seconds": 30})
        query = {"query": shopify.BULK_INVENTORY_QUERY}
        _, _, first = await post(fake, shopify.BULK_RUN_MUTATION, query)
        _, _, second = await post(fake, shopify.BULK_RUN_MUTATION, query)
        fake.control(vendor={"api_version": "2026-01"})
        _, _, third = await post(fake, shopify.BULK_RUN_MUTATION, query)
    created = first["data"]["bulkOperationRunQuery"]["bulkOperation"]
    assert created["status"] == "CREATED"
    [error] = second["data"]["bulkOperationRunQuery"]["userErrors"]
    assert error["code"] == "OPERATION_IN_PROGRESS" and created["id"] in error["message"]
    assert third["data"]["bulkOperationRunQuery"]["userErrors"] == []


async def test_bulk_result_lines_are_shopifys_jsonl(inventory_db):
    async with running_fake("shopify") as fake:
        fake.control(vendor=FAST)
        collector, _ = await bulk_collect(inventory_db, fake, bulk="always")
        [operation] = bulk_runs(fake.state).operations.values()
        with open(operation.result, "rb") as f:
            lines = f.read().splitlines()
    import json

    records = [json.loads(line) for line in lines]
    items = [r for r in records if "__parentId" not in r]
    levels = [r for r in records if "__parentId" in r]
    assert len(items) == 30 and len(levels) == 60
    seen: set[str] = set()
    for record in records:
        if "__parentId" in record:
            assert record["__parentId"] in seen  # the parent's line came first
        else:
            seen.add(record["id"])
    first = levels[0]
    on_hand, reserved = stock_row(0, LOCAL1)
    assert first == {
        "item": {"sku": "SKU-001"},
        "location": {"id": REMOTE1},
        "quantities": [{"name": "available", "quantity": on_hand - reserved}],
        "__parentId": items[0]["id"],
    }


async def test_a_truncated_download_fails_the_run_and_the_next_one_recovers(inventory_db, caplog):
    async with running_fake("shopify") as fake:
        # Done at the first poll: probe, mutation, poll, then the download is request 4.
        fake.control(drift=drift(), vendor={"bulk_start_seconds": 0, "bulk_objects_per_second": 10**6})
        fake.control(error="truncated", error_after=3, error_count=1)
        collector = make_collector("shopify", fake.url, inventory_db, bulk="always", bulk_poll_interval=0.3)
        try:
            broken = await collector.collect()
            paths = [entry["path"] for entry in fake.state.request_log]
            fixed = await collector.collect()
        finally:
            await collector.close()
    assert paths[3].startswith("/_bulk/") and fake.state.faults_served == 1
    assert value(broken, "inventory_integration_fetch_success") == 0
    # Nothing half-compared: the failed run published no comparison.
    assert value(broken, "inventory_integration_compared_skus", location=LOCAL1) is None
    assert "truncated" in caplog.text and TOKENS["shopify"] not in caplog.text
    assert_compared(fixed)
