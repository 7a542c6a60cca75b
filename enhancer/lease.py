"""Leader lease for active/standby enhancers that share one PostgreSQL state database.

Why a lease row and not `pg_advisory_lock`:

- An advisory lock belongs to one database session. It is released when that session
  ends, but a leader whose connection is half-open (a partition, a paused VM) keeps it
  until TCP keepalive gives up, and nothing tells a write from the old session apart
  from a write of the new leader: there is no fencing token.
- A row `(holder, token, expires_at)` is renewed in a transaction. Every acquisition by a
  new holder increments `token` (a fencing token, monotonic for the life of the
  database), and every state write re-reads the row `FOR SHARE` in its own transaction
  and is refused unless the token is still the writer's. A deposed leader's late write
  therefore fails at commit, whatever the leader believes, and a takeover (`FOR UPDATE`
  on the same row) waits for any write in progress to commit first, so the new leader
  sees every write-ahead row the old one managed to commit.
- Expiry is judged by the database's clock (`clock_timestamp()`), so clock skew between
  enhancer hosts does not matter; only the database's own clock does.
- The fence reaches the receiver too: before every attempt of an action, the sender asks
  `confirm(token)` whether it still leads under the token the action was recorded with,
  and stops when it does not (enhancer/actions.py), so a leader that wakes from a freeze
  deposed sends nothing more.

Where an advisory lock is right: schema changes. The lease table, like the state's
tables and migrations, is created under `pg_advisory_xact_lock` (state.lock_schema), so
that enhancers started together do not race on CREATE TABLE; DDL is transactional, so
the lock ends with the transaction and nothing needs fencing.

SQLite state stays single-instance: no lease, every write unfenced (cli.py decides).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Integer,
    String,
    Table,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from enhancer.state import FencedOut, StateStore, lock_schema, metadata

log = logging.getLogger("enhancer.lease")

LEASE_NAME = "enhancer"

lease_table = Table(
    "enhancer_lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
)


def default_holder() -> str:
    """Unique per process: a restarted enhancer is a new holder and gets a new token."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _db_now(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        # clock_timestamp(), not now(): now() is frozen at the start of the transaction
        return cast(func.extract("epoch", func.clock_timestamp()), Float)
    return literal_column("(julianday('now') - 2440587.5) * 86400.0")


@dataclass(frozen=True)
class LeaseStatus:
    leader: bool
    acquired: bool  # this call made us leader (a new term: resolve the old leader's actions)
    holder: str  # the current holder, as the row says
    token: int  # the current fencing token
    expires_in: float  # seconds until the row expires, by the database's clock


