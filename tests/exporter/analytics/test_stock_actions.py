"""The stock-action gauges of the analytics collector (issue 22): selling stock-outs with the
units a day they cost, SKUs that sell out before an order placed now arrives, and SKUs below
safety stock with nothing on order. Only replenished SKU-locations count."""

from __future__ import annotations

from datetime import UTC, datetime, time
from types import SimpleNamespace

import numpy as np
import pytest

from exporter.analytics.config import AnalyticsConfig
from exporter.collectors.analytics import AnalyticsCollector, action_masks
from exporter.db import Database
from tests.exporter.analytics import dataset
from tests.exporter.analytics.test_collector import collector, samples, value  # noqa: F401


def fake_result(available, d, on_order, observations, lead_time, safety_stock, demand, reorder_point):
    return SimpleNamespace(
        series=SimpleNamespace(
            available=np.array(available, dtype=float), stored_reorder_point=np.array(reorder_point, dtype=float)
        ),
        forecast=SimpleNamespace(daily_demand=np.array(d, dtype=float)),
        on_order=np.array(on_order, dtype=float),
        lead_time=SimpleNamespace(observations=np.array(observations), mean=np.array(lead_time, dtype=float)),
        safety_stock=np.array(safety_stock, dtype=float),
        demand=SimpleNamespace(values=np.array(demand, dtype=float)),
        recent_demand=np.zeros(len(available)),
        recent_sales=np.zeros(len(available)),
    )


def test_action_masks_by_hand():
    # 0: best-seller sold out, bought in (observed lead times): a selling stock-out
    # 1: sold out, sold only 10 days ago: not selling recently
    # 2: dead item (never bought, never sold): normal, not counted
    # 3: sold out, sells, but never bought in (sold down): not counted
    # 4: 5 left, 2/day over a 3-day lead time, nothing on order: at risk and below safety stock 6
    # 5: same but an order is open: covered, in neither
    # 6: 50 left, 2/day: fine
    # 7: a store restocked by transfers (no purchase order ever) with a reorder point: sold
    #    out while selling, counted
    days = 14
    demand = np.zeros((8, days))
    demand[0, -1] = 9
    demand[1, 3] = 4
    demand[3, -2] = 1
    demand[4, :] = 2
    demand[5, :] = 2
    demand[6, :] = 2
    demand[7, -3] = 1
    nan = float("nan")
    result = fake_result(
        available=[0, 0, 0, -1, 5, 5, 50, 0],
        d=[9, 0.5, 0, 1, 2, 2, 2, 1],
        on_order=[0, 0, 0, 0, 0, 10, 0, 0],
        observations=[3, 3, 0, 0, 2, 0, 2, 0],
        lead_time=[3, 3, 3, 3, 3, 3, 3, 3],
        safety_stock=[4, 1, 0, 2, 6, 6, 6, 1],
        demand=demand,
        reorder_point=[nan, nan, 0, nan, nan, nan, nan, 4],
    )
    masks = action_masks(result, AnalyticsConfig(), recent_days=7)  # type: ignore[arg-type]
    assert masks["selling_out"].tolist() == [True, False, False, False, False, False, False, True]
    assert masks["at_risk"].tolist() == [False, False, False, False, True, False, False, False]
    assert masks["below_safety_unordered"].tolist() == [False, False, False, False, True, False, False, False]


async def test_stock_action_gauges_per_location(collector):  # noqa: F811
    found = samples(await collector.collect())
    # store: D sold out (3/day, purchase orders open) is a selling stock-out; E sold out too
    # but was never bought in and has no reorder point; C sells nothing.
    assert value(found, "inventory_stockout_selling_skus", location="store") == 1
    assert value(found, "inventory_stockout_demand_units_per_day", location="store") == pytest.approx(3)
    # wh: A (reorder point 10) has 12 available, nothing on order and sells 4.1/day over a
    # 3-day lead time: at risk. G (30 left, 5/day, lead time 4 d) is covered; B has 10 for
    # about 1/day; F was never bought in.
    assert value(found, "inventory_stockout_selling_skus", location="wh") == 0
    assert value(found, "inventory_stockout_demand_units_per_day", location="wh") == 0
    assert value(found, "inventory_stockout_risk_skus", location="wh") == 1
    assert value(found, "inventory_below_safety_stock_unordered_skus", location="wh") == 0
    assert value(found, "inventory_stockout_risk_skus", location="store") == 0


