"""One portable way to run read-only SQL on SQLite, PostgreSQL or MySQL.

SQLAlchemy supplies the drivers, URLs and pooling; this module adds what a monitoring
reader needs on top: read-only access (a missing SQLite file is an error, never a new
empty database), a consistent snapshot for all statements of one cycle, per-statement
timeouts, and a way to interrupt a query that overran its collector's timeout.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from servicekit.database import with_psycopg


@dataclass(frozen=True)
class Dialect:
    """SQL fragments that differ between databases; everything else is shared."""

    name: str

    def concat(self, *parts: str) -> str:
        """String concatenation of SQL expressions: on MySQL `||` is a logical OR."""
        if self.name == "mysql":
            return f"CONCAT({', '.join(parts)})"
        return " || ".join(parts)

    def valid_timestamp(self, column: str) -> str:
        """True where the column holds ISO-8601 UTC text (2026-11-22T14:05:00Z)."""
        if self.name == "sqlite":
            return f"({column} GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]*')"
        if self.name == "postgresql":
            return f"(CAST({column} AS TEXT) ~ '^[0-9]{{4}}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]')"
        return f"(CAST({column} AS CHAR) REGEXP '^[0-9]{{4}}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]')"


# The dialect of the reference schema's own default database.
SQLITE = Dialect("sqlite")


def _decode_text(raw: bytes) -> str:
    # Dirty data: invalid UTF-8 in SQLite text must not abort the whole query.
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Partitioned:
    """A grouped statement over one large table that may run in rowid ranges on several cores.

    The SQL holds `{rows}` where the range predicate of `alias` goes; its first
    `group_columns` columns are the GROUP BY key and every other column is a SUM or
    COUNT, so the partial results add up. SQLite runs a query on one core; splitting
    the scan of a million-row table across cores is what brings the cycle under a
    second. PostgreSQL parallelises by itself and gets the whole statement.
    """

    sql: str
    table: str
    alias: str
    group_columns: int


# One result row: the driver's values, whatever the statement selected.
Row = tuple[Any, ...]

# Below this many rows one core is fast enough and one snapshot is simpler.
PARALLEL_MIN_ROWS = 200_000


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _merge(partials: list[list[Row]], group_columns: int) -> list[Row]:
    merged: dict[Row, list[Any]] = {}
    for rows in partials:
        for row in rows:
            key, values = row[:group_columns], row[group_columns:]
            total = merged.get(key)
            if total is None:
                merged[key] = list(values)
            else:
                for i, value in enumerate(values):
                    if value is not None:
                        total[i] = value if total[i] is None else total[i] + value
    return [key + tuple(values) for key, values in merged.items()]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[Row]


def _fetch(conn: Connection, sql: str, params: Mapping[str, Any]) -> QueryResult:
    result = conn.execute(text(sql), dict(params))
    return QueryResult(list(result.keys()), [tuple(row) for row in result])


def _connection_lost(conn: Connection) -> bool:
    """True when the connection is gone (server stopped, network cut), not merely a bad statement."""
    try:
        return bool(conn.invalidated or conn.connection.dbapi_connection is None or conn.closed)
    except Exception:
        return True


def _whole_database(exc: BaseException) -> bool:
    """Errors that no other statement would escape: a locked SQLite file (each statement
    would wait out its busy timeout in turn)."""
    return "database is locked" in str(getattr(exc, "orig", None) or exc)


def short_reason(exc: BaseException) -> str:
    """The driver's own one-line reason, without SQLAlchemy's background links."""
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return (text_.splitlines() or [type(exc).__name__])[0][:300]


class DatabaseUnavailable(Exception):
    """Connecting failed: missing file, server down, bad credentials."""


class QueryError(Exception):
    """A named statement failed; the message names it and keeps the driver's reason short."""

    def __init__(self, name: str, cause: Exception):
        self.reason = short_reason(cause)
        super().__init__(f"query {name!r} failed: {self.reason}")
        self.name = name


