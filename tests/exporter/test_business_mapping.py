"""Schemas that are not ours: mappings replace built-ins, statements fail alone, dirty values are counted.

The foreign schema below is a small shop's own design (items, stores, inventory rows
with native numeric and timestamp columns), with none of the reference tables. Every
expected figure is computed here in Python from the rows inserted, by the meaning the
metric's name and docs/metrics.md give it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from exporter.business_catalogue import BUILTIN_STATEMENTS, METRICS, STOCK_METRICS
from exporter.collectors import build_collectors
from exporter.collectors.business import BusinessCollector
from exporter.config import BusinessConfig, DatabaseConfig, load_config
from exporter.db import Database
from tests.conftest import ROOT
from tests.exporter.test_business import of, samples
from tests.inventory_data import load, reference_dataset, stock

FOREIGN_DDL = [
    "CREATE TABLE item (id INTEGER PRIMARY KEY, code VARCHAR(32) NOT NULL, cost NUMERIC(12, 2), "
    "archived INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE store (id INTEGER PRIMARY KEY, label VARCHAR(32) NOT NULL)",
    "CREATE TABLE inventory (item_id INTEGER NOT NULL, store_id INTEGER NOT NULL, qty NUMERIC(14, 3) NOT NULL, "
    "allocated NUMERIC(14, 3) NOT NULL, min_qty NUMERIC(14, 3))",
    "CREATE TABLE sale (id INTEGER PRIMARY KEY, web INTEGER NOT NULL, state VARCHAR(16) NOT NULL, "
    "placed TIMESTAMP NOT NULL)",
]

ITEMS = [  # id, code, cost, archived
    (1, "TEA", 4.5, 0),
    (2, "MUG", 7.25, 0),
    (3, "POT", None, 0),
    (4, "OLD", 1.0, 1),
]
STORES = [(1, "north"), (2, "south")]
INVENTORY = [  # item, store, qty, allocated, min_qty
    (1, 1, 40, 5, 10),
    (2, 1, 3, 1, 5),
    (3, 1, 0, 0, 2),
    (1, 2, 12, 12, None),
    (2, 2, 8.5, 0, 4),
    (4, 2, 99, 0, 1),
]
SALE_STATES = {"new": "open", "shipped": "fulfilled", "void": "cancelled", "waiting": "backordered"}


def sales(now: datetime) -> list[tuple]:
    return [
        (1, 1, "new", now),
        (2, 1, "shipped", now),
        (3, 0, "shipped", now),
        (4, 0, "void", now),
        (5, 0, "waiting", now - timedelta(days=3)),
        (6, 1, "shipped", now - timedelta(days=9)),
    ]


# The user's mapping: six metrics, labels and meaning as docs/metrics.md defines them.
MAPPING = {
    "inventory_skus": """
        SELECT s.label AS location, COUNT(*) AS value
        FROM inventory i JOIN item t ON t.id = i.item_id JOIN store s ON s.id = i.store_id
        WHERE t.archived = 0 GROUP BY s.label""",
    "inventory_on_hand_units": """
        SELECT s.label AS location, SUM(i.qty) AS value
        FROM inventory i JOIN item t ON t.id = i.item_id JOIN store s ON s.id = i.store_id
        WHERE t.archived = 0 GROUP BY s.label""",
    "inventory_available_units": """
        SELECT s.label AS location, SUM(i.qty - i.allocated) AS value
        FROM inventory i JOIN item t ON t.id = i.item_id JOIN store s ON s.id = i.store_id
        WHERE t.archived = 0 GROUP BY s.label""",
    "inventory_stock_value": """
        SELECT s.label AS location, 'EUR' AS currency, SUM(i.qty * t.cost) AS value
        FROM inventory i JOIN item t ON t.id = i.item_id JOIN store s ON s.id = i.store_id
        WHERE t.archived = 0 AND t.cost IS NOT NULL AND i.qty > 0 GROUP BY s.label""",
    "inventory_low_stock_skus": """
        SELECT s.label AS location,
               SUM(CASE WHEN i.qty - i.allocated > 0 AND i.qty - i.allocated <= i.min_qty THEN 1 ELSE 0 END) AS value
        FROM inventory i JOIN item t ON t.id = i.item_id JOIN store s ON s.id = i.store_id
        WHERE t.archived = 0 GROUP BY s.label""",
    "inventory_orders": """
        SELECT CASE WHEN web = 1 THEN 'web' ELSE 'shop' END AS channel,
               CASE state WHEN 'new' THEN 'open' WHEN 'shipped' THEN 'fulfilled'
                          WHEN 'void' THEN 'cancelled' ELSE 'backordered' END AS status,
               COUNT(*) AS value
        FROM sale GROUP BY web, state""",
}
# A seventh mapping with a typo in a column: it alone must fail.
BROKEN = {
    "inventory_out_of_stock_skus": "SELECT s.label AS location, COUNT(*) AS value FROM store s "
    "JOIN inventory i ON i.store_id = s.id WHERE i.quantity <= 0 "
    "GROUP BY s.label"
}


def expected_figures(now: datetime) -> dict[str, dict[tuple, float]]:
    items = {i: (code, cost, archived) for i, code, cost, archived in ITEMS}
    stores = dict(STORES)
    rows = [(stores[s], qty, alloc, low, items[i]) for i, s, qty, alloc, low in INVENTORY if not items[i][2]]
    out: dict[str, dict[tuple, float]] = {m: {} for m in MAPPING}
    for store, qty, alloc, low, (_, cost, _) in rows:
        key = (store,)
        out["inventory_skus"][key] = out["inventory_skus"].get(key, 0) + 1
        out["inventory_on_hand_units"][key] = out["inventory_on_hand_units"].get(key, 0) + qty
        out["inventory_available_units"][key] = out["inventory_available_units"].get(key, 0) + qty - alloc
        if cost is not None and qty > 0:
            value_key = ("EUR", store)  # of() orders label values by label name: currency, location
            out["inventory_stock_value"][value_key] = out["inventory_stock_value"].get(value_key, 0) + qty * cost
        is_low = low is not None and 0 < qty - alloc <= low
        out["inventory_low_stock_skus"][key] = out["inventory_low_stock_skus"].get(key, 0) + is_low
    for _, web, state, _ in sales(now):
        key = ("web" if web else "shop", SALE_STATES[state])
        out["inventory_orders"][key] = out["inventory_orders"].get(key, 0) + 1
    return out


def create_foreign(url: str, now: datetime) -> None:
    engine = create_engine(_driver_url(url))
    with engine.begin() as conn:
        for ddl in FOREIGN_DDL:
            conn.execute(text(ddl))
        conn.execute(text("INSERT INTO item VALUES (:a, :b, :c, :d)"), [dict(zip("abcd", row)) for row in ITEMS])
        conn.execute(text("INSERT INTO store VALUES (:a, :b)"), [dict(zip("ab", row)) for row in STORES])
        conn.execute(
            text("INSERT INTO inventory VALUES (:a, :b, :c, :d, :e)"), [dict(zip("abcde", row)) for row in INVENTORY]
        )
        conn.execute(
            text("INSERT INTO sale VALUES (:a, :b, :c, :d)"),
            [dict(zip("abcd", (i, w, s, p.replace(tzinfo=None)))) for i, w, s, p in sales(now)],
        )
    engine.dispose()


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1).replace("mysql://", "mysql+pymysql://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        sqlite3.connect(path).close()
        return f"sqlite:///{path}"
    return request.getfixturevalue("empty_postgres_url")


async def collect(url: str, schema: str = "reference", **business) -> dict[tuple, float]:
    db_config = DatabaseConfig(url=url, schema=schema)
    collector = BusinessCollector(Database(url, timeout=10), db_config, BusinessConfig(**business))
    try:
        return samples(await collector.collect())
    finally:
        await collector.close()


def published_metrics(values: dict) -> set[str]:
    return {name.removesuffix("_total") if name.endswith("_total") else name for name, _ in values} & {
        m.removesuffix("_total") if m.endswith("_total") else m for m in METRICS
    }


async def test_custom_schema_publishes_exactly_what_is_mapped(empty_url):
    now = datetime.now(UTC)
    create_foreign(empty_url, now)
    values = await collect(empty_url, schema="custom", overrides={**MAPPING, **BROKEN})

    expected = expected_figures(now)
    for metric, figures in expected.items():
        assert of(values, metric) == pytest.approx(figures), metric
    # Exactly the six: the broken one and the nine nobody mapped have no series at all.
    assert published_metrics(values) == set(MAPPING)
    success = {query: v for (_, query), v in of(values, "inventory_exporter_query_success").items()}
    assert success == {**{m: 1 for m in MAPPING}, "inventory_out_of_stock_skus": 0}
    # No reference statement ran, so none of their data-quality checks claims a clean 0.
    checks = {check for (check,) in of(values, "inventory_data_quality_issues")}
    assert checks == {
        "null_value",
        "non_numeric_value",
        "non_finite_value",
        "duplicate_labels",
        "missing_label",
        "invalid_utf8",
    }


async def test_a_missing_reference_table_costs_only_its_own_metrics(database_url, caplog):
    load(database_url, reference_dataset())
    engine = create_engine(_driver_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_log"))
    engine.dispose()
    db_config = DatabaseConfig(url=database_url)
    collector = BusinessCollector(Database(database_url, timeout=10), db_config, BusinessConfig())
    caplog.set_level(logging.INFO, logger="exporter.business")
    try:
        first = samples(await collector.collect())
        second = samples(await collector.collect())
        assert caplog.text.count("business query audit_unlogged failed") == 1  # once, not every run
        for values in (first, second):
            success = {q: v for (_, q), v in of(values, "inventory_exporter_query_success").items()}
            assert success == {**{q: 1 for q in BUILTIN_STATEMENTS}, "audit_unlogged": 0}
            assert of(values, "inventory_audit_unlogged_movements") == {}
            # Every other figure is the reference one (PostgreSQL: the failed statement did
            # not abort the transaction the later ones run in).
            assert of(values, "inventory_on_hand_units") == {("st",): 8, ("wh",): 107}
            assert of(values, "inventory_integration_sync_conflicts_total") == {("shopify",): 3, ("square",): 0}

        engine = create_engine(_driver_url(database_url))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, movement_id INTEGER NULL, "
                    "actor TEXT NOT NULL, action TEXT NOT NULL, recorded_at TEXT NOT NULL)"
                )
            )
        engine.dispose()
        third = samples(await collector.collect())
        assert caplog.text.count("business query audit_unlogged recovered") == 1
        assert of(third, "inventory_audit_unlogged_movements") == {(): 5}  # every movement, none logged now
    finally:
        await collector.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('sqlite_db')}"
    return request.getfixturevalue("postgres_db")[0]


async def test_an_override_replaces_its_statement(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    # Every stock metric mapped: the stock_levels scan must not run at all.
    overrides = {m: f"SELECT 'x' AS location, {i} AS value" for i, m in enumerate(STOCK_METRICS)}
    overrides["inventory_stock_value"] = "SELECT 'x' AS location, 'EUR' AS currency, 5 AS value"
    values = await collect(url, overrides=overrides)
    queries = {q for (_, q) in of(values, "inventory_exporter_query_success")}
    assert "stock" not in queries
    assert set(STOCK_METRICS) <= queries
    for i, metric in enumerate(STOCK_METRICS):
        if metric != "inventory_stock_value":
            assert of(values, metric) == {("x",): i}
    assert of(values, "inventory_stock_value") == {("EUR", "x"): 5}
    checks = {check for (check,) in of(values, "inventory_data_quality_issues")}
    assert "negative_on_hand" not in checks  # that check belongs to the scan that did not run
    assert of(values, "inventory_orders")  # the unmapped statements still run


async def test_a_failed_override_leaves_its_metric_absent_not_built_in(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    values = await collect(url, overrides={"inventory_on_hand_units": "SELECT nope FROM nowhere"})
    assert of(values, "inventory_on_hand_units") == {}
    # The other stock metrics still come from the scan (the figures of test_business.py).
    assert of(values, "inventory_available_units") == {("st",): 3, ("wh",): 97}
    assert of(values, "inventory_exporter_query_success")[("business", "inventory_on_hand_units")] == 0
    # The only mapped statement failed: nothing was looked at for the value checks.
    assert ("null_value",) not in of(values, "inventory_data_quality_issues")


async def test_dirty_values_of_a_mapping_are_counted_never_coerced(tmp_path):
    path = tmp_path / "dirty.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE stock (loc TEXT, qty)")  # no type: SQLite keeps whatever it is given
    rows = [("a", 5), ("b", "12.5"), ("c", "n/a"), ("d", None), ("e", 1e308), ("f", 1e308), ("a", 1)]
    conn.executemany("INSERT INTO stock VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    url = f"sqlite:///{path}"
    values = await collect(
        url,
        schema="custom",
        overrides={
            # Per-row, so each dirty value reaches the exporter as it is; e and f overflow to +Inf.
            "inventory_on_hand_units": "SELECT loc AS location, CASE WHEN qty = 1e308 THEN qty * 10 ELSE qty END "
            "AS value FROM stock",
        },
    )
    assert of(values, "inventory_on_hand_units") == {("a",): 5, ("b",): 12.5}
    quality = {c: v for (c,), v in of(values, "inventory_data_quality_issues").items()}
    assert quality["non_numeric_value"] == 1  # c: 'n/a'
    assert quality["null_value"] == 1  # d
    assert quality["non_finite_value"] == 2  # e, f
    assert quality["duplicate_labels"] == 1  # the second a
    assert all(math.isfinite(v) for v in values.values())


async def test_reference_quantities_that_are_no_number_are_counted_and_never_summed(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    data = reference_dataset()
    data["stock_levels"] += [stock("C", "wh", 1e308), stock("C", "wh2", 1e308, reserved=-1e308)]
    load(url, data)
    raw = sqlite3.connect(sqlite_db)
    raw.execute(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) "
        "VALUES ('D', 'wh2', 'lots', 0, '2026-11-20T08:00:00Z')"
    )
    raw.commit()
    raw.close()
    values = await collect(url)
    assert all(math.isfinite(v) for v in values.values())
    assert of(values, "inventory_on_hand_units")[("wh",)] == 107  # the reference figure, untouched
    assert of(values, "inventory_on_hand_units")[("wh2",)] == 0
    assert of(values, "inventory_skus")[("wh2",)] == 2  # they are SKU-locations, of unknown stock
    assert of(values, "inventory_out_of_stock_skus")[("wh2",)] == 0
    assert of(values, "inventory_data_quality_issues")[("invalid_quantity",)] == 3


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exporter.yml"
    path.write_text(body)
    return path


def test_schema_custom_switches_analytics_off_with_one_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="exporter")
    config = load_config(
        write_config(
            tmp_path, f"database: {{url: 'sqlite:///{tmp_path}/x.db', schema: custom}}\nhost: {{enabled: false}}\n"
        )
    )
    names = [c.name for c in build_collectors(config)]
    assert names == ["business"]
    lines = [r.getMessage() for r in caplog.records if "analytics" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("analytics off")


@pytest.mark.parametrize(
    "body, problem",
    [
        ("database: {schema: ours}\n", "database.schema: unknown schema 'ours'; known: reference, custom"),
        (
            "database: {url: 'sqlite:///x.db', schema: odoo}\n",
            "database: schema 'odoo' is for postgresql databases, the url is sqlite",
        ),
        (
            "database: {schema: custom}\nintegrations: [{name: s, kind: rest_json, url: 'http://127.0.0.1:1/x', "
            "locations: {a: b}, sku_path: s, location_path: l, quantity_path: q}]\n",
            "integrations.0.database_sql: required when database.schema is not 'reference'",
        ),
        (
            "database: {url: 'sqlite:///x.db', password_file: /etc/hostname}\n",
            "database.password_file: a sqlite database has no password",
        ),
        (
            "database: {url: 'postgresql://u:inline@db/x', password_env: HOME}\n",
            "database.password_env: the url has a password already: give it in one place",
        ),
        (
            "database: {url: 'postgresql://u@db/x', password_file: /nonexistent/pw}\n",
            "database.password_file: cannot read /nonexistent/pw: No such file or directory",
        ),
        (
            "database: {url: 'postgresql://u@db/x', password_file: /etc/hostname, password_env: HOME}\n",
            "database.password_env: set password_env or password_file, not both",
        ),
    ],
)
def test_schema_mistakes_exit_2_with_one_line(tmp_path, body, problem):
    path = write_config(tmp_path, body)
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert problem in result.stderr, result.stderr


def test_check_database_on_a_good_and_a_broken_mapping(tmp_path):
    now = datetime.now(UTC)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    sqlite3.connect(tmp_path / "shop.db").close()
    create_foreign(url, now)

    def run(overrides: dict[str, str]) -> subprocess.CompletedProcess:
        import yaml

        path = write_config(
            tmp_path,
            yaml.safe_dump({"database": {"url": url, "schema": "custom"}, "business": {"overrides": overrides}}),
        )
        return subprocess.run(
            [sys.executable, "-m", "exporter", "--config", str(path), "--check-database"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    good = run(MAPPING)
    assert good.returncode == 0, good.stdout + good.stderr
    table = {line.split()[0]: line.split() for line in good.stdout.splitlines()[1:-1]}
    expected = expected_figures(now)
    for metric in MAPPING:
        assert table[metric][1] == metric  # fed by its own statement
        assert int(table[metric][3]) == len(expected[metric])  # series
    assert table["inventory_skus"][2] == "2"  # rows: one per store
    assert "not mapped: absent" in " ".join(table["inventory_audit_unlogged_movements"])
    assert good.stdout.splitlines()[-1] == f"{len(MAPPING)} statements, 0 failed"

    broken = run({**MAPPING, **BROKEN})
    assert broken.returncode == 1
    line = next(x for x in broken.stdout.splitlines() if x.startswith("inventory_out_of_stock_skus"))
    assert "no such column: i.quantity" in line
    assert broken.stdout.splitlines()[-1] == f"{len(MAPPING) + 1} statements, 1 failed"


def test_check_database_says_when_the_database_is_unreachable(tmp_path):
    path = write_config(tmp_path, f"database: {{url: 'sqlite:///{tmp_path}/missing.db'}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(path), "--check-database"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "cannot read the database" in result.stdout and "unable to open database file" in result.stdout


async def test_the_worked_example_of_the_docs_maps_what_it_says(empty_url):
    """The YAML in docs/configuration.md, "Map your own schema", run as written."""
    import yaml

    doc = (ROOT / "docs" / "configuration.md").read_text()
    section = doc[doc.index("**A worked example.**") :]
    block = section[section.index("```yaml") + len("```yaml") :]
    example = yaml.safe_load(block[: block.index("```")])
    assert example["database"]["schema"] == "custom"
    now = datetime.now(UTC)
    create_foreign(empty_url, now)
    values = await collect(empty_url, schema="custom", overrides=example["business"]["overrides"])

    expected = expected_figures(now)
    since = now - timedelta(hours=24)
    ratio: dict[tuple, list[int]] = {}
    for _, web, state, placed in sales(now):
        if state != "void" and placed >= since:
            counts = ratio.setdefault(("web" if web else "shop",), [0, 0])
            counts[0] += state == "shipped"
            counts[1] += 1
    expected["inventory_order_fulfillment_ratio"] = {k: shipped / total for k, (shipped, total) in ratio.items()}
    expected = {m: figures for m, figures in expected.items() if m in example["business"]["overrides"]}
    assert set(expected) == set(example["business"]["overrides"])
    for metric, figures in expected.items():
        assert of(values, metric) == pytest.approx(figures), metric
    assert published_metrics(values) == set(expected)


async def test_ready_after_a_failed_first_run_with_the_failure_served(aiohttp_client, tmp_path):
    """A failed first run counts as a first run: the snapshot holds the failure, and a
    readiness.wait_for on the collector is satisfied by it (the exporter is not held back)."""
    from exporter.runner import Runner
    from exporter.server import build_app

    url = f"sqlite:///{tmp_path / 'missing.db'}"
    collector = BusinessCollector(Database(url, timeout=2), DatabaseConfig(url=url), BusinessConfig())
    runner = Runner([collector], ready_after=["business"])
    client = await aiohttp_client(build_app(runner))
    assert (await client.get("/-/ready")).status == 503
    await runner.start()
    try:
        await asyncio.wait_for(runner.complete.wait(), 10)
        assert (await client.get("/-/ready")).status == 200
        body = await (await client.get("/metrics")).text()
        assert 'inventory_exporter_collector_success{collector="business"} 0.0' in body
    finally:
        await runner.stop()


def test_every_data_quality_check_and_statement_is_documented():
    from exporter.business_catalogue import DATA_QUALITY_CHECKS

    doc = (ROOT / "docs" / "metrics.md").read_text()
    for check in DATA_QUALITY_CHECKS:
        assert f"| `{check}` |" in doc, check
    for statement in BUILTIN_STATEMENTS:
        assert f"`{statement}`" in doc, statement


async def test_split_scan_pre_check_reads_only_tables_of_configured_statements(sqlite_db, monkeypatch):
    import exporter.db

    monkeypatch.setattr(exporter.db, "_cores", lambda: 2)  # the split path, whatever the machine
    checked: list[list[str]] = []
    original = exporter.db.Database._table_sizes

    def recording(self, statements):
        checked.append(sorted(s.table for s in statements.values()))
        return original(self, statements)

    monkeypatch.setattr(exporter.db.Database, "_table_sizes", recording)
    url = f"sqlite:///{sqlite_db}"
    load(url, reference_dataset())
    await collect(url)
    await collect(
        url, overrides={"inventory_stock_movements_total": "SELECT 'sale' AS kind, 'pos' AS source, 1 AS value"}
    )
    await collect(
        url,
        schema="custom",
        overrides={
            "inventory_skus": "SELECT location_id AS location, COUNT(*) AS value FROM stock_levels GROUP BY location_id"
        },
    )
    assert checked == [["stock_levels", "stock_movements"], ["stock_levels"]]


async def test_a_mapped_timestamp_metric_takes_the_column_as_it_is(empty_url):
    """SQLite returns the stored text, PostgreSQL a naive datetime: both are the moment, in UTC."""
    now = datetime.now(UTC)
    create_foreign(empty_url, now)
    values = await collect(
        empty_url,
        schema="custom",
        overrides={
            "inventory_last_stock_movement_timestamp_seconds": "SELECT MAX(placed) AS value FROM sale",
            # A moment is no count: only *_timestamp_seconds metrics read one.
            "inventory_skus": "SELECT 'north' AS location, MAX(placed) AS value FROM sale",
        },
    )
    newest = max(placed for *_, placed in sales(now))
    assert of(values, "inventory_last_stock_movement_timestamp_seconds") == {
        (): pytest.approx(newest.timestamp(), abs=1e-3)
    }
    assert of(values, "inventory_skus") == {}
    assert of(values, "inventory_data_quality_issues")[("non_numeric_value",)] == 1
