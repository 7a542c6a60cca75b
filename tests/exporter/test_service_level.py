"""Customer service level (issue 20): fill rate, on time, OTIF, backorders, on a hand-built
dataset with every edge, on SQLite, PostgreSQL and MariaDB.

The collector runs with a fixed clock (NOW), so every expected figure below is worked out
by hand from the rows. Definitions: docs/metrics.md, "Service level".
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from exporter.collectors.business import BusinessCollector
from exporter.config import BusinessConfig, DatabaseConfig
from exporter.db import Database
from tests.exporter.test_business import of, samples
from tests.inventory_data import iso, load

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
HOUR = 3600


def at(hours: float) -> str:
    """NOW + hours (negative: in the past), as the reference schema's text."""
    return iso(NOW + timedelta(hours=hours))


def order(id, channel, status, created, promised=None, fulfilled=None, lines=(), location=None):
    row = {
        "id": id,
        "channel": channel,
        "location_id": location,
        "status": status,
        "created_at": created if isinstance(created, str) else at(created),
        "promised_at": promised if promised is None or isinstance(promised, str) else at(promised),
        "fulfilled_at": fulfilled if fulfilled is None or isinstance(fulfilled, str) else at(fulfilled),
    }
    return row, [{"order_id": id, "sku": "A", "quantity": q, "fulfilled_quantity": f} for q, f in lines]


# (order, lines): the comment says what each one is and how it counts.
ORDERS = [
    # online --------------------------------------------------------------------------------
    # late: promised -10h, fulfilled -8h. Due (promise passed), decided at -10h, in full.
    order("late", "online", "fulfilled", -30, -10, -8, [(2, 2)]),
    # early: fulfilled -5h before its promise -2h. On time, in full: OTIF; decided at -5h.
    order("early", "online", "fulfilled", -20, -2, -5, [(1, 1), (3, 3)]),
    # early, promise still ahead (+20h): decided at its fulfilment (-1h), OTIF already.
    order("early-ahead", "online", "fulfilled", -3, 20, -1, [(1, 1)]),
    # partial: closed on time with a short line (4 ordered, 1 shipped): on time, not in full.
    order("partial", "online", "fulfilled", -12, -6, -7, [(4, 1), (2, 2)]),
    # over-shipped, fulfilled exactly at the promise: on time, in full, units capped at 2.
    order("over", "online", "fulfilled", -12, -4, -4, [(2, 5)]),
    # cancelled: in nothing, whatever its promise and lines.
    order("cancelled", "online", "cancelled", -12, -3, None, [(5, 0)]),
    # no promise: in no service-level figure (it is in the fulfilment ratio).
    order("no-promise", "online", "fulfilled", -2, None, -1, [(1, 0)]),
    # backordered, 4 of 10 shipped, promised -26h: due and late, decided before the window.
    order("backorder-old", "online", "backordered", -50, -26, None, [(10, 4)]),
    # backordered, promise ahead (+5h): not due yet; still an open backorder.
    order("backorder-new", "online", "backordered", -5, 5, None, [(3, 1)]),
    # backordered then fulfilled: promised -20h, fulfilled -1h. Late, in full.
    order("backorder-filled", "online", "fulfilled", -40, -20, -1, [(6, 6)]),
    # open, promise ahead: not due.
    order("open-ahead", "online", "open", -1, 2, None, [(1, 0)]),
    # open past its promise (-1h): due, late, nothing shipped.
    order("overdue", "online", "open", -10, -1, None, [(2, 0)]),
    # pos -----------------------------------------------------------------------------------
    # late by an hour, promised 1 minute before the 24h window: counted, not in the window.
    order("pos-edge-out", "pos", "fulfilled", -25, -24 - 1 / 60, -23, [(1, 1)]),
    # on time, fulfilled -23.5h: inside the window.
    order("pos-edge-in", "pos", "fulfilled", -25, -23, -23.5, [(1, 1)]),
    # no lines at all: on time and (vacuously) in full; no line, no unit.
    order("pos-no-lines", "pos", "fulfilled", -4, -2, -3),
    # wholesale: only a cancelled order and one without a promise -------------------------------
    order("ws-cancelled", "wholesale", "cancelled", -4, -2, None, [(1, 0)]),
    order("ws-no-promise", "wholesale", "open", -4, None, None, [(1, 0)]),
]


def dataset(orders=ORDERS) -> dict[str, list[dict]]:
    return {
        "locations": [{"id": "wh", "name": "Warehouse", "kind": "warehouse"}],
        "products": [
            {"sku": "A", "name": "Apple", "category": "fruit", "unit_cost": 1, "currency": "USD", "active": 1}
        ],
        "orders": [row for row, _ in orders],
        "order_lines": [line for _, lines in orders for line in lines],
    }