def test_surge_mask_by_hand():
    # A 3-hour window (w = 0.125 day), factor 4, at least 10 units, gone within 1 day:
    # 0: forecast 4/day (0.5 in the window), sold 12: at 96/day the 12 left last 0.125 d:
    #    a surge
    # 1: sold 8: under the 10-unit floor
    # 2: forecast 40/day (5 in the window, x4 = 20), sold 16: under the factor
    # 3: sold 12 but nothing left: a stock-out, not a surge
    # 4: sold 12 at 96/day, 200 left: they last 2.1 d, more than a day
    # 5: sold 12, never bought in and no reorder point: not replenished
    # 6: like 0, but the 12 units are one wholesale case (1 sale, not 3 or more)
    nan = float("nan")
    result = fake_result(
        available=[12, 12, 12, 0, 200, 12, 12],
        d=[4, 4, 40, 4, 4, 4, 4],
        on_order=[0] * 7,
        observations=[3, 3, 3, 3, 3, 0, 3],
        lead_time=[3] * 7,
        safety_stock=[0] * 7,
        demand=np.zeros((7, 14)),
        reorder_point=[nan] * 7,
    )
    result.recent_demand = np.array([12, 8, 16, 12, 12, 12, 12], dtype=float)
    result.recent_sales = np.array([5, 4, 8, 6, 6, 6, 1], dtype=float)
    config = AnalyticsConfig(surge_window="3h", surge_factor=4, surge_min_units=10, surge_min_sales=3, surge_cover="1d")
    masks = action_masks(result, config)  # type: ignore[arg-type]
    assert masks["surge"].tolist() == [True, False, False, False, False, False, False]


async def test_demand_surge_gauge_reads_the_last_window_of_sales(sqlite_db):
    """Through the database: the collector's clock is 12:00 on TODAY, so the surge window
    (3 h) is 09:00 to 12:00; the dataset's sale at 00:00 is before it."""
    url = f"sqlite:///{sqlite_db}"
    dataset.load(url)

    def sale(n: int, sku: str, location: str, quantity: int, at: str, kind: str = "sale") -> dict:
        return {
            "id": 1000 + n,
            "sku": sku,
            "location_id": location,
            "quantity": quantity,
            "kind": kind,
            "source": "pos",
            "occurred_at": f"2026-05-11T{at}Z",
        }

    dataset.load(
        url,
        {
            "stock_movements": [
                # A (12 available, forecast 4.105/day -> 0.51 in 3 h): 12 sold in 3 sales in
                # the window, 12 >= 10 and >= 4 x 0.51; 96/day empties 12 in 0.125 d (< 1 d):
                # a surge.
                sale(1, "A", "wh", -7, "10:00:00"),
                sale(2, "A", "wh", -3, "11:30:00"),
                sale(9, "A", "wh", -2, "11:45:00"),
                # B (10 available, 6/7 a day): 13 sold in one wholesale case, 2 back: 11 units
                # at 88/day, but one sale: no surge.
                sale(3, "B", "wh", -13, "09:00:00"),
                sale(4, "B", "wh", 2, "09:30:00", kind="return"),
                # G (30 available, 5/day): 9 in 3 sales from 10:00 on, under 10 units; the 8
                # sold at 08:59:59 are before the window (with them it would be a surge).
                sale(10, "G", "wh", -3, "10:00:00"),
                sale(11, "G", "wh", -3, "10:30:00"),
                sale(12, "G", "wh", -3, "11:00:00"),
                sale(6, "G", "wh", -8, "08:59:59"),
                # F (50 available) is never bought in and has no reorder point: not counted.
                sale(7, "F", "wh", -20, "10:00:00"),
                # D is sold out: a stock-out, not a surge.
                sale(8, "D", "store", -9, "10:00:00"),
            ]
        },
    )
    noon = datetime.combine(dataset.TODAY, time(12), tzinfo=UTC)
    surge_collector = AnalyticsCollector(Database(url), dataset.CONFIG, clock=lambda: noon)
    try:
        found = samples(await surge_collector.collect())
    finally:
        surge_collector.database.dispose()
    assert value(found, "inventory_demand_surge_skus", location="wh") == 1
    assert value(found, "inventory_demand_surge_skus", location="store") == 0
