"""The safety stock formula against a published worked example, and its building blocks.

Published example (cited in docs/analytics.md): Nova Calculator, "Inventory Reorder Point
& Safety Stock Planner", https://www.novacalculator.com/inventoryreorderpointsafetystockplannercalculator/
  Example 1: d = 100/day (sigma 20), L = 7 days (sigma 2), 95 % with z = 1.65:
    sigma = sqrt(7 * 20^2 + 100^2 * 2^2) = sqrt(42800) = 207; SS = 1.65 * 207 = 342; ROP = 700 + 342 = 1042
  Example 2: d = 500/day (sigma 150), L = 3 days (sigma 1), 97 % with z = 1.88:
    sigma = sqrt(3 * 150^2 + 500^2 * 1^2) = sqrt(317500) = 564; SS = 1.88 * 564 = 1060; ROP = 1500 + 1060 = 2560
The page rounds sigma up to whole units, then SS to whole units, so its SS and ROP are
up to one unit above the unrounded result; z comes from its table (two decimals).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from exporter.analytics.recommendations import backorders, ceil_to_pack, inventory_position, recommended_quantities
from exporter.analytics.safety_stock import (
    demand_std,
    lead_times,
    match_receipts,
    observed_lead_times,
    reorder_point,
    safety_stock,
    z_value,
)


@pytest.mark.parametrize(
    "d, sd, lead, sl, z, sigma, ss, rop",
    [
        (100, 20, 7, 2, 1.65, 207, 342, 1042),
        (500, 150, 3, 1, 1.88, 564, 1060, 2560),
    ],
)
def test_published_worked_example(d, sd, lead, sl, z, sigma, ss, rop):
    computed_sigma = safety_stock(1.0, d, sd, lead, sl)  # z = 1: the lead-time demand deviation
    # The page's steps: sigma rounded up to whole units, SS rounded, ROP = d * L + SS.
    assert math.ceil(computed_sigma) == sigma
    assert round(z * math.ceil(computed_sigma)) == ss
    assert reorder_point(d, lead, ss) == rop
    # Unrounded, ours is at most one unit below the page's figures.
    computed_ss = safety_stock(z, d, sd, lead, sl)
    assert 0 <= ss - computed_ss < 1
    assert 0 <= rop - reorder_point(d, lead, computed_ss) < 1


def test_z_is_the_normal_quantile():
    assert z_value(0.95) == pytest.approx(1.6448536269514722, abs=1e-12)
    assert z_value(0.5) == pytest.approx(0.0, abs=1e-12)
    assert z_value(0.99) == pytest.approx(2.3263478740408408, abs=1e-12)
    # The page's table values are these quantiles to two decimals (1.6449 is quoted as 1.65).
    assert round(z_value(0.97), 2) == 1.88
    assert abs(z_value(0.95) - 1.65) < 0.006


def test_formula_reduces_to_its_special_cases():
    # Fixed lead time: z * sigma_d * sqrt(L); fixed demand: z * d * sigma_L.
    assert safety_stock(2.0, 10, 3, 4, 0) == pytest.approx(2 * 3 * 2)
    assert safety_stock(2.0, 10, 0, 4, 1.5) == pytest.approx(2 * 10 * 1.5)
    assert safety_stock(2.0, 10, 3, 0, 0) == 0


def test_demand_std_is_the_sample_deviation():
    demand = np.array([[2, 4, 4, 4, 5, 5, 7, 9], [3, 3, 3, 3, 3, 3, 3, 3]], dtype=float)
    assert demand_std(demand)[0] == pytest.approx(math.sqrt(32 / 7))
    assert demand_std(demand)[1] == 0


def test_observed_lead_times_and_precedence():
    index = {("A", "x"): 0, ("B", "x"): 1, ("C", "x"): 2}
    rows = [
        ("A", "x", "2026-01-01T00:00:00Z", "2026-01-03T12:00:00Z"),  # 2.5 days
        ("A", "x", "2026-01-10T00:00:00+00:00", "2026-01-13T12:00:00+00:00"),  # 3.5 days
        ("A", "x", "2026-01-20T00:00:00", "2026-01-23T00:00:00"),  # 3 days
        ("B", "x", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"),
        ("B", "x", "2026-01-01T00:00:00Z", None),  # never received: no observation
        ("C", "x", "not a time", "2026-01-05T00:00:00Z"),  # unparsable: no observation
        ("Z", "x", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),  # not a series
    ]
    count, mean, std = observed_lead_times(rows, index, 3)
    assert count.tolist() == [3, 1, 0]
    assert mean[0] == pytest.approx(3.0)
    assert std[0] == pytest.approx(0.5)
    stored = np.array([np.nan, 9.0, np.nan])
    lead = lead_times(stored, count, mean, std, default_days=7, default_std_days=1.5, min_samples=3)
    assert lead.mean.tolist() == pytest.approx([3.0, 9.0, 7.0])  # observed, stored, default
    assert lead.std.tolist() == pytest.approx([0.5, 1.5, 1.5])
    assert lead.source.tolist() == ["observed", "stored", "default"]


def test_ceil_to_pack_and_trigger():
    assert ceil_to_pack(np.array([0.0, 0.5, 6.0, 6.0000000000001, 6.2, -3.0]), 6).tolist() == [0, 6, 6, 6, 12, -0.0]
    quantity = recommended_quantities(
        position=np.array([5.0, 10.0, 10.000000000001, 20.0, 5.0, -3.0]),
        reorder_point=np.array([10.0, 10.0, 10.0, 10.0, 5.0, 0.0]),
        order_up_to=np.array([17.0, 17.0, 17.0, 17.0, 5.0, 10.0]),
        pack_size=1,
    )
    # below the reorder point -> 17 - 5 = 12; at it -> 7; at it but for float noise -> 7;
    # above it -> 0; at it with nothing to order up to -> 0; a negative position
    # (backorders) is ordered back up: 10 - (-3) = 13
    assert quantity.tolist() == [12, 7, 7, 0, 0, 13]


def test_backorders_are_what_is_owed_beyond_the_reserved_units():
    outstanding = np.array([5.0, 2.0, 0.0, 3.0])
    reserved = np.array([2.0, 2.0, 4.0, 0.0])
    # 5 owed, 2 of them reserved -> 3; all reserved -> 0; reserved without orders -> 0; 3.
    assert backorders(outstanding, reserved).tolist() == [3, 0, 0, 3]
    available = np.array([3.0, 1.0, 0.0, 1.0])
    on_order = np.array([0.0, 6.0, 0.0, 2.0])
    assert inventory_position(available, on_order, backorders(outstanding, reserved)).tolist() == [0, 7, 0, 0]


def test_match_receipts_first_in_first_out():
    day = 86400.0
    # Orders created on days 1, 4, 20 with receipts on days 6, 11, 26: each its own receipt.
    assert match_receipts([(1 * day, None), (4 * day, None), (20 * day, None)], [26 * day, 6 * day, 11 * day]) == [
        6 * day,
        11 * day,
        26 * day,
    ]
    # Only one receipt after two orders: the older order gets it, the newer none.
    assert match_receipts([(4 * day, None), (1 * day, None)], [6 * day]) == [None, 6 * day]
    # received_at wins and takes the receipt nearest to it out of the pool (day 6, not 11).
    assert match_receipts([(1 * day, None), (4 * day, 6.2 * day)], [6 * day, 11 * day]) == [11 * day, 6.2 * day]
    # A receipt before the order is never its receipt.
    assert match_receipts([(10 * day, None)], [6 * day]) == [None]
