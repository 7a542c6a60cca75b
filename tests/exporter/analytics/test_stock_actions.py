"""The stock-action gauges of the analytics collector (issue 22): selling stock-outs with the
units a day they cost, SKUs that sell out before an order placed now arrives, and SKUs below
safety stock with nothing on order. Only replenished SKU-locations count."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from exporter.collectors.analytics import action_masks
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
    masks = action_masks(result, recent_days=7)  # type: ignore[arg-type]
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
