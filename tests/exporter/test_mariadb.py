"""MySQL/MariaDB as a tested dialect, on a real MariaDB server started by the fixture.

The reference dataset gives exactly the figures it gives on SQLite and PostgreSQL
(tests/exporter/test_business.py), the analytics cycle gives the same recommendations as on
SQLite, and the exporter's session cannot write, runs in UTC and is interruptible.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from exporter.analytics.cycle import run_cycle
from exporter.db import Database, QueryError
from tests.conftest import ROOT
from tests.exporter.analytics import dataset as analytics_dataset
from tests.exporter.analytics.test_worked_examples import A_QTY, ACCURACY, B_QTY, D_QTY, E_QTY, G_QTY
from tests.exporter.test_business import assert_reference_values, collect, of
from tests.inventory_data import load, reference_dataset

pytestmark = [pytest.mark.mariadb, pytest.mark.timeout(180)]

# Minutes of work (a join of MariaDB's built-in sequence tables, 10^10 rows), so still
# running when it is interrupted. SLEEP() or BENCHMARK() would not do: interrupted, they
# return a value instead of failing.
SLOW_SQL = "SELECT COUNT(*) FROM seq_1_to_100000 a JOIN seq_1_to_100000 b ON a.seq + b.seq > 0"


async def test_every_contract_metric_on_the_reference_dataset(mariadb_db):
    url, _, _ = mariadb_db
    load(url, reference_dataset())
    assert_reference_values(await collect(url))


async def test_fulfillment_window_on_mariadb(mariadb_db):
    # :since is compared with the ISO-8601 text of created_at, as on the other dialects:
    # 48h also takes in o5 (30h old, fulfilled): pos 3 of 4.
    url, _, _ = mariadb_db
    load(url, reference_dataset())
    values = await collect(url, fulfillment_window="48h")
    assert of(values, "inventory_order_fulfillment_ratio")[("pos",)] == 0.75


async def test_empty_database_gives_zero_counts_and_no_ratio(mariadb_db):
    url, _, _ = mariadb_db
    values = await collect(url)
    assert of(values, "inventory_skus") == {}
    assert of(values, "inventory_order_fulfillment_ratio") == {}
    assert of(values, "inventory_audit_unlogged_movements") == {(): 0}
    assert of(values, "inventory_last_stock_movement_timestamp_seconds") == {}
    assert all(v == 0 for v in of(values, "inventory_data_quality_issues").values())


def test_analytics_cycle_gives_the_sqlite_numbers(mariadb_db, sqlite_db):
    # run_cycle builds the demand statements for the database's dialect: the
    # SKU-location key is CONCAT() on MySQL, where `||` would be a logical OR.
    url, _, _ = mariadb_db
    analytics_dataset.load(url.replace("mysql://", "mysql+pymysql://", 1))
    analytics_dataset.load(f"sqlite:///{sqlite_db}")
    maria, lite = Database(url), Database(f"sqlite:///{sqlite_db}")
    try:
        maria_result = run_cycle(maria, analytics_dataset.CONFIG, analytics_dataset.TODAY)
        lite_result = run_cycle(lite, analytics_dataset.CONFIG, analytics_dataset.TODAY)
    finally:
        maria.dispose()
        lite.dispose()
    assert {(v["sku"], v["location"]): v["quantity"] for v in maria_result.recommendations} == {
        ("A", "wh"): A_QTY,
        ("B", "wh"): B_QTY,
        ("G", "wh"): G_QTY,
        ("D", "store"): D_QTY,
        ("E", "store"): E_QTY,
    }
    assert maria_result.recommendations == lite_result.recommendations

    def order(result):
        return np.argsort(np.array([f"{s}@{loc}" for s, loc in zip(result.series.skus, result.series.locations)]))

    maria_order, lite_order = order(maria_result), order(lite_result)
    assert maria_result.demand.values.sum() > 0  # the demand rows matched their series
    np.testing.assert_array_equal(maria_result.demand.values[maria_order], lite_result.demand.values[lite_order])
    np.testing.assert_allclose(
        maria_result.reorder_point[maria_order], lite_result.reorder_point[lite_order], atol=1e-12
    )
    assert maria_result.accuracy == lite_result.accuracy
    assert maria_result.accuracy.abs_error == pytest.approx(ACCURACY["abs_error"])
    assert maria_result.demand.unknown_series_rows == lite_result.demand.unknown_series_rows == 11


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO locations (id, name, kind) VALUES ('x', 'Written', 'store')",
        "UPDATE products SET unit_cost = 0",
        "DELETE FROM stock_levels",
    ],
)
def test_the_exporter_session_cannot_write(mariadb_db, statement):
    url, server, name = mariadb_db
    load(url, reference_dataset())
    before = server.sql(
        "SELECT (SELECT COUNT(*) FROM locations), (SELECT SUM(unit_cost) FROM products), "
        "(SELECT COUNT(*) FROM stock_levels)",
        database=name,
    )
    database = Database(url, timeout=10)
    try:
        with pytest.raises(QueryError, match="READ ONLY"):
            database.fetch_all({"write": statement})
        # The session stays read-only for the next cycle on the same pooled connection.
        with pytest.raises(QueryError, match="READ ONLY"):
            database.fetch_all({"write": statement})
    finally:
        database.dispose()
    assert (
        server.sql(
            "SELECT (SELECT COUNT(*) FROM locations), (SELECT SUM(unit_cost) FROM products), "
            "(SELECT COUNT(*) FROM stock_levels)",
            database=name,
        )
        == before
    )


def test_the_exporter_session_is_utc_with_a_statement_timeout(mariadb_db):
    url, server, _ = mariadb_db
    assert server.sql("SELECT @@global.time_zone") == [(server.TIME_ZONE,)]  # the server's own zone is not UTC
    database = Database(url, timeout=2.5)
    try:
        result = database.fetch_all(
            {
                "session": "SELECT @@session.time_zone, @@session.max_statement_time, "
                "@@session.tx_read_only, "
                "UNIX_TIMESTAMP(CAST('1970-01-02 00:00:00' AS DATETIME))"
            }
        )
        zone, statement_time, read_only, one_day = result["session"].rows[0]
        assert (zone, float(statement_time), read_only, int(one_day)) == ("+00:00", 2.5, 1, 86400)
        started = time.monotonic()
        with pytest.raises(QueryError, match="max_statement_time"):
            database.fetch_all({"slow": SLOW_SQL})
        assert time.monotonic() - started < 10
    finally:
        database.dispose()


def test_interrupt_kills_the_running_statement(mariadb_db):
    url, _, _ = mariadb_db
    database = Database(url, timeout=60)  # the statement timeout must not be what stops it
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = database.fetch_all({"slow": SLOW_SQL})
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    try:
        time.sleep(1.0)
        assert worker.is_alive(), outcome
        database.interrupt()
        worker.join(20)
        assert not worker.is_alive()
        assert time.monotonic() - started < 20
        assert isinstance(outcome.get("error"), QueryError), outcome
        assert "interrupted" in str(outcome["error"]).lower()
        # The pooled session survives KILL QUERY and serves the next cycle.
        assert database.fetch_all({"one": "SELECT 1"})["one"].rows == [(1,)]
    finally:
        worker.join(5)
        database.dispose()


def test_the_password_comes_from_password_file_and_is_never_shown(mariadb_db, tmp_path):
    """database.password_file: the url names the user only; a password with URL
    metacharacters reaches MariaDB intact, and no output shows it, right or wrong."""
    url, server, name = mariadb_db
    load(url, reference_dataset())
    secret = "s3cr@t/pa:ss?#%"
    server.sql(
        f"CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY '{secret}'; GRANT SELECT ON {name}.* TO 'reader'@'127.0.0.1'"
    )
    password = tmp_path / "password"
    config = tmp_path / "exporter.yml"
    config.write_text(
        f"database: {{url: 'mysql://reader@127.0.0.1:{server.port}/{name}', password_file: '{password}'}}\n"
    )

    def check_database() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "exporter", "--config", str(config), "--check-database"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )

    password.write_text(secret + "\n")  # the newline echo leaves is dropped
    good = check_database()
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].endswith(" 0 failed")
    assert secret not in good.stdout + good.stderr

    password.write_text("wrong-" + secret)  # read again by the next start: a rotated file
    bad = check_database()
    assert bad.returncode == 1
    assert "Access denied for user 'reader'" in bad.stdout
    assert secret not in bad.stdout + bad.stderr
