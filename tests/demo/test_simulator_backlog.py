"""The simulator's warehouse works through the seed's backlog (issue 20): it finds the BKL-
orders through the demo API and ships them in promise order, the later ones after their
promise, so the demo has late orders and falling on-time and OTIF figures."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

import pytest

import demo.simulator as simulator
from demo.api import build_app
from demo.seed import BACKLOG_DUE_SECONDS, BACKLOG_FIRST_DUE_SECONDS, generate


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "inventory.db"
    generate(path, skus=300, days=20, seed=11, now=time.time(), progress=False)
    return path


async def test_the_backlog_is_picked_in_promise_order_too_slowly_for_all(db, aiohttp_client, monkeypatch):
    client = await aiohttp_client(build_app(str(db), exporter_url="http://127.0.0.1:9", seed=1))
    sim = simulator.Simulator(
        str(client.make_url("")), seed=1, rate=1.0, faults=[], random_faults=False, integrations={}
    )
    sim.session = client.session
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(simulator.asyncio, "sleep", no_wait)
    started = time.time()
    await sim.work_backlog()

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT status, promised_at FROM orders WHERE id LIKE 'BKL-%' ORDER BY promised_at").fetchall()
    shipped = conn.execute(
        "SELECT SUM(l.fulfilled_quantity = l.quantity) FROM order_lines l WHERE l.order_id LIKE 'BKL-%'"
    ).fetchone()[0]
    conn.close()
    assert rows and {status for status, _ in rows} == {"fulfilled"} and shipped == len(rows)
    # One order per wait, at BACKLOG_SLOWDOWN x the time left until the last promise per order:
    # slower than the promises fall due, so the second half of the backlog ships late.
    assert len(waits) == len(rows)
    last_due = datetime.fromisoformat(rows[-1][1].replace("Z", "+00:00")).timestamp()
    assert started + BACKLOG_FIRST_DUE_SECONDS < last_due < started + BACKLOG_FIRST_DUE_SECONDS + BACKLOG_DUE_SECONDS
    assert waits == [pytest.approx(simulator.BACKLOG_SLOWDOWN * (last_due - started) / len(rows), rel=0.01)] * len(rows)