async def collect(url: str, now: datetime = NOW, **business) -> dict[tuple, float]:
    collector = BusinessCollector(Database(url, timeout=10), DatabaseConfig(url=url), BusinessConfig(**business))
    collector.clock = lambda: now
    try:
        return samples(await collector.collect())
    finally:
        await collector.close()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_url(request):
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('sqlite_db')}"
    if request.param == "postgresql":
        url, _, _ = request.getfixturevalue("postgres_db")
        return url
    url, *_ = request.getfixturevalue("mariadb_db")
    return url


async def test_every_edge_by_hand(database_url):
    load(database_url, dataset())
    values = await collect(database_url)

    # Due: online late, early, early-ahead, partial, over, backorder-old, backorder-filled,
    # overdue (8); pos all three; wholesale none, published at 0 (it has orders).
    assert of(values, "inventory_orders_due_total") == {("online",): 8, ("pos",): 3, ("wholesale",): 0}
    # On time: early, early-ahead, partial, over; pos edge-in and no-lines.
    assert of(values, "inventory_orders_on_time_total") == {("online",): 4, ("pos",): 2, ("wholesale",): 0}
    # In full (fulfilled, every line shipped): late, early, early-ahead, over, backorder-filled;
    # not partial (short line), backorder-old and overdue (not fulfilled). pos: all three.
    assert of(values, "inventory_orders_in_full_total") == {("online",): 5, ("pos",): 3, ("wholesale",): 0}
    # OTIF: early, early-ahead, over; pos edge-in and no-lines.
    assert of(values, "inventory_orders_otif_total") == {("online",): 3, ("pos",): 2, ("wholesale",): 0}

    # Window (24h): decided after -24h. online: all due but backorder-old (decided at -26h): 7.
    assert of(values, "inventory_order_on_time_ratio") == {("online",): pytest.approx(4 / 7), ("pos",): 1.0}
    assert of(values, "inventory_order_otif_ratio") == {("online",): pytest.approx(3 / 7), ("pos",): 1.0}
    # Lines of those 7: late 1/1, early 2/2, early-ahead 1/1, partial 1/2, over 1/1,
    # backorder-filled 1/1, overdue 0/1 -> 7 of 9. pos: edge-in 1/1 (no-lines adds none).
    assert of(values, "inventory_order_line_fill_ratio") == {("online",): pytest.approx(7 / 9), ("pos",): 1.0}
    # Units: 2/2 + 4/4 + 1/1 + 3/6 + 2/2 (5 shipped, capped at 2) + 6/6 + 0/2 -> 18 of 23.
    assert of(values, "inventory_order_unit_fill_ratio") == {("online",): pytest.approx(18 / 23), ("pos",): 1.0}
    # Nothing to measure on wholesale: no ratio at all, never 0.

    # Backorders: online backorder-old and backorder-new; the oldest was created 50h ago.
    assert of(values, "inventory_backorders") == {("online",): 2, ("pos",): 0, ("wholesale",): 0}
    assert of(values, "inventory_backorder_oldest_age_seconds") == {("online",): 50 * HOUR}

    quality = of(values, "inventory_data_quality_issues")
    assert quality[("order_line_invalid_quantity",)] == 0
    assert quality[("orders_bad_service_timestamp",)] == 0
    assert of(values, "inventory_exporter_query_success")[("business", "service_level")] == 1


