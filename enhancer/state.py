"""Persistent state: the action log (which also holds budget usage and pending
verifications) and cooldowns, in SQLite by default or PostgreSQL.

Budget usage and pending verifications are queries over the action log rather than
tables of their own, so the row written before an action is sent is the one record
of it: nothing can disagree with it after a crash.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from enhancer.governance import Outcome
from servicekit.database import with_psycopg
from servicekit.prometheus import target_key

# what spends budget, besides actions in flight
ACTED_OUTCOMES = (Outcome.SUCCESS, Outcome.FAILED, Outcome.DRY_RUN)
# what is read again after verify.after: actions sent, and triggers held out as their control
VERIFIED_OUTCOMES = (Outcome.SUCCESS, Outcome.HELD_OUT)


class Status(StrEnum):
    """An action row's status (stored: never change a value)."""

    STARTED = "started"  # written before sending; its outcome is not known yet
    FINISHED = "finished"  # with its outcome


metadata = MetaData()

actions = Table(
    "enhancer_actions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("action_id", String(32), nullable=False, unique=True),
    Column("rule", String(100), nullable=False, index=True),
    Column("target", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(32)),
    Column("reason", Text, nullable=False, default=""),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("value", Float),
    Column("baseline", Float),
    Column("decided_at", Float, nullable=False, index=True),
    Column("finished_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("detail", Text),
    Column("verify_due_at", Float, index=True),
    Column("verified_at", Float),
    Column("value_after", Float),
    Column("improvement", Float),
    Column("improved", Boolean),
    # the leader's fencing token when the row was written (enhancer/lease.py); NULL single-instance
    Column("fencing_token", Integer),
    # what the signal would have been at verification without the action (the baseline's
    # prediction), and observed minus it signed so that > 0 is better (enhancer/effect.py)
    Column("counterfactual", Float),
    Column("effect", Float),
)

cooldowns = Table(
    "enhancer_cooldowns",
    metadata,
    Column("rule", String(100), primary_key=True),
    Column("target", Text, primary_key=True),
    Column("dry_run", Boolean, primary_key=True),
    Column("until", Float, nullable=False),
)


def database_url(state: str) -> str:
    """A plain path means SQLite; postgresql:// URLs use the psycopg 3 driver."""
    if "://" not in state:
        return f"sqlite:///{Path(state).expanduser().resolve()}"
    return with_psycopg(state)


class FencedOut(Exception):
    """A state write refused because this instance no longer holds the leader lease."""


# Called inside every write transaction with (connection, starting); returns the token to
# record or raises FencedOut. None: single instance, nothing to check.
Fence = Callable[[Connection, bool], "int | None"]


@dataclass(frozen=True)
class ActionRow:
    seq: int
    action_id: str
    rule: str
    labels: dict[str, str]
    status: str
    outcome: str | None
    reason: str
    dry_run: bool
    value: float | None
    baseline: float | None
    decided_at: float
    finished_at: float | None
    attempts: int
    detail: str | None
    verify_due_at: float | None
    verified_at: float | None
    value_after: float | None
    improvement: float | None
    improved: bool | None
    fencing_token: int | None = None
    counterfactual: float | None = None
    effect: float | None = None

    @property
    def target(self) -> str:
        return target_key(self.labels)  # the key the engine's values and cooldowns use

    def as_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class VerifiedMeasurement:
    rule: str
    held_out: bool
    value_after: float
    counterfactual: float | None
    effect: float | None


class StateStore:
    def __init__(self, state: str):
        self.url = database_url(state)
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.schema_found = migrate(self.engine)
        self.fence: Fence | None = None

    def _fenced(self, conn: Connection, starting: bool) -> int | None:
        return self.fence(conn, starting) if self.fence is not None else None

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -------------------------------------------------------------------------

    def start_action(
        self,
        *,
        action_id: str,
        rule: str,
        target: str,
        reason: str,
        dry_run: bool,
        value: float | None,
        baseline: float | None,
        now: float,
        cooldown_until: float,
    ) -> int | None:
        """Commit the action and its cooldown before anything is sent (write-ahead); returns
        the fencing token it is recorded under (None single-instance), the one it is sent under."""
        with self.engine.begin() as conn:
            token = self._fenced(conn, True)
            conn.execute(
                insert(actions).values(
                    action_id=action_id,
                    rule=rule,
                    target=target,
                    status=Status.STARTED,
                    outcome=None,
                    reason=reason,
                    dry_run=dry_run,
                    value=value,
                    baseline=baseline,
                    decided_at=now,
                    fencing_token=token,
                )
            )
            _set_cooldown(conn, rule, target, dry_run, cooldown_until)
        return token

    def finish_action(
        self,
        action_id: str,
        *,
        outcome: str,
        reason: str,
        attempts: int,
        detail: str | None,
        now: float,
        verify_due_at: float | None,
    ) -> bool:
        """False if the row is no longer `started`: a new leader has already resolved it."""
        with self.engine.begin() as conn:
            self._fenced(conn, False)
            changed = conn.execute(
                update(actions)
                .where(actions.c.action_id == action_id, actions.c.status == Status.STARTED)
                .values(
                    status=Status.FINISHED,
                    outcome=outcome,
                    reason=reason,
                    attempts=attempts,
                    detail=detail,
                    finished_at=now,
                    verify_due_at=verify_due_at,
                )
            ).rowcount
        return changed == 1

    def record_decision(
        self,
        *,
        action_id: str,
        rule: str,
        target: str,
        outcome: str,
        reason: str,
        dry_run: bool,
        value: float | None,
        baseline: float | None,
        now: float,
        cooldown_until: float | None = None,
        verify_due_at: float | None = None,
    ) -> None:
        """A decision that sends nothing (suppressed, dry run or held out), logged finished at once.

        A held-out trigger is verified as an action would be: `verify_due_at`."""
        with self.engine.begin() as conn:
            token = self._fenced(conn, True)
            conn.execute(
                insert(actions).values(
                    action_id=action_id,
                    rule=rule,
                    target=target,
                    status=Status.FINISHED,
                    outcome=outcome,
                    reason=reason,
                    dry_run=dry_run,
                    value=value,
                    baseline=baseline,
                    decided_at=now,
                    finished_at=now,
                    verify_due_at=verify_due_at,
                    fencing_token=token,
                )
            )
            if cooldown_until is not None:
                _set_cooldown(conn, rule, target, dry_run, cooldown_until)

    def resolve_interrupted(self, now: float) -> list[ActionRow]:
        """Actions the last process started but never finished.

        Whether the receiver got them is unknown; sending again could do the work twice,
        so they are recorded as failed (the receiver can dedupe by Idempotency-Key) and
        their cooldown, committed with them, still stands.
        """
        resolved = []
        with self.engine.begin() as conn:
            token = self._fenced(conn, False)
            by = f"; resolved by the leader with fencing token {token}" if token is not None else ""
            rows = conn.execute(select(actions).where(actions.c.status == Status.STARTED)).mappings().all()
            for row in rows:
                change = dict(
                    status=Status.FINISHED,
                    outcome=Outcome.FAILED,
                    finished_at=now,
                    reason=(row["reason"] + "; " if row["reason"] else "")
                    + f"outcome unknown: {_who_stopped(row['fencing_token'])} while sending; not re-sent "
                    f"(Idempotency-Key {row['action_id']}){by}",
                )
                conn.execute(update(actions).where(actions.c.seq == row["seq"]).values(**change))
                resolved.append(self._row({**row, **change}))
        return resolved

    def record_verification(
        self,
        action_id: str,
        *,
        now: float,
        value_after: float | None,
        improvement: float | None,
        improved: bool | None,
        note: str,
        counterfactual: float | None = None,
        effect: float | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            self._fenced(conn, False)
            row = conn.execute(select(actions.c.reason).where(actions.c.action_id == action_id)).scalar_one()
            conn.execute(
                update(actions)
                .where(actions.c.action_id == action_id)
                .values(
                    verified_at=now,
                    value_after=value_after,
                    improvement=improvement,
                    improved=improved,
                    counterfactual=counterfactual,
                    effect=effect,
                    reason=f"{row}; verified: {note}",
                )
            )

    def prune(self, now: float, keep_seconds: float) -> None:
        with self.engine.begin() as conn:
            self._fenced(conn, False)
            conn.execute(delete(cooldowns).where(cooldowns.c.until < now))
            conn.execute(
                delete(actions).where(
                    and_(actions.c.decided_at < now - keep_seconds, actions.c.status == Status.FINISHED)
                )
            )

    # -- reading -------------------------------------------------------------------------

    def cooldowns(self, dry_run: bool) -> dict[tuple[str, str], float]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(cooldowns).where(cooldowns.c.dry_run == dry_run)).all()
        return {(row.rule, row.target): row.until for row in rows}

    def budget_usage(self, since: float, dry_run: bool) -> dict[str, int]:
        """Actions per rule decided since `since` (sent, failed, in flight or dry run)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(actions.c.rule, func.count())
                .where(
                    actions.c.decided_at >= since,
                    actions.c.dry_run == dry_run,
                    or_(actions.c.status == Status.STARTED, actions.c.outcome.in_(ACTED_OUTCOMES)),
                )
                .group_by(actions.c.rule)
            ).all()
        return {rule: count for rule, count in rows}

    def due_verifications(self, now: float) -> list[ActionRow]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(actions)
                    .where(
                        actions.c.outcome.in_(VERIFIED_OUTCOMES),
                        actions.c.verify_due_at <= now,
                        actions.c.verified_at.is_(None),
                    )
                    .order_by(actions.c.seq)
                )
                .mappings()
                .all()
            )
        return [self._row(row) for row in rows]

    def recent_verdicts(self, rule: str, count: int) -> list[bool]:
        """The last `count` verification verdicts of a rule, newest first (absent signals skipped)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(actions.c.improved)
                .where(actions.c.rule == rule, actions.c.improved.is_not(None))
                .order_by(actions.c.verified_at.desc(), actions.c.seq.desc())
                .limit(count)
            ).all()
        return [bool(row.improved) for row in rows]

    def verified_measurements(self) -> list[VerifiedMeasurement]:
        """Every verified action and held-out trigger with a reading after, oldest first
        (what the rules' effect estimates are made of; rows are pruned with the log)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    actions.c.rule, actions.c.outcome, actions.c.value_after, actions.c.counterfactual, actions.c.effect
                )
                .where(
                    actions.c.outcome.in_(VERIFIED_OUTCOMES),
                    actions.c.verified_at.is_not(None),
                    actions.c.value_after.is_not(None),
                )
                .order_by(actions.c.seq)
            ).all()
        return [
            VerifiedMeasurement(
                row.rule, row.outcome == Outcome.HELD_OUT, row.value_after, row.counterfactual, row.effect
            )
            for row in rows
        ]

    def last_improvements(self) -> dict[str, float]:
        with self.engine.connect() as conn:
            newest = (
                select(actions.c.rule, func.max(actions.c.seq).label("seq"))
                .where(actions.c.improvement.is_not(None))
                .group_by(actions.c.rule)
                .subquery()
            )
            rows = conn.execute(
                select(actions.c.rule, actions.c.improvement).join(newest, actions.c.seq == newest.c.seq)
            ).all()
        return {rule: improvement for rule, improvement in rows}

    def list_actions(
        self, *, limit: int = 50, before: int | None = None, rule: str | None = None, outcome: str | None = None
    ) -> list[ActionRow]:
        query = select(actions).order_by(actions.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(actions.c.seq < before)
        if rule is not None:
            query = query.where(actions.c.rule == rule)
        if outcome is not None:
            query = query.where(actions.c.outcome == outcome)
        with self.engine.connect() as conn:
            return [self._row(row) for row in conn.execute(query).mappings().all()]

    @staticmethod
    def _row(row: RowMapping | Mapping[str, Any]) -> ActionRow:  # a row of the actions table
        data = dict(row)
        labels = json.loads(data.pop("target"))
        return ActionRow(labels=labels, **data)


def _who_stopped(token: int | None) -> str:
    if token is None:
        return "the enhancer stopped"
    # dead, or alive but deposed: it checks the lease before every attempt and stops (actions.py)
    return f"the leader with fencing token {token} stopped or lost its lease"


def _set_cooldown(conn: Connection, rule: str, target: str, dry_run: bool, until: float) -> None:
    # delete + insert is portable across SQLite and PostgreSQL inside one transaction
    conn.execute(
        delete(cooldowns).where(cooldowns.c.rule == rule, cooldowns.c.target == target, cooldowns.c.dry_run == dry_run)
    )
    conn.execute(insert(cooldowns).values(rule=rule, target=target, dry_run=dry_run, until=until))


# -- schema versions -----------------------------------------------------------------------
#
# Version 1 is the first layout: the action log and the cooldowns. Every later version is one
# migration below, applied in order at start, each recorded in enhancer_schema_version in the
# transaction that applies it. A new database gets the tables above as they are now and is
# recorded at SCHEMA_VERSION at once, so the tables above must always equal version 1 plus
# every migration. Each migration checks before it changes: a database from before versioning
# may already have it, and SQLite commits DDL at once, so a start cut off between a change and
# its record completes it next time.
#
# Enhancers that start together on one PostgreSQL state (an active/standby pair brought up at
# once) are serialised by a transaction-level advisory lock with a fixed key (lock_schema): the
# first creates or migrates the tables and commits, the others wait for it and then find the
# schema current. DDL is transactional on PostgreSQL, so nothing is half-done when the lock is
# released (at commit, rollback, or the end of the session of a process that died). The lease
# table (enhancer/lease.py) is created under the same lock.

schema_versions = Table(
    "enhancer_schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)


class SchemaTooNew(Exception):
    """The state database was migrated by a newer enhancer than this one."""


# pg_advisory_xact_lock's key for schema changes: "enhschem" as a bigint. Fixed, so that
# every enhancer version takes the same lock.
SCHEMA_LOCK_KEY = int.from_bytes(b"enhschem", "big")
# A start waits at most this long for another one's schema change, then fails (exit 2)
# with "canceling statement due to lock timeout" rather than hanging.
SCHEMA_LOCK_TIMEOUT = "60s"


def lock_schema(conn: Connection) -> None:
    """Serialise schema changes on PostgreSQL until this transaction ends; a no-op on SQLite
    (single-instance, and its writers are serialised by the database file's lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL lock_timeout = '{SCHEMA_LOCK_TIMEOUT}'"))
        conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))


