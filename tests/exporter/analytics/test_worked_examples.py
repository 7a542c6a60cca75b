"""Forecasts, safety stock, reorder points, recommendations and accuracy, worked out by hand.

The dataset (tests/exporter/analytics/dataset.py) is written to a real SQLite file and, in the
last test, to a real PostgreSQL database; both must give these numbers.

Config: z = NormalDist().inv_cdf(0.95) = 1.6448536..., default lead time L = 3 days with
sigma_L = 0, review period R = 5 days, pack size 1, SES alpha = Croston alpha = 0.5,
intermittent above 50 % zero days, accuracy window 4 days.

Safety stock over lead time plus review period, SS = z sqrt((L + R) sigma_d^2 + d^2 sigma_L^2);
reorder point ROP = d L + SS; order-up-to level S = d (L + R) + SS; inventory position
P = available + on order - backordered (no customer orders here, so backordered = 0);
order S - P, rounded up, when P <= ROP.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from exporter.analytics.cycle import compute, has_received_at, run_cycle, statements
from exporter.db import Database
from tests.exporter.analytics import dataset

Z = NormalDist().inv_cdf(0.95)

# --- A (wh): demand 2 4 4 6 2 4 6 4 4 4, no zero day -> SES, alpha 0.5, level starts at 2:
#     3, 3.5, 4.75, 3.375, 3.6875, 4.84375, 4.421875, 4.2109375, 4.10546875
A_D = 4.10546875
A_SD = 4 / 3  # mean 4; squared deviations 4+0+0+4+4+0+4+0+0+0 = 16; 16 / 9 -> sd 4/3
A_SS = Z * math.sqrt((3 + 5) * A_SD**2)  # L = 3 (default), R = 5, sigma_L = 0: z * 4/3 * sqrt(8) = 6.2031
A_ROP = A_D * 3 + A_SS  # 12.3164 + 6.2031 = 18.5195
A_S = A_D * 8 + A_SS  # 32.84375 + 6.2031 = 39.0469
# position 15 - 3 = 12 <= 18.52: 39.0469 - 12 = 27.05 -> 28
A_QTY = 28

# --- B (wh): 0 0 3 0 0 0 5 0 0 0, 80 % zero days -> Croston SBA, alpha 0.5.
#     first demand day 2: z = 3, p = 3 (days since the start); next day 6: interval 4,
#     z = 3 + 0.5 (5 - 3) = 4, p = 3 + 0.5 (4 - 3) = 3.5; d = (1 - 0.25) * 4 / 3.5 = 6/7
B_D = 6 / 7
B_VAR = (9 + 25 - 10 * 0.8**2) / 9  # sample variance 27.6 / 9
B_SS = Z * math.sqrt((6 + 5) * B_VAR)  # stored lead time 6, R = 5: Z * sqrt(33.7333) = 9.5534
B_ROP = B_D * 6 + B_SS  # 5.1429 + 9.5534 = 14.6962; position 10 <= 14.70
B_QTY = 9  # S = 11 * 6/7 + 9.5534 = 18.9819; ceil(18.9819 - 10) = ceil(8.9819)

# --- C (store): no demand at all: no_history, d = 0, SS = 0, ROP = 0; available 0 <= 0 but
#     the order-up-to level is 0 too, so nothing to order.
# --- D (store): 3 every day: d = 3, sd = 0 -> SS = 0, ROP = 9, S = 3 * 8 = 24; nothing
#     available; open purchase orders: draft 5 + sent 4 = 9 (received and cancelled ones do
#     not count): position 0 + 9 = 9 <= 9; 24 - 9 = 15
D_QTY = 15
# --- E (store): 2 every day, stored lead time 0: SS = 0, ROP = 0, S = 2 * 5 = 10;
#     position 0 <= 0; 10 - 0 = 10
E_QTY = 10
# --- F (wh): day 3 sold 1 and took back 4 (net -3, floored to 0), day 5 sold 2.
#     Croston: first demand day 5, p = 6, z = 2 -> d = 0.75 * 2/6 = 0.25
F_D = 0.25
F_SS = Z * math.sqrt((3 + 5) * (4 - 10 * 0.2**2) / 9)  # sample variance 0.4: Z * sqrt(3.2) = 2.9424
F_ROP = F_D * 3 + F_SS  # 3.6924; available 50: no order
# --- G (wh): 5 every day; received purchase orders took 2, 4 and 6 days -> L = 4 (observed
#     mean, nothing stored), sigma_L = 2 (sample sd); SS = Z * sqrt((4 + 5) * 0 + 25 * 4) = 10 Z
G_SS = 10 * Z
G_ROP = 5 * 4 + G_SS  # 36.4485; position 30 -> S = 5 * 9 + 10 Z = 61.4485; ceil(31.4485) = 32
G_QTY = 32

# --- Accuracy: fit on days 0..5, compare with days 6..9.
#     A: SES on 2 4 4 6 2 4 -> 3.6875; actual 6 4 4 4 (18): |err| 2.3125 + 3 * 0.3125 = 3.25, err -3.25
#     B: 0 0 3 0 0 0 -> Croston p 3, z 3 -> 0.75; actual 5 0 0 0: |err| 4.25 + 2.25 = 6.5, err 3 - 5 = -2
#     F: 0 0 0 0 0 2 -> Croston p 6, z 2 -> 0.25; actual 0: |err| 1, err +1
#     D, E, G: constant, exact; actual 12, 8, 20.  C: nothing.
ACCURACY = {"abs_error": 10.75, "actual": 18 + 5 + 12 + 8 + 20, "error": -3.25 - 2 + 1}

# --- One day ahead: the last day (9, 2026-05-10) forecast from days 0..8.
#     A: SES on 2 4 4 6 2 4 6 4 4 -> 4.2109375 (the levels above, one day fewer); actual 4: +0.2109375
#     B: 0 0 3 0 0 0 5 0 0, 7 of 9 zero days -> Croston 6/7 (as above); actual 0: +6/7
#     F: 0 0 0 0 0 2 0 0 0 -> Croston p 6, z 2 -> 0.25; actual 0: +0.25
#     D, E, G: constant, exact; actual 3, 2, 5.  C: nothing.
DAY_AHEAD = {
    "abs_error": 0.2109375 + 6 / 7 + 0.25,
    "actual": 4 + 3 + 2 + 5,
    "error": 0.2109375 + 6 / 7 + 0.25,
}


def _by_key(result):
    return {key: i for i, key in enumerate(zip(result.series.skus, result.series.locations))}


@pytest.fixture
def sqlite_result(sqlite_db):
    dataset.load(f"sqlite:///{sqlite_db}")
    database = Database(f"sqlite:///{sqlite_db}")
    try:
        yield run_cycle(database, dataset.CONFIG, dataset.TODAY)
    finally:
        database.dispose()


def test_demand_matrix_nets_returns_floors_days_and_skips_noise(sqlite_result):
    result = sqlite_result
    index = _by_key(result)
    assert ("H", "wh") not in index, "inactive products are not series"
    for key, expected in dataset.DAILY_DEMAND.items():
        assert result.demand.values[index[key]].tolist() == expected, key
    # F's day 3 would be -3 without the floor, and its total 2 - 3 = -1.
    assert result.demand.values[index[("F", "wh")]].sum() == 2
    # Unknown SKU ZZZ (1 grouped day) + inactive H (10 grouped days); the movement whose
    # occurred_at is no date ("2026-05-0x...") sorts inside day 8's range but is left out.
    assert result.demand.unknown_series_rows == 11


def test_forecasts_and_methods(sqlite_result):
    result = sqlite_result
    index = _by_key(result)
    d = result.forecast.daily_demand
    method = {key: ("ses", "croston_sba", "no_history")[result.forecast.method[i]] for key, i in index.items()}
    assert method == {
        ("A", "wh"): "ses",
        ("B", "wh"): "croston_sba",
        ("C", "store"): "no_history",
        ("D", "store"): "ses",
        ("E", "store"): "ses",
        ("F", "wh"): "croston_sba",
        ("G", "wh"): "ses",
    }
    assert d[index[("A", "wh")]] == pytest.approx(A_D, abs=1e-12)
    assert d[index[("B", "wh")]] == pytest.approx(B_D, abs=1e-12)
    assert d[index[("C", "store")]] == 0
    assert d[index[("D", "store")]] == pytest.approx(3)
    assert d[index[("E", "store")]] == pytest.approx(2)
    assert d[index[("F", "wh")]] == pytest.approx(F_D, abs=1e-12)
    assert d[index[("G", "wh")]] == pytest.approx(5)
    assert result.demand_std[index[("A", "wh")]] == pytest.approx(A_SD, abs=1e-12)


def test_safety_stock_reorder_points_and_lead_times(sqlite_result):
    result = sqlite_result
    index = _by_key(result)
    ss, rop, lead = result.safety_stock, result.reorder_point, result.lead_time
    expected = {
        ("A", "wh"): (A_SS, A_ROP, 3, 0, "default"),
        ("B", "wh"): (B_SS, B_ROP, 6, 0, "stored"),
        ("C", "store"): (0, 0, 3, 0, "default"),
        ("D", "store"): (0, 9, 3, 0, "default"),
        ("E", "store"): (0, 0, 0, 0, "stored"),
        ("F", "wh"): (F_SS, F_ROP, 3, 0, "default"),
        ("G", "wh"): (G_SS, G_ROP, 4, 2, "observed"),
    }
    for key, (want_ss, want_rop, want_l, want_sl, source) in expected.items():
        i = index[key]
        assert ss[i] == pytest.approx(want_ss, abs=1e-9), key
        assert rop[i] == pytest.approx(want_rop, abs=1e-9), key
        assert lead.mean[i] == pytest.approx(want_l, abs=1e-9), key
        assert lead.std[i] == pytest.approx(want_sl, abs=1e-9), key
        assert lead.source[i] == source, key
    a = index[("A", "wh")]
    assert result.order_up_to[a] == pytest.approx(A_S, abs=1e-9)
    assert result.position[a] == 12
    # D's single received purchase order has no receipt after it: nothing observed.
    assert lead.observations[index[("G", "wh")]] == 3
    assert lead.observations[index[("D", "store")]] == 0


def test_recommendations(sqlite_result):
    views = {(v["sku"], v["location"]): v for v in sqlite_result.recommendations}
    assert {k: v["quantity"] for k, v in views.items()} == {
        ("A", "wh"): A_QTY,
        ("B", "wh"): B_QTY,
        ("G", "wh"): G_QTY,
        ("D", "store"): D_QTY,
        ("E", "store"): E_QTY,
    }
    # Ordered by location, then SKU.
    assert [(v["location"], v["sku"]) for v in sqlite_result.recommendations] == [
        ("store", "D"),
        ("store", "E"),
        ("wh", "A"),
        ("wh", "B"),
        ("wh", "G"),
    ]
    d = views[("D", "store")]
    assert d["on_order"] == 9 and d["available"] == 0 and d["position"] == 9 and d["reorder_point"] == 9
    assert d["order_up_to"] == 24 and d["backordered"] == 0 and d["method"] == "ses"
    assert "inventory position 9 (available 0 + 9 on open purchase orders)" in d["reason"]
    assert "order up to 24.00" in d["reason"] and d["reason"].endswith(": 15 units")
    assert "zero lead time" in views[("E", "store")]["reason"]
    assert "croston_sba" in views[("B", "wh")]["reason"] and "(stored)" in views[("B", "wh")]["reason"]
    assert "(observed)" in views[("G", "wh")]["reason"]
    a = views[("A", "wh")]
    assert a["available"] == 12 and a["reorder_point"] == round(A_ROP, 3)
    assert a["forecast_daily_demand"] == round(A_D, 4)
    assert set(a) >= {
        "sku",
        "location",
        "quantity",
        "reason",
        "reorder_point",
        "available",
        "on_order",
        "forecast_daily_demand",
        "method",
    }


def test_pack_size_rounds_every_quantity_up(sqlite_db):
    dataset.load(f"sqlite:///{sqlite_db}")
    database = Database(f"sqlite:///{sqlite_db}")
    config = dataset.CONFIG.model_copy(update={"pack_size": 6})
    try:
        result = run_cycle(database, config, dataset.TODAY)
    finally:
        database.dispose()
    quantities = {(v["sku"], v["location"]): v["quantity"] for v in result.recommendations}
    # 27.05 -> 30, 8.98 -> 12, 31.45 -> 36, 15 -> 18, 10 -> 12
    assert quantities == {("A", "wh"): 30, ("B", "wh"): 12, ("G", "wh"): 36, ("D", "store"): 18, ("E", "store"): 12}
    assert "packs of 6" in result.recommendations[0]["reason"]


def test_accuracy_sums(sqlite_result):
    accuracy = sqlite_result.accuracy
    assert accuracy.abs_error == pytest.approx(ACCURACY["abs_error"], abs=1e-9)
    assert accuracy.actual == ACCURACY["actual"]
    assert accuracy.error == pytest.approx(ACCURACY["error"], abs=1e-9)


def test_day_ahead_sums_of_the_last_closed_day(sqlite_result):
    assert sqlite_result.day_accuracy_day == dataset.TODAY.replace(day=10)
    day = sqlite_result.day_accuracy
    assert day.abs_error == pytest.approx(DAY_AHEAD["abs_error"], abs=1e-9)
    assert day.actual == DAY_AHEAD["actual"]
    assert day.error == pytest.approx(DAY_AHEAD["error"], abs=1e-9)


@pytest.mark.postgres
def test_postgresql_gives_the_same_numbers(postgres_db, sqlite_db):
    url, _, _ = postgres_db
    dataset.load(url)
    dataset.load(f"sqlite:///{sqlite_db}")
    pg_database, lite_database = Database(url), Database(f"sqlite:///{sqlite_db}")
    try:
        pg = pg_database.fetch_all(statements(dataset.CONFIG), _params())
        lite = lite_database.fetch_all(statements(dataset.CONFIG), _params())
    finally:
        pg_database.dispose()
        lite_database.dispose()
    # run_cycle probes for the optional purchase_orders.received_at (present in the schema).
    pg_database = Database(url)
    try:
        assert has_received_at(pg_database)
        cycle = run_cycle(pg_database, dataset.CONFIG, dataset.TODAY)
    finally:
        pg_database.dispose()
    assert {(v["sku"], v["location"]): v["quantity"] for v in cycle.recommendations}[("A", "wh")] == A_QTY
    pg_result = compute(pg, dataset.CONFIG, dataset.TODAY)
    lite_result = compute(lite, dataset.CONFIG, dataset.TODAY)
    assert {(v["sku"], v["location"]): v["quantity"] for v in pg_result.recommendations} == {
        ("A", "wh"): A_QTY,
        ("B", "wh"): B_QTY,
        ("G", "wh"): G_QTY,
        ("D", "store"): D_QTY,
        ("E", "store"): E_QTY,
    }
    assert pg_result.recommendations == lite_result.recommendations
    pg_order = np.argsort(np.array([f"{s}@{loc}" for s, loc in zip(pg_result.series.skus, pg_result.series.locations)]))
    lite_order = np.argsort(
        np.array([f"{s}@{loc}" for s, loc in zip(lite_result.series.skus, lite_result.series.locations)])
    )
    np.testing.assert_array_equal(pg_result.demand.values[pg_order], lite_result.demand.values[lite_order])
    np.testing.assert_allclose(pg_result.reorder_point[pg_order], lite_result.reorder_point[lite_order], atol=1e-12)
    np.testing.assert_allclose(pg_result.lead_time.std[pg_order], lite_result.lead_time.std[lite_order], atol=1e-12)
    assert pg_result.accuracy == lite_result.accuracy
    assert pg_result.accuracy.abs_error == pytest.approx(ACCURACY["abs_error"])
    assert pg_result.demand.unknown_series_rows == 11


def _params():
    from exporter.analytics.cycle import parameters

    return parameters(dataset.CONFIG, dataset.TODAY)