class LeaderLease:
    def __init__(self, store: StateStore, *, ttl: float, holder: str | None = None, name: str = LEASE_NAME):
        if ttl <= 0:
            raise ValueError("lease ttl must be > 0")
        self.store = store
        self.ttl = ttl
        self.holder = holder or default_holder()
        self.name = name
        self.token: int | None = None  # our token while we lead
        self.term: int | None = None  # the token of our latest term, kept after we lose it (messages)
        self.known_token = 0  # the latest token seen, ours or another holder's
        self.known_holder: str | None = None
        self.acquisitions = 0
        self._valid_until = 0.0  # local monotonic bound: at most ttl after the renewal began
        self._now = _db_now(store.engine.dialect.name)
        with store.engine.begin() as conn:
            lock_schema(conn)  # a pair started together would both CREATE TABLE (state.py)
            lease_table.create(conn, checkfirst=True)

    @property
    def is_leader(self) -> bool:
        return self.token is not None and time.monotonic() < self._valid_until

    def acquire(self) -> LeaseStatus:
        """Renew our lease, or take the row over if it expired; one transaction either way."""
        started = time.monotonic()
        try:
            with self.store.engine.begin() as conn:
                now = conn.execute(select(self._now)).scalar_one()
                row = (
                    conn.execute(select(lease_table).where(lease_table.c.name == self.name).with_for_update())
                    .mappings()
                    .first()
                )
                if row is None:
                    token = 1
                    conn.execute(
                        insert(lease_table).values(
                            name=self.name,
                            holder=self.holder,
                            token=token,
                            expires_at=now + self.ttl,
                            acquired_at=now,
                            renewed_at=now,
                        )
                    )
                    return self._won(token, started, acquired=True)
                if self.token is not None and row["holder"] == self.holder and row["token"] == self.token:
                    conn.execute(
                        update(lease_table)
                        .where(lease_table.c.name == self.name)
                        .values(expires_at=now + self.ttl, renewed_at=now)
                    )
                    return self._won(self.token, started, acquired=False)
                if row["expires_at"] <= now:
                    token = row["token"] + 1
                    conn.execute(
                        update(lease_table)
                        .where(lease_table.c.name == self.name)
                        .values(
                            holder=self.holder, token=token, expires_at=now + self.ttl, acquired_at=now, renewed_at=now
                        )
                    )
                    log.warning(
                        "lease: took over from %s (expired %.1fs ago); fencing token %d",
                        row["holder"],
                        now - row["expires_at"],
                        token,
                    )
                    return self._won(token, started, acquired=True)
                return self._lost(row["holder"], row["token"], row["expires_at"] - now)
        except IntegrityError:
            # another instance inserted the first row at the same moment: it leads
            return self._lost("?", self.known_token, 0.0)

    def release(self) -> None:
        """Expire our lease now (graceful shutdown), so a standby need not wait for the TTL."""
        if self.token is None:
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                update(lease_table)
                .where(
                    lease_table.c.name == self.name,
                    lease_table.c.holder == self.holder,
                    lease_table.c.token == self.token,
                )
                .values(expires_at=self._now)
            )
        log.info("lease: released (fencing token %d)", self.token)
        self.token = None

    def fence(self, conn: Connection, starting: bool) -> int:
        """Called inside every state write: refuse it unless we still hold the lease.

        `FOR SHARE` holds off a takeover until this transaction commits. A write that
        starts something new also needs an unexpired lease; finishing or resolving what we
        started only needs the token to be still ours.
        """
        row = conn.execute(
            select(lease_table.c.holder, lease_table.c.token, lease_table.c.expires_at, self._now.label("now"))
            .where(lease_table.c.name == self.name)
            .with_for_update(read=True)
        ).first()
        if row is None or self.token is None or row.token != self.token or row.holder != self.holder:
            current = "nobody" if row is None else f"{row.holder} (token {row.token})"
            mine = "this instance has not led" if self.term is None else f"fencing token {self.term} is not current"
            raise FencedOut(f"not the leader: {mine}; lease held by {current}")
        if starting and row.expires_at <= row.now:
            raise FencedOut(f"lease expired {row.now - row.expires_at:.1f}s ago; not starting anything")
        return self.token

    def confirm(self, token: int) -> str | None:
        """Whether this instance may still act under `token`: None if so, else why not.

        Asked before every attempt of an action (enhancer/actions.py), so that an instance
        frozen or cut off past its TTL sends nothing once it wakes. Two checks, the cheaper
        first: the local bound (`is_leader`, at most ttl after the last renewal began, on
        this host's monotonic clock) and the row itself, by the database's clock, which
        also holds when this host's clock stood still (a suspended VM).
        """
        if self.token != token:
            now = f"{self.known_holder} (token {self.known_token})" if self.known_holder else "nobody"
            return f"lost the lease: fencing token {token} is not current; lease held by {now}"
        if not self.is_leader:
            return f"lease not renewed within its ttl ({self.ttl:g}s): fencing token {token} not confirmed"
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(
                    lease_table.c.holder, lease_table.c.token, lease_table.c.expires_at, self._now.label("now")
                ).where(lease_table.c.name == self.name)
            ).first()
        if row is None or row.token != token or row.holder != self.holder:
            current = "nobody" if row is None else f"{row.holder} (token {row.token})"
            return f"lost the lease: fencing token {token} is not current; lease held by {current}"
        if row.expires_at <= row.now:
            return f"lease expired {row.now - row.expires_at:.1f}s ago: fencing token {token} not confirmed"
        return None

    def _won(self, token: int, started: float, *, acquired: bool) -> LeaseStatus:
        if acquired:
            self.acquisitions += 1
        self.token = self.term = self.known_token = token
        self.known_holder = self.holder
        self._valid_until = started + self.ttl
        return LeaseStatus(True, acquired, self.holder, token, self.ttl)

    def _lost(self, holder: str, token: int, expires_in: float) -> LeaseStatus:
        if self.token is not None:
            log.warning("lease: lost to %s (fencing token %d); standing by", holder, token)
        self.token = None
        self.known_token, self.known_holder = token, holder
        return LeaseStatus(False, False, holder, token, max(expires_in, 0.0))