async def test_the_window_is_configurable_and_moves_with_the_clock(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    load(url, dataset())
    # 48h also takes in backorder-old (late, 4 of 10 shipped) and pos-edge-out (late, in full).
    values = await collect(url, service_level_window="48h")
    assert of(values, "inventory_order_on_time_ratio") == {("online",): pytest.approx(4 / 8), ("pos",): 2 / 3}
    assert of(values, "inventory_order_unit_fill_ratio")[("online",)] == pytest.approx(22 / 33)
    # The fulfilment window is a setting of its own.
    assert BusinessConfig().service_level_window == 86400

    # Two hours earlier: early-ahead (fulfilled -1h) and overdue (promised -1h) were not due
    # yet, backorder-filled was due (promised -20h) but not fulfilled: late, not in full.
    earlier = await collect(url, now=NOW - timedelta(hours=2))
    assert of(earlier, "inventory_orders_due_total")[("online",)] == 6
    assert of(earlier, "inventory_orders_in_full_total")[("online",)] == 3  # late, early, over
    assert of(earlier, "inventory_orders_otif_total")[("online",)] == 2  # early, over
    # Counters only grow as the clock moves on over the same rows.
    for name in ("due", "on_time", "in_full", "otif"):
        metric = f"inventory_orders_{name}_total"
        assert all(of(earlier, metric)[k] <= v for k, v in of(values, metric).items()), name


async def test_dirty_rows_are_counted_and_skipped(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    orders = [
        # a promise that is no timestamp: no promise (in nothing), flagged
        order("bad-promise", "online", "fulfilled", -5, "tomorrow", -1, [(1, 1)]),
        # fulfilled with a promise but no fulfilled_at: due at its promise, late, flagged
        order("no-fulfilled-at", "online", "fulfilled", -5, -2, None, [(1, 1)]),
        # a line with quantity 0 and one shipped -1: both skipped, the order has one good line
        order("bad-lines", "online", "fulfilled", -5, -2, -3, [(0, 0), (2, -1), (2, 2)]),
    ]
    load(url, dataset(orders))
    values = await collect(url)
    assert of(values, "inventory_orders_due_total") == {("online",): 2}
    assert of(values, "inventory_orders_otif_total") == {("online",): 1}
    assert of(values, "inventory_order_line_fill_ratio") == {("online",): 1.0}  # no-fulfilled-at 1/1, bad-lines 1/1
    assert of(values, "inventory_order_unit_fill_ratio") == {("online",): 1.0}
    quality = of(values, "inventory_data_quality_issues")
    assert quality[("order_line_invalid_quantity",)] == 2
    assert quality[("orders_bad_service_timestamp",)] == 2


async def test_an_empty_database_publishes_no_service_level_series(sqlite_db):
    values = await collect(f"sqlite:///{sqlite_db}")
    for name in (
        "inventory_orders_due_total",
        "inventory_order_on_time_ratio",
        "inventory_order_otif_ratio",
        "inventory_order_line_fill_ratio",
        "inventory_backorders",
        "inventory_backorder_oldest_age_seconds",
    ):
        assert of(values, name) == {}, name


# --- the report's figures, through a real Prometheus -----------------------------------------
#
# The exporter runs over one database at a clock moving 10 minutes at a time across two UTC
# days (PREV = [D - 1d, D), DAY = [D, D + 1d)); its samples go into a real Prometheus
# (blocks built by promtool), and the report's service-level figures are evaluated there.

DAY_S = 86400


def _d() -> int:
    """A UTC midnight 4 days back: every block is older than Prometheus's head."""
    return int(time.time() // DAY_S) * DAY_S - 4 * DAY_S


D = _d()


def t(hours: float) -> str:
    return iso(datetime.fromtimestamp(D + hours * HOUR, UTC))


def timeline_orders():
    def o(id, channel, status, created, promised, fulfilled, lines):
        return order(
            id,
            channel,
            status,
            t(created),
            None if promised is None else t(promised),
            None if fulfilled is None else t(fulfilled),
            lines,
        )

    return [
        # PREV: due a, c; on time a; OTIF a; in full a (c ships in full only after midnight).
        o("a-prev-on-time", "online", "fulfilled", -20, -10, -12, [(1, 1)]),
        # created before midnight, fulfilled on time after it: DAY's order.
        o("b-across-midnight", "online", "fulfilled", -1, 2, 0.5, [(2, 2)]),
        # promised before midnight, shipped late after it: PREV's late order, DAY's in-full one.
        o("c-late-across-midnight", "online", "fulfilled", -30, -0.5, 1, [(1, 1)]),
        o("d-partial", "online", "fulfilled", 1, 5, 4, [(4, 2)]),
        o("e-overdue", "online", "open", 2, 6, None, [(3, 0)]),
        o("f-early", "online", "fulfilled", 8, 30, 9, [(1, 1)]),
        o("g-cancelled", "online", "cancelled", 1, 3, None, [(1, 0)]),
        o("h-no-promise", "online", "fulfilled", 2, None, 3, [(1, 1)]),
        o("i-next-day", "online", "fulfilled", 20, 26, 25, [(1, 1)]),
        # backordered for days: due (late) before both periods.
        o("j-old-backorder", "online", "backordered", -72, -48, None, [(5, 2)]),
        o("k-pos", "pos", "fulfilled", 3, 3, 3, [(1, 1)]),
    ]


SERIES = (
    "inventory_orders_due_total",
    "inventory_orders_on_time_total",
    "inventory_orders_in_full_total",
    "inventory_orders_otif_total",
    "inventory_order_unit_fill_ratio",
    "inventory_order_line_fill_ratio",
    "inventory_backorders",
    "inventory_backorder_oldest_age_seconds",
    "inventory_orders_stockout_exposed",
)
SAMPLE_TIMES = list(range(D - 26 * HOUR + 30, D + 25 * HOUR, 600))


async def _scrapes(url: str) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """{(metric, channel): [(unix time, value)]} of the exporter at every sample time."""
    collector = BusinessCollector(Database(url, timeout=10), DatabaseConfig(url=url), BusinessConfig())
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    try:
        for moment in SAMPLE_TIMES:
            collector.clock = lambda moment=moment: datetime.fromtimestamp(moment, UTC)
            for family in await collector.collect():
                for s in family.samples:
                    if s.name in SERIES:
                        series.setdefault((s.name, s.labels["channel"]), []).append((moment, s.value))
    finally:
        await collector.close()
    return series


@pytest.fixture(scope="module")
def report_figures(tmp_path_factory):
    import reporter.figures.evaluate as evaluate
    from reporter.config import Config
    from reporter.figures.service_level import service_level_specs
    from reporter.periods import period_containing
    from reporter.prometheus import Prometheus
    from tests.conftest import SCHEMA, PrometheusServer

    directory = tmp_path_factory.mktemp("service-level-prom")
    path = directory / "inventory.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.close()
    url = f"sqlite:///{path}"
    load(url, dataset(timeline_orders()))
    scraped = asyncio.run(_scrapes(url))

    source = directory / "series.om.txt"
    with source.open("w") as out:
        for name in SERIES:
            out.write(f"# TYPE {name} gauge\n")  # typed as gauges: promtool keeps the names as they are
            for (metric, channel), points in sorted(scraped.items()):
                if metric == name:
                    for moment, value in points:
                        out.write(
                            f'{name}{{job="inventory-exporter",instance="e1",channel="{channel}"}} {value!r} {moment}\n'
                        )
        out.write("# EOF\n")
    subprocess.run(
        ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(directory / "tsdb")],
        check=True,
        capture_output=True,
    )
    server = PrometheusServer(directory)
    config = Config.model_validate(
        {"prometheus": {"url": server.url, "rule_evaluation_interval": "60s"}, "output": {"resolution": "5m"}}
    )
    period = period_containing("daily", datetime.fromtimestamp(D, UTC).date(), UTC)
    assert period.start_ts == D

    async def run():
        async with aiohttp.ClientSession() as session:
            prom = Prometheus(server.url, session, retries=0)
            original = evaluate.SPECS, evaluate.CHARTS
            evaluate.SPECS, evaluate.CHARTS = service_level_specs(), []
            try:
                return await evaluate.compute(prom, config, period)
            finally:
                evaluate.SPECS, evaluate.CHARTS = original

    try:
        report = asyncio.run(run())
    finally:
        server.stop()
    figures = {(f.key, tuple(sorted(f.labels.items()))): f for f in report.figures}
    return figures, scraped


def _mean(points, start, end):
    values = [v for moment, v in points if start <= moment < end]
    return sum(values) / len(values)


@pytest.mark.prometheus
def test_period_ratios_are_weighted_by_the_orders_decided_in_the_period(report_figures):
    figures, _ = report_figures

    def fig(key, channel):
        return figures[(key, (("channel", channel),))]

    # DAY online: due b, d, e, f (4); on time b, d, f; OTIF b, f; in full b, f and c (shipped
    # in full after midnight). PREV: due a, c; on time a; OTIF a; in full a.
    for key, value, previous in (
        ("business.orders_due", 4, 2),
        ("business.on_time_ratio", 3 / 4, 1 / 2),
        ("business.otif_ratio", 2 / 4, 1 / 2),
        ("business.in_full_ratio", 3 / 4, 1 / 2),
    ):
        figure = fig(key, "online")
        assert figure.value == pytest.approx(value), key
        assert figure.previous == pytest.approx(previous), key
    otif = fig("business.otif_ratio", "online")
    assert otif.objective == 0.9 and otif.delta == pytest.approx(0.0)
    on_time = fig("business.on_time_ratio", "online")
    assert on_time.objective == 0.95 and on_time.delta == pytest.approx(0.25)
    # pos had no order due the day before: "undefined", never 0 or 100 %.
    pos = fig("business.otif_ratio", "pos")
    assert pos.value == 1.0 and pos.previous is None and pos.previous_note
    assert fig("business.orders_due", "pos").value == 1 and fig("business.orders_due", "pos").previous == 0


@pytest.mark.prometheus
def test_gauge_figures_are_the_period_statistics_of_the_exporter_samples(report_figures):
    figures, scraped = report_figures

    def fig(key, channel):
        return figures[(key, (("channel", channel),))]

    for key, metric in (
        ("business.unit_fill_ratio_mean", "inventory_order_unit_fill_ratio"),
        ("business.line_fill_ratio_mean", "inventory_order_line_fill_ratio"),
    ):
        points = scraped[(metric, "online")]
        assert fig(key, "online").value == pytest.approx(_mean(points, D, D + DAY_S)), key
        assert fig(key, "online").previous == pytest.approx(_mean(points, D - DAY_S, D)), key
    assert fig("business.backorders_mean", "online").value == 1.0  # j, the whole day
    assert fig("business.backorders_mean", "pos").value == 0.0
    # No stock row at all: no order waits on a stock-out, 0 (not "no data") on both days.
    exposed = fig("business.stockout_exposed_orders_mean", "online")
    assert (exposed.value, exposed.previous) == (0.0, 0.0)
    # j was created 72h before D: its age at the day's last sample (D + 1d - 570 s).
    age = fig("business.backorder_oldest_age_max_seconds", "online")
    assert age.value == 72 * HOUR + DAY_S - 570
    assert age.previous == 72 * HOUR - 570
    assert age.objective == 172800 and age.objective_op == "<="


def test_report_objectives_are_the_alert_thresholds():
    from grafana.generate import load_thresholds
    from reporter.config import Objectives

    objectives = Objectives()

    thresholds = load_thresholds()
    assert objectives.otif == thresholds["OTIF_TARGET_RATIO"]
    assert objectives.backorder_age_seconds == thresholds["BACKORDER_MAX_AGE_SECONDS"]


async def test_stockout_exposure_counts_waiting_orders_short_of_a_sku_out_of_stock_there(database_url):
    def line(order_id, sku, quantity, shipped):
        return {"order_id": order_id, "sku": sku, "quantity": quantity, "fulfilled_quantity": shipped}

    def stock(sku, location, on_hand, reserved=0):
        return {"sku": sku, "location_id": location, "on_hand": on_hand, "reserved": reserved, "updated_at": at(-1)}

    def product(sku, active=1):
        return {"sku": sku, "name": sku, "category": None, "unit_cost": 1, "currency": "USD", "active": active}

    orders = [
        order("e1", "online", "open", -2, location="wh")[0],  # A short, A out of stock at wh: exposed
        order("e2", "online", "backordered", -2, location="wh")[0],  # A shipped, B short but in stock: not
        order("e3", "online", "backordered", -2, location="wh")[0],  # B and A short: exposed (once)
        order("e4", "online", "fulfilled", -2, location="wh")[0],  # closed: not waiting
        order("e5", "pos", "open", -2, location="st")[0],  # A is in stock at st
        order("e6", "pos", "open", -2, location="st")[0],  # C is out of stock, but no longer sold
        order("e7", "wholesale", "open", -2)[0],  # no location: nothing to compare with
        order("e8", "online", "open", -2, location="wh")[0],  # Z has no stock row at wh
    ]
    load(
        database_url,
        {
            "locations": [
                {"id": "wh", "name": "Warehouse", "kind": "warehouse"},
                {"id": "st", "name": "Store", "kind": "store"},
            ],
            "products": [product("A"), product("B"), product("C", active=0), product("Z")],
            "stock_levels": [
                stock("A", "wh", 2, reserved=2),  # available 0: out of stock
                stock("B", "wh", 5),
                stock("A", "st", 3),
                stock("C", "st", -1),
            ],
            "orders": orders,
            "order_lines": [
                line("e1", "A", 2, 0),
                line("e2", "A", 3, 3),
                line("e2", "B", 2, 1),
                line("e3", "B", 1, 0),
                line("e3", "A", 4, 1),
                line("e4", "A", 1, 0),
                line("e5", "A", 1, 0),
                line("e6", "C", 1, 0),
                line("e7", "A", 1, 0),
                line("e8", "Z", 1, 0),
            ],
        },
    )
    values = await collect(database_url)
    assert of(values, "inventory_orders_stockout_exposed") == {("online",): 2, ("pos",): 0, ("wholesale",): 0}
    assert of(values, "inventory_exporter_query_success")[("business", "stockout_exposure")] == 1


def test_the_module_lists_its_figure_keys():
    from reporter.figures.service_level import KEYS, service_level_specs

    specs = service_level_specs()
    assert tuple(spec.key for spec in specs) == KEYS
    assert {spec.section for spec in specs} == {"business"} and all(spec.by == ("channel",) for spec in specs)
