"""One portable way to run read-only SQL on SQLite, PostgreSQL or MySQL.

SQLAlchemy supplies the drivers, URLs and pooling; this module adds what a monitoring
reader needs on top: read-only access (a missing SQLite file is an error, never a new
empty database), a consistent snapshot for all statements of one cycle, per-statement
timeouts, and a way to interrupt a query that overran its collector's timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool


@dataclass(frozen=True)
class Dialect:
    """SQL fragments that differ between databases; everything else is shared."""

    name: str

    def valid_timestamp(self, column: str) -> str:
        """True where the column holds ISO-8601 UTC text (2026-11-22T14:05:00Z)."""
        if self.name == "sqlite":
            return (
                f"({column} GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]*')"
            )
        if self.name == "postgresql":
            return f"(CAST({column} AS TEXT) ~ '^[0-9]{{4}}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]')"
        return f"(CAST({column} AS CHAR) REGEXP '^[0-9]{{4}}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]')"


def _decode_text(raw: bytes) -> str:
    # Dirty data: invalid UTF-8 in SQLite text must not abort the whole query.
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def short_reason(exc: BaseException) -> str:
    """The driver's own one-line reason, without SQLAlchemy's background links."""
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return (text_.splitlines() or [type(exc).__name__])[0][:300]


class DatabaseUnavailable(Exception):
    """Connecting failed: missing file, server down, bad credentials."""


class QueryError(Exception):
    """A named statement failed; the message names it and keeps the driver's reason short."""

    def __init__(self, name: str, cause: Exception):
        super().__init__(f"query {name!r} failed: {short_reason(cause)}")
        self.name = name


class Database:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        self.timeout = timeout
        parsed = make_url(url)
        self.dialect = Dialect(parsed.get_backend_name())
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._active_dbapi_connection: Any = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        parsed = make_url(self.url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            path = parsed.database
            busy_ms = int(self.timeout * 1000 / 2)

            def connect() -> sqlite3.Connection:
                # mode=ro: never create or write the user's database.
                conn = sqlite3.connect(
                    f"file:{quote(path)}?mode=ro", uri=True, timeout=busy_ms / 1000, check_same_thread=False
                )
                conn.text_factory = _decode_text
                # We issue BEGIN ourselves (fetch_all): the driver's implicit transactions
                # start only before writes, which would give each SELECT its own snapshot.
                conn.isolation_level = None
                # Lets the GROUP BY sorter of the big stock scan use a second core.
                conn.execute("PRAGMA threads=2")
                return conn

            # A fresh connection per cycle is cheap for SQLite and sees a renamed or
            # restored file at once.
            return create_engine("sqlite://", creator=connect, poolclass=NullPool)
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            statement_ms = int(self.timeout * 1000)
            return create_engine(
                parsed,
                pool_size=1,
                max_overflow=1,
                pool_pre_ping=True,
                pool_recycle=300,
                connect_args={
                    "connect_timeout": max(1, int(self.timeout)),
                    "options": f"-c statement_timeout={statement_ms} -c default_transaction_read_only=on",
                    "application_name": "inventory-exporter",
                },
            )
        if parsed.drivername == "mysql":
            parsed = parsed.set(drivername="mysql+pymysql")
        return create_engine(
            parsed, pool_pre_ping=True, pool_recycle=300, connect_args={"connect_timeout": max(1, int(self.timeout))}
        )

    def fetch_all(self, statements: Mapping[str, str], params: Mapping[str, Any] | None = None) -> dict[str, QueryResult]:
        """Run named statements in one read-only transaction; return their results by name.

        One transaction gives every metric of a cycle the same view of the data.
        """
        results: dict[str, QueryResult] = {}
        with self._connect() as conn:
            with self._lock:
                self._active_dbapi_connection = conn.connection.dbapi_connection
            try:
                with conn.begin():
                    if self.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    elif self.dialect.name == "sqlite":
                        conn.exec_driver_sql("BEGIN")
                    for name, sql in statements.items():
                        try:
                            result = conn.execute(text(sql), dict(params or {}))
                        except Exception as exc:
                            raise QueryError(name, exc) from exc
                        results[name] = QueryResult(list(result.keys()), [tuple(row) for row in result])
            finally:
                with self._lock:
                    self._active_dbapi_connection = None
        return results

    def _connect(self):
        try:
            return self.engine.connect()
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {short_reason(exc)}") from exc

    def interrupt(self) -> None:
        """Abort the statement running in another thread (called on collector timeout)."""
        with self._lock:
            conn = self._active_dbapi_connection
        if conn is None:
            return
        if hasattr(conn, "interrupt"):  # sqlite3
            conn.interrupt()
        elif hasattr(conn, "cancel"):  # psycopg
            try:
                conn.cancel()
            except Exception:
                pass

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

