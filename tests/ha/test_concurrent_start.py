"""Enhancers that start together on one PostgreSQL state: the schema is created (or
migrated) once, under an advisory lock, and every instance starts.

Each instance is a separate process (its own sessions, as in deploy/ha/), released at
the same moment by a barrier after its imports, so that their CREATE TABLEs and ALTER
TABLEs meet. Without the lock, one of two crashed with UniqueViolation
(pg_type_typname_nsp_index) or DuplicateTable in most rounds.
"""

from __future__ import annotations

import multiprocessing
import traceback

import pytest
from sqlalchemy import create_engine, inspect, text

from enhancer.state import SCHEMA_VERSION, database_url
from tests.enhancer.test_state_migrations import PRE_LEASE_LAYOUT, make_old_database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

ROUNDS = 5


def _start(urls: list[str], barrier, results, index: int) -> None:
    """One enhancer's start per database, as cli.py does it: open the state (create or
    migrate it), then the lease (its table, its first acquisition)."""
    from enhancer.lease import LeaderLease
    from enhancer.state import StateStore

    for url in urls:
        try:
            barrier.wait(60)  # every instance of the round at once
            store = StateStore(url)
            try:
                LeaderLease(store, ttl=5.0, holder=f"enhancer-{index}").acquire()
            finally:
                store.close()
            results.put((url, index, "ok"))
        except BaseException as exc:  # noqa: BLE001 - reported to the test, whatever it is
            results.put((url, index, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"))


def start_together(urls: list[str], count: int) -> dict[str, dict[int, str]]:
    """`count` processes start an enhancer on each database in turn, all at once on each
    (the processes are reused across the rounds: their imports take longer than a start)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    processes = [ctx.Process(target=_start, args=(urls, barrier, results, i)) for i in range(count)]
    for process in processes:
        process.start()
    outcomes: dict[str, dict[int, str]] = {url: {} for url in urls}
    try:
        for _ in range(count * len(urls)):
            url, index, outcome = results.get(timeout=120)
            outcomes[url][index] = outcome
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    return outcomes


def versions(url: str) -> list[int]:
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version FROM enhancer_schema_version ORDER BY 1"))]
    finally:
        engine.dispose()


def tables_and_columns(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return set(found.get_table_names()), {c["name"] for c in found.get_columns("enhancer_actions")}
    finally:
        engine.dispose()


def fresh_databases(postgres_server, label: str) -> list[str]:
    names = [f"concurrent_{label}_{round_}" for round_ in range(ROUNDS)]
    for name in names:
        postgres_server.run(postgres_server.DROP.format(name=name))
        postgres_server.run(f"CREATE DATABASE {name}")
    return names


@pytest.mark.parametrize("count", [2, 5])
def test_instances_started_together_on_an_empty_database_all_start(postgres_server, count):
    names = fresh_databases(postgres_server, f"empty_{count}")
    try:
        urls = [postgres_server.url(name) for name in names]
        outcomes = start_together(urls, count)
        for round_, url in enumerate(urls):
            assert outcomes[url] == {i: "ok" for i in range(count)}, f"round {round_}: {outcomes[url]}"
            # a new database is recorded at the current version, once
            assert versions(url) == [SCHEMA_VERSION]
            tables, columns = tables_and_columns(url)
            assert {"enhancer_actions", "enhancer_cooldowns", "enhancer_lease", "enhancer_schema_version"} <= tables
            assert {"fencing_token", "counterfactual", "effect"} <= columns
    finally:
        for name in names:
            postgres_server.run(postgres_server.DROP.format(name=name))


def test_instances_started_together_on_an_old_database_migrate_it_once(postgres_server):
    """The ALTER TABLEs of the migrations (fencing_token, then the effect's columns) on a
    database made before versioning, by five instances at once."""
    names = fresh_databases(postgres_server, "old")
    try:
        urls = [postgres_server.url(name) for name in names]
        for url in urls:
            make_old_database(url, PRE_LEASE_LAYOUT)
        outcomes = start_together(urls, 5)
        for round_, url in enumerate(urls):
            assert outcomes[url] == {i: "ok" for i in range(5)}, f"round {round_}: {outcomes[url]}"
            # version 1 (found unversioned) and each migration, each recorded once
            assert versions(url) == list(range(1, SCHEMA_VERSION + 1))
            _, columns = tables_and_columns(url)
            assert {"fencing_token", "counterfactual", "effect"} <= columns
    finally:
        for name in names:
            postgres_server.run(postgres_server.DROP.format(name=name))
