"""Within a day the demand history is read once and reused; a refresh, a new day or a new
SKU-location reads it again."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from exporter.analytics.cycle import DemandCache, run_cycle
from exporter.db import Database
from tests.exporter.analytics import dataset


def _demand(result, sku, location):
    index = {key: i for i, key in enumerate(zip(result.series.skus, result.series.locations))}
    return result.demand.values[index[(sku, location)]].tolist()


def _backdated_sale(path, quantity=10):
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO stock_movements (sku, location_id, quantity, kind, source, occurred_at) "
        "VALUES ('C', 'store', ?, 'sale', 'pos', ?)",
        (-quantity, dataset.day(9)),
    )
    conn.commit()
    conn.close()


def test_history_is_reused_within_the_day_and_reread_when_it_may_have_changed(sqlite_db):
    dataset.load(f"sqlite:///{sqlite_db}")
    database = Database(f"sqlite:///{sqlite_db}")
    cache = DemandCache(refresh=3600)
    try:
        first = run_cycle(database, dataset.CONFIG, dataset.TODAY, cache=cache)
        assert _demand(first, "C", "store") == [0] * 10
        _backdated_sale(sqlite_db)

        # Same day, within the refresh: the cached history, so the late sale is not seen yet.
        cached = run_cycle(database, dataset.CONFIG, dataset.TODAY, cache=cache)
        assert cached.demand is first.demand

        # The refresh is due: the back-dated sale of day 9 appears.
        cache.refresh = 0
        refreshed = run_cycle(database, dataset.CONFIG, dataset.TODAY, cache=cache)
        assert _demand(refreshed, "C", "store") == [0] * 9 + [10]

        # A new day shifts the window: read again at once.
        cache.refresh = 3600
        next_day = run_cycle(database, dataset.CONFIG, dataset.TODAY + timedelta(days=1), cache=cache)
        assert next_day.demand is not refreshed.demand
        assert _demand(next_day, "C", "store") == [0] * 8 + [10, 0]

        # A new SKU-location changes the rows of the matrix: read again at once.
        conn = sqlite3.connect(sqlite_db)
        conn.execute(
            "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) "
            "VALUES ('C', 'wh', 5, 0, '2026-05-10T00:00:00Z')"
        )
        conn.commit()
        conn.close()
        grown = run_cycle(database, dataset.CONFIG, dataset.TODAY + timedelta(days=1), cache=cache)
        assert grown.demand is not next_day.demand
        assert _demand(grown, "C", "wh") == [0] * 10
    finally:
        database.dispose()
