"""The Odoo connector against the fake Odoo: protocol choice, child locations counted as
Odoo's on-hand counts them, keyset paging over a catalogue that changes, a 5 MB page."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from integration_support import TOKENS, make_collector, value

from demo.fakes import odoo as odoo_fake
from demo.fakes.common import FakeState

MAP = {"8": "wh-main", "21": "store-north"}


@asynccontextmanager
async def fake_odoo(stock: dict, version: str = "19.0", on_quant_page: Any = None) -> AsyncIterator[Any]:
    state = FakeState("odoo", TOKENS["odoo"], MAP, stock=stock)
    app = odoo_fake.build_app(state, server_version=version, on_quant_page=on_quant_page)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield state, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def seed(db_url: str, rows: dict[tuple[str, str], float]) -> None:
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    for location in {loc for _, loc in rows} | {"wh-main", "store-north"}:
        conn.execute("INSERT OR IGNORE INTO locations (id, name, kind) VALUES (?, ?, 'store')", (location, location))
    for sku in {sku for sku, _ in rows}:
        conn.execute("INSERT OR IGNORE INTO products (sku, name) VALUES (?, ?)", (sku, sku))
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) VALUES (?, ?, ?, 0, '2026-11-22')",
        [(sku, loc, qty) for (sku, loc), qty in rows.items()],
    )
    conn.commit()
    conn.close()


async def run(url: str, db_url: str, **extra: Any) -> tuple[list, Any]:
    extra.setdefault("locations", MAP)
    collector = make_collector("odoo", url, db_url, **extra)
    try:
        families = await collector.collect()
    finally:
        await collector.close()
    return families, collector


async def test_auto_speaks_json2_to_odoo_19_and_jsonrpc_to_odoo_17(sqlite_db):
    db = f"sqlite:///{sqlite_db}"
    seed(db, {("A", "wh-main"): 5})
    stock = {("A", "8"): (5, 0)}
    async with fake_odoo(stock, "19.0") as (state, url):
        families, collector = await run(url, db)
        paths19 = dict(state.requests_by_path)
    async with fake_odoo(stock, "17.0") as (state, url):
        families17, collector17 = await run(url, db)
        paths17 = dict(state.requests_by_path)
    for fams in (families, families17):
        assert value(fams, "inventory_integration_up") == 1
        assert value(fams, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0
    assert "/jsonrpc" not in paths19 and paths19["/json/2/stock.quant/search_read"] == 2  # a page, then empty
    assert not any(p.startswith("/json/2/") for p in paths17) and paths17["/jsonrpc"] >= 4
    assert (collector.connector.requested_version, collector.connector.served_version) == ("json2", "19.0")
    assert (collector17.connector.requested_version, collector17.connector.served_version) == ("jsonrpc", "17.0")


async def test_jsonrpc_still_works_on_odoo_19_when_configured(sqlite_db):
    db = f"sqlite:///{sqlite_db}"
    seed(db, {("A", "wh-main"): 5})
    async with fake_odoo({("A", "8"): (5, 0)}) as (state, url):
        families, _ = await run(url, db, protocol="jsonrpc")
        assert not any(p.startswith("/json/2/") for p in state.requests_by_path)
    assert value(families, "inventory_integration_compared_skus", location="wh-main") == 1
    assert value(families, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0


async def test_child_locations_count_for_their_nearest_mapped_ancestor(sqlite_db):
    # 8 and 21 mapped; 8/30 is a child of 8 (not mapped); 8/30/31 a grandchild; 21/40 a child of 21.
    stock = {
        ("A", "8"): (4, 1),
        ("A", "8/30"): (6, 0),
        ("A", "8/30/31"): (10, 2),
        ("B", "21"): (3, 0),
        ("B", "21/40"): (7, 0),
        ("C", "8/30"): (2, 0),
    }
    # Expected by hand: A@wh-main = (4-1) + 6 + (10-2) = 17; B@store-north = 10; C@wh-main = 2.
    expected = {("A", "wh-main"): 17, ("B", "store-north"): 10, ("C", "wh-main"): 2}
    db = f"sqlite:///{sqlite_db}"
    seed(db, expected)
    async with fake_odoo(stock) as (_, url):
        families, _ = await run(url, db, page_size=2)
        strict, _ = await run(url, db, page_size=2, include_child_locations=False)
    assert value(families, "inventory_integration_compared_skus", location="wh-main") == 2
    assert value(families, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0
    assert value(families, "inventory_integration_stock_mismatch_skus", location="store-north") == 0
    assert value(families, "inventory_integration_data_quality_issues", check="duplicate_row") == 0
    # Odoo's strict counting (location_id in ids) misses the children: A is 3, C absent -> 0.
    assert value(strict, "inventory_integration_stock_mismatch_skus", location="wh-main") == 2


async def test_a_mapped_child_of_a_mapped_location_is_not_counted_twice(sqlite_db):
    # 40 is a child of 8 and both are mapped: 40's quants count for 40 only.
    stock = {("A", "8"): (5, 0), ("A", "8/40"): (9, 0)}
    db = f"sqlite:///{sqlite_db}"
    seed(db, {("A", "wh-main"): 5, ("A", "store-north"): 9})
    async with fake_odoo(stock) as (_, url):
        families, _ = await run(url, db, locations={"8": "wh-main", "40": "store-north"})
    assert value(families, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0
    assert value(families, "inventory_integration_stock_mismatch_skus", location="store-north") == 0
    assert value(families, "inventory_integration_data_quality_issues", check="duplicate_row") == 0


async def test_keyset_paging_neither_skips_nor_doubles_quants_changed_between_pages(sqlite_db):
    skus = [f"S{i:02d}" for i in range(12)]
    stock = {(sku, "8"): (1, 0) for sku in skus}  # 1 unit: the fake splits none into lots
    db = f"sqlite:///{sqlite_db}"
    pages = []

    def change(catalogue: Any) -> None:
        pages.append(len(pages))
        if len(pages) == 1:
            # After the first page (quants of S00..S02): one already read is deleted (its
            # stock moved), one not read yet is deleted, and a new quant is created.
            catalogue.remove_quant(catalogue.quants[0]["id"])  # S00, read already
            catalogue.remove_quant(catalogue.quants[5]["id"])  # S06, not read yet
            catalogue.add_quant(catalogue.product("S03"), 8, 4)  # S03 gains a lot: +4

    # What the connector must see: S00 as read (1), S06 gone (0), S03 = 1 + 4, the rest 1.
    expected = {(sku, "wh-main"): 1.0 for sku in skus}
    expected[("S06", "wh-main")] = 0.0
    expected[("S03", "wh-main")] = 5.0
    seed(db, expected)
    async with fake_odoo(stock, on_quant_page=change) as (_, url):
        families, _ = await run(url, db, page_size=3, locations={"8": "wh-main"})
    assert len(pages) >= 5
    assert value(families, "inventory_integration_compared_skus", location="wh-main") == 12
    assert value(families, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0
    assert value(families, "inventory_integration_data_quality_issues", check="duplicate_row") == 0


async def test_a_page_of_more_than_5_mb_compares(sqlite_db, caplog):
    caplog.set_level(logging.DEBUG)
    count = 40000
    skus = [f"LONG-REFERENCE-{i:06d}" for i in range(count)]
    stock = {(sku, "8"): (i % 50 + 1, 0) for i, sku in enumerate(skus)}
    db = f"sqlite:///{sqlite_db}"
    seed(db, {(sku, "wh-main"): float(i % 50 + 1) for i, sku in enumerate(skus)})
    sizes = []

    def measure(catalogue: Any) -> None:
        sizes.append(len(catalogue.quants))

    async with fake_odoo(stock, on_quant_page=measure) as (state, url):
        # The fake's first page is all quants; its JSON size, measured as the fake sends it:
        catalogue = odoo_fake._Catalogue(state)
        page = [
            catalogue.read("stock.quant", q, ["id", "product_id", "location_id", "quantity", "reserved_quantity"])
            for q in catalogue.quants
        ]
        body = json.dumps(page).encode()
        families, _ = await run(url, db, page_size=50000, locations={"8": "wh-main"}, timeout=60, request_timeout=30)
    assert len(body) > 5_000_000, len(body)
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_compared_skus", location="wh-main") == count
    assert value(families, "inventory_integration_stock_mismatch_skus", location="wh-main") == 0
    assert TOKENS["odoo"] not in caplog.text


async def test_bad_api_key_is_reported_as_credentials_without_the_key(sqlite_db, caplog):
    db = f"sqlite:///{sqlite_db}"
    seed(db, {("A", "wh-main"): 5})
    async with fake_odoo({("A", "8"): (5, 0)}) as (state, url):
        state.token = "another-key"
        families, _ = await run(url, db, protocol="json2")
    assert value(families, "inventory_integration_up") == 0
    assert "HTTP 401" in caplog.text and "bad credentials" in caplog.text
    assert TOKENS["odoo"] not in caplog.text
