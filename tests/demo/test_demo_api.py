"""demo/api.py: the demo inventory API, its fault switches and the enhancer's action webhooks.

The action tests run against the real exporter (its analytics and Square integration
collectors, its /api/v1 server) reading the same seeded database, and the real fake
Square server, so reconcile and purchase-orders are checked end to end.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import aiohttp
import pytest

from demo.api import build_app
from demo.seed import generate
from exporter.collectors import build_collectors
from exporter.config import Config
from exporter.runner import Runner
from exporter.server import build_app as build_exporter_app


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "template.db"
    generate(path, skus=300, days=20, seed=11, progress=False)
    return path


@pytest.fixture
def db(seeded_template, tmp_path):
    path = tmp_path / "inventory.db"
    src = sqlite3.connect(seeded_template)
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=WAL")
    dst.close()
    return path


def q(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
async def api(db, aiohttp_client):
    return await aiohttp_client(build_app(str(db), exporter_url="http://127.0.0.1:9", seed=1))


def stocked(db, location, minimum=3):
    sku, on_hand, reserved = q(
        db,
        "SELECT s.sku, s.on_hand, s.reserved FROM stock_levels s JOIN products p "
        "ON p.sku = s.sku WHERE p.active = 1 AND s.location_id = ? "
        "AND s.on_hand - s.reserved >= ? ORDER BY s.sku LIMIT 1",
        (location, minimum),
    )[0]
    return sku, on_hand - reserved


async def test_health_products_and_stock(api, db):
    resp = await api.get("/health")
    assert resp.status == 200 and (await resp.json())["status"] == "ok"
    products = (await (await api.get("/products?limit=5")).json())["products"]
    assert len(products) == 5 and products[0]["sku"] == "SKU-00001"
    product = await (await api.get("/products/SKU-00001")).json()
    assert product["sku"] == "SKU-00001"
    assert "wh-main" in {s["location"] for s in product["stock"]}
    assert (await api.get("/products/NOPE")).status == 404
    stock = (await (await api.get("/stock?location=store-north&limit=10")).json())["stock"]
    assert 0 < len(stock) <= 10 and all(s["location"] == "store-north" for s in stock)
    low = (await (await api.get("/stock?location=wh-main&low=1")).json())["stock"]
    assert low and all(s["available"] <= s["reorder_point"] for s in low)
    assert (await api.get("/stock")).status == 400
    assert (await api.get("/stock?location=x&limit=abc")).status == 400


async def test_pos_order_moves_stock_and_writes_audit(api, db):
    sku, available = stocked(db, "store-north")
    before = q(db, "SELECT COUNT(*) FROM stock_movements")[0][0]
    resp = await api.post(
        "/orders", json={"channel": "pos", "location": "store-north", "lines": [{"sku": sku, "quantity": 2}]}
    )
    assert resp.status == 201
    order = await resp.json()
    assert order["status"] == "fulfilled"
    ((on_hand, reserved, reorder_point),) = q(
        db,
        "SELECT on_hand, reserved, reorder_point FROM stock_levels WHERE sku = ? AND location_id = ?",
        (sku, "store-north"),
    )
    assert on_hand - reserved == available - 2
    # Each line says what is left, so that a client can refill at once (the simulator does).
    assert order["lines"] == [
        {"sku": sku, "quantity": 2, "allocated": 2, "available": available - 2, "reorder_point": reorder_point}
    ]
    movement = q(db, "SELECT id, quantity, kind, source FROM stock_movements ORDER BY id DESC LIMIT 1")[0]
    assert movement[1:] == (-2, "sale", "pos")
    assert q(db, "SELECT COUNT(*) FROM stock_movements")[0][0] == before + 1
    assert q(db, "SELECT COUNT(*) FROM audit_log WHERE movement_id = ?", (movement[0],))[0][0] == 1
    view = await (await api.get(f"/orders/{order['id']}")).json()
    assert view["channel"] == "pos" and view["lines"] == [{"sku": sku, "quantity": 2, "fulfilled_quantity": 2}]
    assert (await api.get("/orders/ORD-9999999")).status == 404


async def test_short_order_is_backordered(api, db):
    sku, available = stocked(db, "wh-main")
    resp = await api.post("/orders", json={"channel": "wholesale", "lines": [{"sku": sku, "quantity": available + 5}]})
    body = await resp.json()
    assert body["status"] == "backordered" and body["lines"][0]["allocated"] == available
    ((avail,),) = q(db, "SELECT on_hand - reserved FROM stock_levels WHERE sku = ? AND location_id = 'wh-main'", (sku,))
    assert avail == 0


async def test_online_order_is_reserved_then_shipped(api, db):
    sku, available = stocked(db, "online")
    body = await (
        await api.post("/orders", json={"channel": "online", "hold": True, "lines": [{"sku": sku, "quantity": 1}]})
    ).json()
    assert body["status"] == "open"
    ((reserved_before,),) = q(db, "SELECT reserved FROM stock_levels WHERE sku = ? AND location_id = 'online'", (sku,))
    shipped = await (await api.post(f"/orders/{body['id']}/fulfill")).json()
    assert shipped["status"] == "fulfilled" and shipped["fulfilled_at"]
    ((on_hand, reserved),) = q(
        db, "SELECT on_hand, reserved FROM stock_levels WHERE sku = ? AND location_id = 'online'", (sku,)
    )
    assert reserved == reserved_before - 1 and on_hand - reserved == available - 1
    assert (await api.post(f"/orders/{body['id']}/fulfill")).status == 409


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "fax", "lines": [{"sku": "SKU-00001", "quantity": 1}]},
        {"channel": "pos", "lines": [{"sku": "SKU-00001", "quantity": 1}]},  # pos needs a location
        {"channel": "online", "lines": []},
        {"channel": "online", "lines": [{"sku": "SKU-00001", "quantity": 0}]},
        {"channel": "online", "lines": [{"sku": "SKU-00001", "quantity": "2"}]},
    ],
)
async def test_invalid_orders_are_rejected(api, body):
    assert (await api.post("/orders", json=body)).status == 400


async def test_unknown_sku_order_is_rejected_without_writing(api, db):
    before = q(db, "SELECT COUNT(*) FROM orders")[0][0]
    resp = await api.post("/orders", json={"channel": "online", "lines": [{"sku": "NOPE", "quantity": 1}]})
    assert resp.status == 422
    assert q(db, "SELECT COUNT(*) FROM orders")[0][0] == before


async def test_receipt(api, db):
    sku, available = stocked(db, "store-south")
    resp = await api.post("/receipts", json={"sku": sku, "location": "store-south", "quantity": 7})
    assert resp.status == 201
    assert (await resp.json())["stock"]["available"] == available + 7
    assert q(db, "SELECT kind, quantity FROM stock_movements ORDER BY id DESC LIMIT 1")[0] == ("receipt", 7)


async def test_error_burst_and_restart_workers(api):
    resp = await api.post("/_control", json={"error_ratio": 1.0, "unhealthy": True})
    assert resp.status == 200
    assert (await api.get("/health")).status == 503
    assert (await api.get("/products?limit=1")).status == 500
    # Monitoring and the actions themselves are never faulted.
    assert (await api.get("/metrics")).status == 200
    resp = await api.post("/actions/restart-workers", json={})
    assert (await resp.json())["cleared"] == {"error_ratio": 1.0, "unhealthy": True}
    assert (await api.get("/health")).status == 200
    assert (await api.get("/products?limit=1")).status == 200
    metrics = await (await api.get("/metrics")).text()
    assert 'inventory_api_requests_total{code="500",handler="/products",method="GET"} 1.0' in metrics
    assert 'inventory_api_requests_total{code="503",handler="/health",method="GET"} 1.0' in metrics
    assert "process_resident_memory_bytes" in metrics


async def test_error_burst_clears_by_itself(api):
    await api.post("/_control", json={"unhealthy": True, "for": 0.3})
    assert (await api.get("/health")).status == 503
    await asyncio.sleep(0.4)
    assert (await api.get("/health")).status == 200


async def test_latency_and_cache_warmup(api):
    await api.post("/_control", json={"latency": 0.3})
    started = time.monotonic()
    await api.get("/products?limit=1")
    assert time.monotonic() - started >= 0.3
    body = await (await api.post("/actions/cache-warmup", json={})).json()
    assert body["latency_cleared"] == 0.3
    started = time.monotonic()
    await api.get("/products?limit=1")
    assert time.monotonic() - started < 0.25


@pytest.mark.parametrize(
    "body", [{"latency": -1}, {"latency": "x"}, {"error_ratio": 2}, {"for": 0, "latency": 1}, {"stall": ""}]
)
async def test_control_rejects_bad_switches(api, body):
    assert (await api.post("/_control", json=body)).status == 400


async def test_stalled_sync_and_resync(api, db):
    resp = await api.post("/syncs", json={"integration": "odoo", "records": 10})
    assert resp.status == 201 and (await resp.json())["status"] == "success"
    await api.post("/_control", json={"stall": "odoo"})
    first = await (await api.post("/syncs", json={"integration": "odoo"})).json()
    second = await (await api.post("/syncs", json={"integration": "odoo"})).json()
    assert first["stalled"] and second["id"] == first["id"], "one hung run blocks the later ones"
    assert q(db, "SELECT status, finished_at FROM integration_syncs WHERE id = ?", (first["id"],)) == [
        ("running", None)
    ]
    newest_success = q(db, "SELECT MAX(id) FROM integration_syncs WHERE integration = 'odoo' AND status = 'success'")
    body = await (await api.post("/actions/resync", json={"integration": "odoo"})).json()
    assert body["abandoned_runs"] == 1 and body["sync"]["status"] == "success"
    assert body["sync"]["id"] > newest_success[0][0]
    assert q(db, "SELECT status FROM integration_syncs WHERE id = ?", (first["id"],)) == [("failed",)]
    assert (await (await api.get("/_control")).json())["stalled"] == []
    assert (await api.post("/actions/resync", json={})).status == 400


async def test_actions_report_an_unreachable_exporter(api):
    resp = await api.post("/actions/purchase-orders", json={"location": "wh-main"})
    assert resp.status == 502 and "exporter" in (await resp.json())["error"]


# --- actions against the real exporter and the real fake Square ----------------------


@pytest.fixture
async def exporter_stack(db, aiohttp_server, aiohttp_client, monkeypatch):
    from demo.fakes.common import FakeState
    from demo.fakes.square import DEFAULT_LOCATION_MAP, DEFAULT_TOKEN
    from demo.fakes.square import build_app as build_square

    fake = await aiohttp_server(build_square(FakeState("square", DEFAULT_TOKEN, DEFAULT_LOCATION_MAP, db_path=str(db))))
    monkeypatch.setenv("DEMO_SQUARE_TOKEN", DEFAULT_TOKEN)
    config = Config.model_validate(
        {
            "database": {"url": f"sqlite:///{db}"},
            "host": {"enabled": False},
            "integrations": [
                {
                    "name": "square",
                    "kind": "square",
                    "url": str(fake.make_url("")).rstrip("/"),
                    "token_env": "DEMO_SQUARE_TOKEN",
                    "locations": DEFAULT_LOCATION_MAP,
                }
            ],
        }
    )
    runner = Runner(build_collectors(config))
    exporter = await aiohttp_server(build_exporter_app(runner))
    api = await aiohttp_client(build_app(str(db), exporter_url=str(exporter.make_url("")).rstrip("/"), seed=1))
    yield runner, fake, api
    await runner.stop()


async def _collect(runner, name):
    collector = next(c for c in runner.collectors if c.name == name)
    await runner.run_once(collector)
    assert runner.states[name].success, runner.states[name].last_error
    return {(f.name, tuple(sorted(s.labels.items()))): s.value for f in runner.states[name].families for s in f.samples}


async def test_reconcile_adjusts_the_mismatching_skus(exporter_stack, db):
    runner, fake, api = exporter_stack
    from demo.fakes.square import DEFAULT_LOCATION_MAP

    remote = next(r for r, local in DEFAULT_LOCATION_MAP.items() if local == "store-south")
    skus = [
        r[0]
        for r in q(
            db,
            "SELECT sku FROM stock_levels WHERE location_id = 'store-south' "
            "AND on_hand - reserved >= 5 ORDER BY sku LIMIT 3",
        )
    ]
    drift = {f"{sku}@{remote}": -(i + 1) for i, sku in enumerate(skus)}
    # The remote's count as it is now, frozen: the fake otherwise re-reads the database
    # every second, and would follow the reconciled database away from its own count.
    remote_of = {local: remote_id for remote_id, local in DEFAULT_LOCATION_MAP.items()}
    frozen = {
        f"{sku}@{remote_of[location]}": [on_hand, reserved]
        for sku, location, on_hand, reserved in q(
            db, "SELECT sku, location_id, on_hand, COALESCE(reserved, 0) FROM stock_levels"
        )
        if location in remote_of
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.make_url("/_control"), json={"stock": frozen, "drift": drift}) as resp:
            assert resp.status == 200
    metrics = await _collect(runner, "integration_square")
    key = ("inventory_integration_stock_mismatch_skus", (("integration", "square"), ("location", "store-south")))
    assert metrics[key] == 3
    before = dict(
        q(db, "SELECT sku, on_hand FROM stock_levels WHERE location_id = 'store-south' AND sku IN (?,?,?)", skus)
    )

    resp = await api.post("/actions/reconcile", json={"integration": "square", "location": "store-south"})
    assert resp.status == 200
    body = await resp.json()
    assert sorted((a["sku"], a["delta"]) for a in body["adjusted"]) == sorted(
        (sku, -(i + 1)) for i, sku in enumerate(skus)
    )
    after = dict(
        q(db, "SELECT sku, on_hand FROM stock_levels WHERE location_id = 'store-south' AND sku IN (?,?,?)", skus)
    )
    assert all(after[sku] == before[sku] - (i + 1) for i, sku in enumerate(skus))
    assert q(db, "SELECT COUNT(*) FROM stock_movements WHERE kind = 'adjustment' AND source = 'reconcile'")[0][0] == 3

    # The database now agrees with the (still drifted) remote count: no mismatch left.
    metrics = await _collect(runner, "integration_square")
    assert metrics[key] == 0
    # Nothing left to reconcile, so a second call changes nothing.
    assert (
        await (await api.post("/actions/reconcile", json={"integration": "square", "location": "store-south"})).json()
    )["adjusted"] == []


async def test_purchase_orders_from_the_exporters_recommendations(exporter_stack, db):
    runner, _, api = exporter_stack
    # Low stock of the test's own, whatever the seed left on order: the warehouse's
    # best-seller (highest reorder point) sold down to one unit, nothing on order.
    [(sku,)] = q(db, "SELECT sku FROM stock_levels WHERE location_id = 'wh-main' ORDER BY reorder_point DESC LIMIT 1")
    conn = sqlite3.connect(db)
    row = "sku = ? AND location_id = 'wh-main'"
    with conn:
        conn.execute(f"UPDATE stock_levels SET on_hand = reserved + 1 WHERE {row}", (sku,))
        conn.execute(f"DELETE FROM purchase_orders WHERE {row} AND status = 'sent'", (sku,))
    conn.close()
    await _collect(runner, "analytics")
    views = runner.api_view("recommendations")
    assert ("wh-main", sku) in {(r["location"], r["sku"]) for r in views}, "one unit left of a best-seller: reorder"
    location = max({r["location"] for r in views}, key=lambda loc: sum(r["location"] == loc for r in views))
    recommended = {r["sku"]: r["quantity"] for r in views if r["location"] == location}
    drafts_before = q(db, "SELECT COUNT(*) FROM purchase_orders WHERE status = 'draft'")[0][0]
    assert drafts_before == 0

    body = await (await api.post("/actions/purchase-orders", json={"location": location})).json()
    created = {c["sku"]: c["quantity"] for c in body["created"]}
    pending = {
        r[0] for r in q(db, "SELECT sku FROM purchase_orders WHERE location_id = ? AND status = 'sent'", (location,))
    }
    assert created == {sku: qty for sku, qty in recommended.items() if sku not in pending}
    rows = q(
        db, "SELECT sku, quantity, location_id, expected_at > created_at FROM purchase_orders WHERE status = 'draft'"
    )
    assert {(sku, qty) for sku, qty, _, _ in rows} == set(created.items())
    assert all(loc == location and later for _, _, loc, later in rows)

    again = await (await api.post("/actions/purchase-orders", json={"location": location})).json()
    assert again["created"] == [] and again["skipped"] == len(recommended), "drafts are not written twice"
