"""Shared fixtures: real PostgreSQL and SQLite inventory databases, free ports."""

from __future__ import annotations

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
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "30",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [shutil.which("psql") or _pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql],
            check=True, capture_output=True, text=True,
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


def _new_database(server: PostgresServer) -> str:
    global _db_counter
    _db_counter += 1
    name = f"inv_{os.getpid()}_{_db_counter}"
    server.psql(f"CREATE DATABASE {name}")
    return name


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh database with the reference schema; returns (url, server, dbname)."""
    name = _new_database(postgres_server)
    postgres_server.psql(SCHEMA, database=name)
    yield postgres_server.url(name), postgres_server, name
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_postgres_url(postgres_server):
    """The URL of a fresh empty database, for a store that creates its own tables."""
    name = _new_database(postgres_server)
    yield postgres_server.url(name)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_db(tmp_path):
    """A fresh SQLite file with the reference schema; returns its path."""
    path = tmp_path / "inventory.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.commit()
    conn.close()
    return path


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
            ["/usr/bin/prometheus", f"--config.file={config}", f"--storage.tsdb.path={data_dir / 'tsdb'}",
             "--storage.tsdb.retention.time=10y", f"--web.listen-address=127.0.0.1:{self.port}", *flags],
            stdout=self.log, stderr=subprocess.STDOUT)
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