class Database:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        self.timeout = timeout
        parsed = make_url(url)
        self.dialect = Dialect(parsed.get_backend_name())
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._active: set[Any] = set()  # DB-API connections running a statement now
        self._interrupts = 0  # bumped by interrupt(): a running cycle stops at its next statement

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
                if path is None:  # the config refuses such a URL; a Database built in code may not
                    raise ValueError("sqlite URL needs a file path: sqlite:///path/to/inventory.db")
                # mode=ro: never create or write the user's database.
                conn = sqlite3.connect(
                    f"file:{quote(path)}?mode=ro", uri=True, timeout=busy_ms / 1000, check_same_thread=False
                )
                conn.text_factory = _decode_text
                # We issue BEGIN ourselves (fetch_all): the driver's implicit transactions
                # start only before writes, which would give each SELECT its own snapshot.
                conn.isolation_level = None
                return conn

            # A fresh connection per cycle is cheap for SQLite and sees a renamed or
            # restored file at once.
            return create_engine("sqlite://", creator=connect, poolclass=NullPool)
        if backend == "postgresql":
            parsed = make_url(with_psycopg(self.url))
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
        if backend == "mysql":  # MySQL and MariaDB both answer mysql:// URLs
            return self._create_mysql_engine(parsed)
        return create_engine(
            parsed, pool_pre_ping=True, pool_recycle=300, connect_args={"connect_timeout": max(1, int(self.timeout))}
        )

    def _create_mysql_engine(self, parsed: URL) -> Engine:
        """MySQL and MariaDB through PyMySQL, each session read-only, in UTC, with a statement timeout."""
        if parsed.drivername == "mysql":
            parsed = parsed.set(drivername="mysql+pymysql")
        engine = create_engine(
            parsed,
            pool_size=1,
            max_overflow=1,
            pool_pre_ping=True,
            pool_recycle=300,
            connect_args={"connect_timeout": max(1, int(self.timeout)), "charset": "utf8mb4"},
        )
        timeout = self.timeout

        @event.listens_for(engine, "connect")
        def _session(dbapi_connection: Any, _record: object) -> None:
            # Every later transaction of the session is READ ONLY: a write fails with
            # "Cannot execute statement in a READ ONLY transaction". UTC, so that naive
            # DATETIME values (which the collector reads as UTC) and UNIX_TIMESTAMP() do
            # not depend on the server's zone. The statement timeout is MariaDB's
            # max_statement_time (seconds) or MySQL's max_execution_time (milliseconds,
            # SELECT only, which is all we run).
            mariadb = "mariadb" in dbapi_connection.get_server_info().lower()
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                cursor.execute("SET SESSION time_zone = '+00:00'")
                if mariadb:
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeout):.3f}")
                else:
                    cursor.execute(f"SET SESSION max_execution_time = {int(timeout * 1000)}")

        return engine

    def _kill_mysql_queries(self, connections: list[Any]) -> None:
        """KILL QUERY each connection's running statement, from a connection of our own
        (the pool's may all be busy); the sessions themselves stay usable."""
        import pymysql

        _, params = self.engine.dialect.create_connect_args(self.engine.url)
        params.update(connect_timeout=2, read_timeout=5, write_timeout=5)
        try:
            killer = pymysql.connect(**params)
        except Exception:
            return
        try:
            with killer.cursor() as cursor:
                for conn in connections:
                    try:
                        cursor.execute(f"KILL QUERY {int(conn.thread_id())}")
                    except Exception:  # the statement finished meanwhile
                        pass
        finally:
            killer.close()

    def fetch_all(
        self,
        statements: Mapping[str, str | Partitioned],
        params: Mapping[str, Any] | None = None,
        consume: Callable[[str, QueryResult], bool] | None = None,
        errors: dict[str, QueryError] | None = None,
        durations: dict[str, float] | None = None,
    ) -> dict[str, QueryResult]:
        """Run named statements in one read-only transaction; return their results by name.

        One transaction gives every metric of a cycle the same view of the data. The one
        exception: on SQLite, Partitioned statements over a large table run on the other
        cores in transactions of their own, started at the same moment.

        `consume(name, result)`, when given, sees each plain statement's result as soon
        as it is read; a result it returns True for is not kept (big results can be
        reduced one statement at a time).

        Without `errors`, the first failing statement raises QueryError. With it, each
        statement fails alone: its error is put there, its result left out, and the rest
        still run (on PostgreSQL each inside a savepoint, since one error there aborts the
        whole transaction). `durations` receives each statement's seconds. A failed
        connection always raises DatabaseUnavailable.
        """
        params = dict(params or {})
        plain = {
            n: (s.sql.replace("{rows}", "1 = 1") if isinstance(s, Partitioned) else s) for n, s in statements.items()
        }
        parallel: dict[str, Partitioned] = {}
        if self.dialect.name == "sqlite" and _cores() > 1:
            parallel = {n: s for n, s in statements.items() if isinstance(s, Partitioned)}
        if not parallel:
            return self._run(plain, params, consume, errors, durations)
        sizes = self._table_sizes(parallel)  # the row counts decide whether splitting pays
        parallel = {n: s for n, s in parallel.items() if sizes[n] >= PARALLEL_MIN_ROWS}
        if not parallel:
            return self._run(plain, params, consume, errors, durations)
        workers = _cores()
        jobs = []
        for name, statement in parallel.items():
            del plain[name]
            sql = statement.sql.replace("{rows}", f"{statement.alias}.rowid BETWEEN :part_lo AND :part_hi")
            bounds = [(i * sizes[name] // workers + 1, (i + 1) * sizes[name] // workers) for i in range(workers)]
            jobs += [
                (name, {f"{name}#{i}": sql}, {**params, "part_lo": lo, "part_hi": hi})
                for i, (lo, hi) in enumerate(bounds)
            ]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(jobs) + 1, thread_name_prefix="sql") as pool:
            rest = pool.submit(self._run, plain, params, consume, errors, durations)
            parts = [(name, pool.submit(self._run, stmts, p)) for name, stmts, p in jobs]
            results = rest.result()
            partials: dict[str, list[QueryResult]] = {}
            failed: dict[str, QueryError] = {}
            for name, future in parts:
                try:
                    partials.setdefault(name, []).extend(future.result().values())
                except QueryError as exc:
                    if errors is None:
                        raise
                    failed.setdefault(name, exc)
        elapsed = time.perf_counter() - started
        for name, pieces in partials.items():
            if durations is not None:
                durations[name] = elapsed
            if name in failed:
                errors[name] = failed[name]  # type: ignore[index]  # failed is empty without errors
                continue
            rows = _merge([piece.rows for piece in pieces], parallel[name].group_columns)
            results[name] = QueryResult(pieces[0].columns, rows)
        return {name: results[name] for name in statements if name in results}

    def _table_sizes(self, statements: Mapping[str, Partitioned]) -> dict[str, int]:
        """MAX(rowid) of each statement's table; 0 where it cannot be read (the statement
        itself then runs whole and reports its own error)."""
        sizes: dict[str, int] = {}
        with self._connect() as conn:
            for name, statement in statements.items():
                try:
                    sizes[name] = conn.exec_driver_sql(f"SELECT MAX(rowid) FROM {statement.table}").scalar() or 0
                except Exception as exc:
                    if _whole_database(exc):
                        raise DatabaseUnavailable(short_reason(exc)) from exc
                    sizes[name] = 0
        return sizes

    def _run(
        self,
        statements: Mapping[str, str],
        params: Mapping[str, Any],
        consume: Callable[[str, QueryResult], bool] | None = None,
        errors: dict[str, QueryError] | None = None,
        durations: dict[str, float] | None = None,
    ) -> dict[str, QueryResult]:
        results: dict[str, QueryResult] = {}
        savepoints = errors is not None and self.dialect.name == "postgresql"
        interrupts = self._interrupts
        with self._connect() as conn:
            raw = conn.connection.dbapi_connection
            with self._lock:
                self._active.add(raw)
            try:
                with conn.begin():
                    if self.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    elif self.dialect.name == "sqlite":
                        conn.exec_driver_sql("BEGIN")
                    for name, sql in statements.items():
                        if self._interrupts != interrupts:
                            raise QueryError(name.split("#")[0], RuntimeError("interrupted: the run timed out"))
                        started = time.perf_counter()
                        try:
                            if savepoints:
                                with conn.begin_nested():
                                    fetched = _fetch(conn, sql, params)
                            else:
                                fetched = _fetch(conn, sql, params)
                        except Exception as exc:
                            error = QueryError(name.split("#")[0], exc)
                            if errors is None:
                                raise error from exc
                            errors[name] = error
                            if _connection_lost(conn) or _whole_database(exc):
                                raise DatabaseUnavailable(short_reason(exc)) from exc
                            continue
                        finally:
                            if durations is not None:
                                durations[name] = time.perf_counter() - started
                        if consume is None or not consume(name, fetched):
                            results[name] = fetched
            finally:
                with self._lock:
                    self._active.discard(raw)
        return results

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {short_reason(exc)}") from exc

    def interrupt(self) -> None:
        """Abort the statements running in other threads (called on collector timeout)."""
        with self._lock:
            self._interrupts += 1
            active = list(self._active)
        for conn in active:
            if hasattr(conn, "interrupt"):  # sqlite3
                conn.interrupt()
            elif hasattr(conn, "cancel"):  # psycopg
                try:
                    conn.cancel()
                except Exception:
                    pass
        mysql = [conn for conn in active if hasattr(conn, "thread_id")]  # pymysql
        if mysql:
            self._kill_mysql_queries(mysql)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


T = TypeVar("T")


class OffThread:
    """A collector's blocking database work, run in a worker thread one run at a time.

    The runner cancels a run that overruns its timeout; the thread cannot be cancelled, so
    the database's statements are interrupted instead. Until that thread has ended, the
    next run is refused (RuntimeError) rather than piling up threads; an abandoned run's
    error is consumed here, not logged as never retrieved.
    """

    def __init__(self, database: Database, busy: str = "previous database query still running"):
        self.database = database
        self.busy = busy
        self._future: asyncio.Future[Any] | None = None

    def done(self) -> bool:
        """True when no run is in flight (its thread, even abandoned, has ended)."""
        return self._future is None or self._future.done()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if not self.done():
            raise RuntimeError(self.busy)
        future = self._future = asyncio.ensure_future(asyncio.to_thread(work, *args))
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.database.interrupt()
            raise
