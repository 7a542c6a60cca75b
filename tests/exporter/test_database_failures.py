"""A missing, locked, slow or stopped database: /metrics answers at once, the collector
reports 0, its values are dropped, and it recovers by itself. Real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time

from exporter.collectors.business import BusinessCollector
from exporter.config import BusinessConfig, CustomMetric, DatabaseConfig
from exporter.db import Database
from exporter.runner import Runner
from exporter.server import build_app
from tests.conftest import SCHEMA, PostgresServer
from tests.inventory_data import load, reference_dataset


def business(url: str, timeout: float = 2.0, **config) -> BusinessCollector:
    return BusinessCollector(
        Database(url, timeout=timeout), DatabaseConfig(url=url, timeout=timeout), BusinessConfig(**config)
    )


async def scrape(client) -> tuple[str, float]:
    started = time.perf_counter()
    resp = await client.get("/metrics")
    assert resp.status == 200
    return await resp.text(), time.perf_counter() - started


async def test_missing_sqlite_file_then_restored(aiohttp_client, tmp_path, sqlite_db):
    load(f"sqlite:///{sqlite_db}", reference_dataset())
    path = tmp_path / "live.db"
    collector = business(f"sqlite:///{path}")
    runner = Runner([collector])
    client = await aiohttp_client(build_app(runner))

    await runner.run_once(collector)
    text, _ = await scrape(client)
    assert 'inventory_exporter_collector_success{collector="business"} 0.0' in text
    assert "cannot connect to the database" in runner.states["business"].last_error
    assert not path.exists()

    shutil.copy(sqlite_db, path)  # the database comes back
    await runner.run_once(collector)
    text, _ = await scrape(client)
    assert 'inventory_exporter_collector_success{collector="business"} 1.0' in text
    assert 'inventory_on_hand_units{location="wh"} 107.0' in text
    await runner.stop()


async def test_locked_sqlite_database_fails_fast_and_recovers(aiohttp_client, sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    collector = business(url, timeout=1.0)
    runner = Runner([collector])
    client = await aiohttp_client(build_app(runner))
    await runner.run_once(collector)
    text, _ = await scrape(client)
    assert 'inventory_on_hand_units{location="wh"} 107.0' in text

    # A writer holding an exclusive lock (rollback-journal mode) blocks every reader.
    locker = sqlite3.connect(sqlite_db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        await runner.run_once(collector)
        text, elapsed = await scrape(client)
        assert elapsed < 0.5
        assert 'inventory_exporter_collector_success{collector="business"} 0.0' in text
        assert "inventory_on_hand_units" not in text  # dropped, not served stale
        assert "locked" in runner.states["business"].last_error
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    await runner.run_once(collector)
    text, _ = await scrape(client)
    assert 'inventory_exporter_collector_success{collector="business"} 1.0' in text
    assert 'inventory_on_hand_units{location="wh"} 107.0' in text
    await runner.stop()


async def test_query_over_timeout_is_interrupted_on_sqlite(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) AS value FROM n"
    collector = business(url, timeout=0.5, metrics=[CustomMetric(name="inventory_slow", sql=slow)])
    runner = Runner([collector])
    await runner.run_once(collector)
    assert runner.states["business"].last_error == "timed out after 0.5s"
    # The interrupted statement ends promptly instead of burning a thread forever.
    for _ in range(50):
        if collector._running.done():
            break
        await asyncio.sleep(0.05)
    assert collector._running.done()
    await runner.stop()


async def test_postgresql_stopped_mid_run_then_restarted(aiohttp_client):
    # Its own server: stopping the shared one would break the other tests.
    server = PostgresServer()
    server.init()
    server.start()
    try:
        server.psql(SCHEMA)
        url = server.url()
        load(url, reference_dataset())
        collector = business(url, timeout=2.0)
        runner = Runner([collector])
        client = await aiohttp_client(build_app(runner))
        await runner.run_once(collector)
        text, _ = await scrape(client)
        assert 'inventory_on_hand_units{location="wh"} 107.0' in text

        server.stop("immediate")
        await runner.run_once(collector)
        text, elapsed = await scrape(client)
        assert elapsed < 0.5
        assert 'inventory_exporter_collector_success{collector="business"} 0.0' in text
        assert "inventory_on_hand_units" not in text
        assert runner.states["business"].duration_seconds < 2.5

        server.start()
        await runner.run_once(collector)
        text, _ = await scrape(client)
        assert 'inventory_exporter_collector_success{collector="business"} 1.0' in text, runner.states["business"]
        assert 'inventory_on_hand_units{location="wh"} 107.0' in text
        await runner.stop()
    finally:
        server.cleanup()


async def test_postgresql_statement_over_timeout_is_cancelled(postgres_db):
    url, server, name = postgres_db
    collector = business(
        url, timeout=1.0, metrics=[CustomMetric(name="inventory_sleep", sql="SELECT pg_sleep(30) IS NULL AS value")]
    )
    runner = Runner([collector])
    started = time.perf_counter()
    await runner.run_once(collector)
    assert runner.states["business"].success is False
    for _ in range(60):
        if collector._running.done():
            break
        await asyncio.sleep(0.05)
    assert collector._running.done(), "the server-side statement should have been cancelled"
    assert time.perf_counter() - started < 4
    active = server.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'",
        database=name,
    )
    assert active.strip() == "0"
    await runner.stop()
