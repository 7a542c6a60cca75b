"""The state's schema version: a database made by the code before versioning (its CREATE
statements, frozen here as that code emitted them) is migrated in place, keeps its rows,
and ends with the layout of a new one; a second start changes nothing."""

from __future__ import annotations

import asyncio
import sys

import pytest
import yaml
from sqlalchemy import create_engine, inspect, text

from enhancer.state import SCHEMA_VERSION, SchemaTooNew, StateStore, actions, cooldowns, database_url, schema_versions
from servicekit.exitcodes import ExitCode

from .conftest import start_action
from .test_server import ROOT

# enhancer/state.py before versioning (metadata.create_all, then the ad-hoc ALTER TABLE
# for fencing_token); {serial} is INTEGER on SQLite, SERIAL on PostgreSQL.
TODAYS_LAYOUT = """
CREATE TABLE enhancer_actions (
    seq {serial} NOT NULL,
    action_id VARCHAR(32) NOT NULL,
    rule VARCHAR(100) NOT NULL,
    target TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    outcome VARCHAR(32),
    reason TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    value FLOAT,
    baseline FLOAT,
    decided_at FLOAT NOT NULL,
    finished_at FLOAT,
    attempts INTEGER NOT NULL,
    detail TEXT,
    verify_due_at FLOAT,
    verified_at FLOAT,
    value_after FLOAT,
    improvement FLOAT,
    improved BOOLEAN,
    fencing_token INTEGER,
    PRIMARY KEY (seq),
    UNIQUE (action_id)
);
CREATE INDEX ix_enhancer_actions_verify_due_at ON enhancer_actions (verify_due_at);
CREATE INDEX ix_enhancer_actions_decided_at ON enhancer_actions (decided_at);
CREATE INDEX ix_enhancer_actions_rule ON enhancer_actions (rule);
CREATE TABLE enhancer_cooldowns (
    rule VARCHAR(100) NOT NULL,
    target TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    until FLOAT NOT NULL,
    PRIMARY KEY (rule, target, dry_run)
);
"""
# the same before the leader lease added fencing_token
PRE_LEASE_LAYOUT = TODAYS_LAYOUT.replace("    fencing_token INTEGER,\n", "")


def make_old_database(state: str, layout: str) -> None:
    """The tables as the old code created them, with one finished action and its cooldown."""
    engine = create_engine(database_url(state))
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        for statement in layout.format(serial=serial).split(";"):
            if statement.strip():
                conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO enhancer_actions (action_id, rule, target, status, outcome, reason, dry_run, decided_at, "
                "finished_at, attempts) VALUES ('old1', 'po', '{}', 'finished', 'success', 'why', false, 100, 101, 1)"
            )
        )
        conn.execute(text("INSERT INTO enhancer_cooldowns VALUES ('po', '{}', false, 4000000000)"))
    engine.dispose()


def layout(store: StateStore) -> dict[str, dict[str, tuple[str, bool]]]:
    """Per table of the state: column -> (type, nullable)."""
    found = inspect(store.engine)
    return {
        table: {c["name"]: (str(c["type"]), c["nullable"]) for c in found.get_columns(table)}
        for table in sorted(found.get_table_names())
    }


def versions(store: StateStore) -> list[int]:
    with store.engine.connect() as conn:
        return [
            row.version for row in conn.execute(text("SELECT version FROM enhancer_schema_version ORDER BY version"))
        ]


def check_migrated(state: str) -> StateStore:
    """Open an old database with the new code: version, columns, rows; then start again."""
    store = StateStore(state)
    assert store.schema_found == 1  # no version table: made before versioning
    assert versions(store) == [1, 2, 3] == [1, 2, SCHEMA_VERSION]
    assert {table: list(columns) for table, columns in layout(store).items()} == {
        table.name: [column.name for column in table.columns] for table in (actions, cooldowns, schema_versions)
    }
    [old] = store.list_actions()
    assert (old.action_id, old.outcome, old.fencing_token) == ("old1", "success", None)
    assert (old.counterfactual, old.effect) == (None, None)
    assert store.cooldowns(False) == {("po", "{}"): 4000000000.0}
    # it works as a new one does: write-ahead rows get the next seq
    start_action(store, "new1", rule="po", now=200.0)
    assert [row.seq for row in store.list_actions()] == [old.seq + 1, old.seq]
    store.close()

    again = StateStore(state)  # a second start: nothing left to do
    assert again.schema_found == SCHEMA_VERSION and versions(again) == [1, 2, 3]
    assert len(again.list_actions()) == 2
    return again


@pytest.mark.parametrize("old_layout", [TODAYS_LAYOUT, PRE_LEASE_LAYOUT], ids=["today", "pre-lease"])
def test_a_database_from_before_versioning_is_migrated_in_place(tmp_path, old_layout):
    state = str(tmp_path / "old.db")
    make_old_database(state, old_layout)
    migrated = check_migrated(state)
    fresh = StateStore(str(tmp_path / "new.db"))
    assert fresh.schema_found == 0 and versions(fresh) == [SCHEMA_VERSION]
    assert layout(migrated) == layout(fresh)  # types and nullability too
    migrated.close()
    fresh.close()


@pytest.mark.postgres
def test_a_postgres_database_from_before_the_lease_is_migrated_in_place(empty_postgres_url):
    make_old_database(empty_postgres_url, PRE_LEASE_LAYOUT)
    check_migrated(empty_postgres_url).close()


def make_newer_database(state: str) -> None:
    """A state database as a future enhancer at schema version 99 leaves it."""
    StateStore(state).close()
    engine = create_engine(database_url(state))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO enhancer_schema_version VALUES (99, 0)"))
    engine.dispose()


def test_a_database_of_a_newer_enhancer_is_refused(tmp_path):
    state = str(tmp_path / "state.db")
    make_newer_database(state)
    with pytest.raises(SchemaTooNew, match=f"schema version 99, this enhancer knows versions up to {SCHEMA_VERSION}"):
        StateStore(state)


async def test_the_cli_exits_2_on_a_database_of_a_newer_enhancer(tmp_path):
    state = tmp_path / "state.db"
    make_newer_database(str(state))
    config = tmp_path / "enhancer.yml"
    config.write_text(yaml.safe_dump({"state": str(state), "rules": []}))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enhancer",
        "--config",
        str(config),
        "--once",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == ExitCode.CONFIG == 2
    assert "state: cannot open" in output.decode() and "schema version 99" in output.decode()


def test_a_version_2_database_gains_the_effect_columns(tmp_path):
    """Version 3 (issue 18): each verified action's counterfactual and effect; old rows keep NULL."""
    state = str(tmp_path / "v2.db")
    make_old_database(state, TODAYS_LAYOUT)
    engine = create_engine(database_url(state))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE enhancer_schema_version (version INTEGER PRIMARY KEY, applied_at FLOAT)"))
        conn.execute(text("INSERT INTO enhancer_schema_version VALUES (1, 0), (2, 0)"))
    engine.dispose()
    store = StateStore(state)
    assert store.schema_found == 2 and versions(store) == [1, 2, 3]
    assert {"counterfactual", "effect"} <= set(layout(store)["enhancer_actions"])
    [old] = store.list_actions()
    assert (old.counterfactual, old.effect) == (None, None)
    store.close()
