"""The simulator refills a store shelf as soon as a sale leaves it at its reorder point, as
the store's delivery would: a shelf left there sits under the analytics' safety stock with
nothing on order, and InventoryBelowSafetyStock went pending in a healthy demo (CI)."""

from __future__ import annotations

import sqlite3
import time

import pytest

import demo.simulator as simulator
from demo.api import build_app
from demo.seed import generate


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "inventory.db"
    generate(path, skus=300, days=20, seed=11, now=time.time(), progress=False)
    return path


def _row(db, sku: str, location: str) -> tuple[int, int]:
    """Available units and receipts so far of one stock row."""
    conn = sqlite3.connect(db)
    try:
        (available,) = conn.execute(
            "SELECT on_hand - reserved FROM stock_levels WHERE sku = ? AND location_id = ?", (sku, location)
        ).fetchone()
        receipts = conn.execute(
            "SELECT COUNT(*) FROM stock_movements WHERE sku = ? AND location_id = ? AND kind = 'receipt'",
            (sku, location),
        ).fetchone()[0]
        return available, receipts
    finally:
        conn.close()


def _set_available(db, sku: str, location: str, available: int) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE stock_levels SET on_hand = reserved + ? WHERE sku = ? AND location_id = ?",
            (available, sku, location),
        )
    conn.close()


def _store_sku(db) -> tuple[str, int]:
    """A store-north SKU with a reorder point of at least 5 (over the simulator's selling floor)."""
    conn = sqlite3.connect(db)
    try:
        sku, reorder_point = conn.execute(
            "SELECT s.sku, s.reorder_point FROM stock_levels s JOIN products p ON p.sku = s.sku "
            "WHERE s.location_id = 'store-north' AND p.active = 1 AND s.reorder_point >= 5 "
            "ORDER BY s.reorder_point DESC, s.sku LIMIT 1"
        ).fetchone()
        return sku, reorder_point
    finally:
        conn.close()


@pytest.fixture
async def sim(db, aiohttp_client):
    client = await aiohttp_client(build_app(str(db), exporter_url="http://127.0.0.1:9", seed=1))
    sim = simulator.Simulator(
        str(client.make_url("")), seed=1, rate=1.0, faults=[], random_faults=False, integrations={}
    )
    sim.session = client.session
    return sim


@pytest.mark.parametrize("above", [0, 1])
async def test_a_sale_that_reaches_the_reorder_point_is_refilled_at_once(db, sim, above):
    sku, reorder_point = _store_sku(db)
    # A sale of one unit leaves the shelf at its reorder point (above = 0) or one over it.
    _set_available(db, sku, "store-north", reorder_point + 1 + above)
    _, receipts_before = _row(db, sku, "store-north")
    order = {"channel": "pos", "location": "store-north", "lines": [{"sku": sku, "quantity": 1}]}
    status, body = await sim.call("POST", "/orders", order)
    assert status == 201
    left = reorder_point + above
    await sim.refill_after("store-north", body)
    available, receipts = _row(db, sku, "store-north")
    if above == 0:
        # Refilled by max(10, 2 x reorder point), as the periodic sweep always did.
        assert receipts == receipts_before + 1
        assert available == left + max(10, 2 * reorder_point)
    else:
        assert receipts == receipts_before
        assert available == left


async def test_the_pos_sale_refills_and_a_held_shelf_is_not(db, sim):
    sku, reorder_point = _store_sku(db)
    sim.sellable = {"store-north": [sku], "store-south": []}
    sim.rng.choice = lambda options: options[0]  # store-north, one unit
    _set_available(db, sku, "store-north", reorder_point + 1)
    await sim.pos_sale()
    available, _ = _row(db, sku, "store-north")
    assert available == reorder_point + max(10, 2 * reorder_point)

    # The stockout fault holds its SKU empty: no refill, by the sale or the sweep.
    sim.held.add((sku, "store-north"))
    _set_available(db, sku, "store-north", 1)
    await sim.pos_sale()
    await sim.replenish()
    available, _ = _row(db, sku, "store-north")
    assert available == 0


async def test_a_failed_refill_is_retried_by_the_sweep(db, sim):
    """A refill lost to an api_errors burst is tried again by the 30 s sweep; the sweep
    itself touches only SKUs at 2 or less, so that its first run is no burst of writes."""
    sku, reorder_point = _store_sku(db)
    _set_available(db, sku, "store-north", reorder_point + 1)
    order = {"channel": "pos", "location": "store-north", "lines": [{"sku": sku, "quantity": 1}]}
    status, body = await sim.call("POST", "/orders", order)
    assert status == 201
    status, _ = await sim.call("POST", "/_control", {"error_ratio": 1.0, "for": 60})
    assert status == 200
    await sim.refill_after("store-north", body)
    available, _ = _row(db, sku, "store-north")
    assert available == reorder_point  # the receipt failed

    status, _ = await sim.call("POST", "/_control", {"reset": True})
    assert status == 200
    conn = sqlite3.connect(db)
    # Rows at 3 that no sale touched stay for their next sale; rows at 2 are refilled.
    three, two = conn.execute(
        "SELECT s.sku FROM stock_levels s JOIN products p ON p.sku = s.sku WHERE p.active = 1 "
        "AND s.location_id = 'store-south' ORDER BY s.sku LIMIT 2"
    ).fetchall()
    conn.close()
    _set_available(db, three[0], "store-south", 3)
    _set_available(db, two[0], "store-south", 2)
    await sim.replenish()
    available, _ = _row(db, sku, "store-north")
    assert available == reorder_point + max(10, 2 * reorder_point)
    assert _row(db, three[0], "store-south")[0] == 3
    assert _row(db, two[0], "store-south")[0] > 2
    assert sim.unrefilled == set()