def _columns(conn: Connection, table: Table) -> set[str]:
    return {column["name"] for column in inspect(conn).get_columns(table.name)}


def _add_fencing_token(conn: Connection) -> None:
    """The leader's fencing token on every action row (enhancer/lease.py); NULL on old rows."""
    if "fencing_token" not in _columns(conn, actions):
        conn.execute(text(f"ALTER TABLE {actions.name} ADD COLUMN fencing_token INTEGER"))


def _add_effect(conn: Connection) -> None:
    """The counterfactual and the effect of each verified action (enhancer/effect.py); NULL on old rows."""
    present = _columns(conn, actions)
    for name in ("counterfactual", "effect"):
        if name not in present:
            conn.execute(text(f"ALTER TABLE {actions.name} ADD COLUMN {name} FLOAT"))


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = ((2, _add_fencing_token), (3, _add_effect))
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(engine: Engine) -> int:
    """Bring the state database to SCHEMA_VERSION; returns the version it was found at
    (0: a new database; 1 also for one made before versioning)."""
    with engine.begin() as conn:
        lock_schema(conn)  # before looking: another start may be creating or migrating it
        made_before = inspect(conn).has_table(actions.name)
        schema_versions.create(conn, checkfirst=True)
        found = conn.execute(select(func.max(schema_versions.c.version))).scalar()
        if found is None and not made_before:
            metadata.create_all(conn, tables=[actions, cooldowns])
            _record_version(conn, SCHEMA_VERSION)
            return 0
        if found is None:
            # made before versioning: version 1, plus whatever that code had added ad hoc
            found = 1
            _record_version(conn, found)
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the state database is at schema version {found}, this enhancer knows "
                f"versions up to {SCHEMA_VERSION}: upgrade the enhancer"
            )
        for version, migration in MIGRATIONS:
            if version > found:
                migration(conn)
                _record_version(conn, version)
    return found


def _record_version(conn: Connection, version: int) -> None:
    conn.execute(insert(schema_versions).values(version=version, applied_at=time.time()))


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the HTTP API read while a poll cycle writes; FULL sync keeps the write-ahead
    # promise across power loss, not only across a crash of the process
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
