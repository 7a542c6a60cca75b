"""Shared fixtures: real PostgreSQL, MariaDB and SQLite inventory databases, free ports."""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = (ROOT / "demo" / "schema.sql").read_text()
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    found = shutil.which(name) or (str(candidates[0]) if candidates else None)
    if not found:
        pytest.fail(f"PostgreSQL binary {name!r} not found: install Debian's postgresql package (make test does)")
    return found


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1, run as the postgres user when we are root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="inventory-pg-"))
        self.data = self.dir / "data"
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.user is not None:
            args = ("runuser", "-u", "postgres", "--", *args)
        return subprocess.run(args, check=check, capture_output=True, text=True, cwd=self.dir)

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8")

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    DROP = "DROP DATABASE IF EXISTS {name} WITH (FORCE)"

    def run(self, sql: str, database: str = "postgres") -> str:
        return self.psql(sql, database)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                shutil.which("psql") or _pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-A",
                "-t",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    server.init()
    server.start()
    yield server
    server.cleanup()


_db_counter = 0


def _new_database(server: PostgresServer | MariaDBServer) -> str:
    global _db_counter
    _db_counter += 1
    name = f"inv_{os.getpid()}_{_db_counter}"
    server.run(f"CREATE DATABASE {name}")
    return name


def _throwaway_database(server: PostgresServer | MariaDBServer, schema: str | None):
    """A fresh database on the server (with `schema` loaded); yields its name, then drops it."""
    name = _new_database(server)
    if schema:
        server.run(schema, database=name)
    yield name
    server.run(server.DROP.format(name=name))


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh database with the reference schema; returns (url, server, dbname)."""
    for name in _throwaway_database(postgres_server, SCHEMA):
        yield postgres_server.url(name), postgres_server, name


@pytest.fixture
def empty_postgres_url(postgres_server):
    """The URL of a fresh empty database, for a store that creates its own tables."""
    for name in _throwaway_database(postgres_server, None):
        yield postgres_server.url(name)


@pytest.fixture
def sqlite_db(tmp_path):
    """A fresh SQLite file with the reference schema; returns its path."""
    path = tmp_path / "inventory.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.commit()
    conn.close()
    return path


def _mariadb_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file() and os.access(p, os.X_OK)),
        None,
    )
    if not found:
        pytest.fail(
            f"MariaDB binary {name!r} not found: install Debian's mariadb-server package "
            "(make test does, through deploy/install-system-deps.sh)"
        )
    return found


class MariaDBServer:
    """A throwaway MariaDB server on 127.0.0.1, run as the mysql user when we are root.

    root has no password and is reachable over TCP only from 127.0.0.1 (the data
    directory is initialised with --auth-root-authentication-method=normal). The server's
    default time zone is deliberately not UTC, so that SQL relying on the session time
    zone shows up in the tests.
    """

    TIME_ZONE = "+05:30"

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="inventory-mariadb-"))
        self.data = self.dir / "data"
        self.log = self.dir / "error.log"
        self.process: subprocess.Popen | None = None
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("mysql")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    def init(self) -> None:
        args = [
            _mariadb_bin("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if self.user is not None:
            args = ["runuser", "-u", "mysql", "--", *args]
        result = subprocess.run(args, capture_output=True, text=True, cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {(result.stdout + result.stderr)[-2000:]}")

    def start(self, timeout: float = 60.0) -> None:
        # mariadbd started as root with --user switches to that user itself, so the
        # process we hold is the server (a wrapper's pid would not be).
        args = [
            _mariadb_bin("mariadbd"),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.dir / 'sock'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-networking=0",
            "--skip-name-resolve",
            f"--pid-file={self.dir / 'mariadbd.pid'}",
            f"--log-error={self.log}",
            f"--tmpdir={self.dir}",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            f"--default-time-zone={self.TIME_ZONE}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
        ]
        if self.user is not None:
            args.append("--user=mysql")
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir, start_new_session=True
        )
        # The fixture stops it; this is the net for a session that ends without teardown.
        atexit.register(self._kill_if_running)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}: {self._log_tail()}")
            try:
                self.connect().close()
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mariadbd did not accept connections within {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no error log)"

    def connect(self, database: str | None = None):
        import pymysql
        from pymysql.constants import CLIENT

        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            password="",
            database=database,
            charset="utf8mb4",
            connect_timeout=5,
            autocommit=True,
            client_flag=CLIENT.MULTI_STATEMENTS,
        )

    DROP = "DROP DATABASE IF EXISTS {name}"

    def run(self, script: str, database: str | None = None) -> list[tuple]:
        return self.sql(script, database)

    def sql(self, script: str, database: str | None = None) -> list[tuple]:
        """Run one statement or a script of several; return the last result's rows."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(script)
                rows = list(cursor.fetchall())
                while cursor.nextset():
                    rows = list(cursor.fetchall())
                return rows
        finally:
            conn.close()

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)

    def _kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server():
    server = MariaDBServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def mariadb_db(mariadb_server):
    """A fresh MariaDB database with the reference schema; returns (url, server, dbname)."""
    for name in _throwaway_database(mariadb_server, SCHEMA):
        yield mariadb_server.url(name), mariadb_server, name


@pytest.fixture
def empty_mariadb_url(mariadb_server):
    """The URL of a fresh empty MariaDB database, for tests that create their own tables."""
    for name in _throwaway_database(mariadb_server, None):
        yield mariadb_server.url(name)


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 over a TSDB directory (blocks made by promtool)."""

    def __init__(self, data_dir: Path, *flags: str):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = data_dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n")
        self.log = open(data_dir / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [
                "/usr/bin/prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir / 'tsdb'}",
                "--storage.tsdb.retention.time=10y",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *flags,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(data_dir / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()
