"""No secret leaks: known secrets planted in every configurable place, every error path
driven, and none of them found in any log line, metric, API answer, page or report.

Planted: integration tokens through token_env (Shopify) and token_file (Square), the Odoo
password (token_env), enhancer webhook header secrets from env and from a file, the web
config's basic-auth password (and a wrong password a client tried), the PostgreSQL
password inside the database URL (and a wrong one), and, when the reporter package is
present, its SMTP password and webhook token.

Driven, against real processes whose stderr/stdout is captured: credentials rejected
(401/403, Odoo AccessDenied) at the fakes, remote 500, garbage and truncated answers,
wrong and right basic-auth passwords, PostgreSQL with a wrong password, PostgreSQL
stopped and started again, a database URL that does not parse, enhancer webhooks that
answer 401, 500, a 400 and a 200 that echo the request's headers back (a debugging
proxy does that), a receiver that hangs, a header secret that aiohttp refuses (a crash
trace in the enhancer's log), an SMTP server refusing the login and a report webhook
echoing its token.

Searched: the captured output of the exporters, the enhancer and the reporter; the
exporters' /metrics, landing page and /api/v1/*; the enhancer's /metrics,
/api/v1/actions and /api/v1/rules; every report file.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
import yaml

from demo.run import PROMETHEUS_BIN
from tests.conftest import ROOT, SCHEMA, PostgresServer, _pg_bin, free_port

pytestmark = [pytest.mark.prometheus, pytest.mark.postgres, pytest.mark.timeout(240)]

HAS_REPORTER = importlib.util.find_spec("reporter.cli") is not None


def _secret(name: str) -> str:
    return f"{name}-{secrets.token_hex(10)}"


SECRET = {
    name: _secret(name)
    for name in (
        "shopify-token",
        "square-token",
        "odoo-password",
        "webhook-env",
        "webhook-file",
        "webhook-crash",
        "basic-auth-password",
        "wrong-basic-auth-password",
        "pg-password",
        "pg-wrong-password",
        "smtp-password",
        "report-webhook-token",
    )
}
BASIC_USER = "prometheus"


def _forms(value: str) -> list[str]:
    """The secret and the encodings it travels in (basic auth, URL-quoted)."""
    forms = [
        value,
        base64.b64encode(f"{BASIC_USER}:{value}".encode()).decode(),
        base64.b64encode(f"\0reports\0{value}".encode()).decode(),
        base64.b64encode(value.encode()).decode(),
    ]
    return forms


class Proc:
    """A real process of ours with its output captured in a file."""

    def __init__(self, name: str, argv: list[str], tmp: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


def _get(url: str, auth: str | None = None, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{BASIC_USER}:{auth}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _wait(predicate, timeout: float, what: str, procs: list[Proc] = ()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, LookupError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.output()[-1500:]}" for p in procs)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def _ready(url: str, auth: str | None = None) -> bool:
    try:
        return _get(url, auth, timeout=1)[0] == 200
    except OSError:
        return False


# --- receivers that misbehave on purpose -------------------------------------------------


class EchoReceiver:
    """/401, /500, /echo-400, /echo-200 (the request's headers back in the body), /hang."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
                status, body = {
                    "/401": (401, b"unauthorized"),
                    "/500": (500, b"internal error"),
                    "/echo-400": (400, echoed),
                    "/echo-200": (200, echoed),
                }.get(self.path, (404, b"?"))
                if self.path == "/hang":
                    time.sleep(3)
                    status, body = 200, b"late"
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, *args):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RefusingSmtp:
    """Enough ESMTP for smtplib to try to log in, and a 535 for every attempt."""

    def __init__(self):
        self.auth_attempts = 0
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 fake.example ESMTP\r\n")
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace").strip()
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-fake.example\r\n250-AUTH PLAIN LOGIN\r\n250 OK\r\n")
                    elif verb == "AUTH":
                        smtp.auth_attempts += 1
                        self.wfile.write(b"535 5.7.8 Authentication credentials invalid\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif line.startswith("*"):
                        self.wfile.write(b"501 cancelled\r\n")
                    else:
                        self.wfile.write(b"502 not implemented\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- the stack of the test ----------------------------------------------------------------


def _sample(metrics_text: str, series: str) -> float | None:
    prefix = series + " "
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def _collector_success(metrics_text: str, collector: str) -> float | None:
    prefix = f'inventory_exporter_collector_success{{collector="{collector}"}} '
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def _postgres_with_passwords(tmp: Path) -> PostgresServer:
    """A cluster where the role `inventory` must log in with SECRET['pg-password']."""
    server = PostgresServer()
    server.init()
    server.start()
    server.psql(f"CREATE ROLE inventory LOGIN PASSWORD '{SECRET['pg-password']}'")
    server.psql("CREATE DATABASE inv OWNER inventory")
    server.psql(SCHEMA, database="inv")
    server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO inventory", database="inv")
    hba = server.data / "pg_hba.conf"
    hba.write_text(
        "host all postgres 127.0.0.1/32 trust\nhost all inventory 127.0.0.1/32 scram-sha-256\nlocal all all trust\n"
    )
    if server.user is not None:
        os.chown(hba, server.user.pw_uid, server.user.pw_gid)
    server._run(_pg_bin("pg_ctl"), "-D", str(server.data), "reload")
    return server


def test_no_secret_appears_in_logs_metrics_api_answers_or_reports(tmp_path):
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.fail(f"{PROMETHEUS_BIN} not found: install Debian's prometheus")
    from demo.fakes import odoo, shopify, square
    from demo.seed import generate

    exposed: dict[str, str] = {}  # where -> text that must hold no secret
    procs: list[Proc] = []
    stoppers = []
    receiver = EchoReceiver()
    stoppers.append(receiver.close)
    python = sys.executable
    try:
        db = tmp_path / "inventory.db"
        generate(db, skus=150, days=14, seed=3, progress=False)

        # fakes: started with their demo credentials, switched to the planted secrets over
        # /_control so no secret of ours is on any command line
        fakes = {}
        for module in (shopify, square, odoo):
            kind = module.__name__.rsplit(".", 1)[1]
            port = free_port()
            procs.append(
                Proc(
                    f"fake-{kind}", [python, "-m", f"demo.fakes.{kind}", "--port", str(port), "--db", str(db)], tmp_path
                )
            )
            fakes[kind] = (f"http://127.0.0.1:{port}", module)
        for kind, (url, _) in fakes.items():
            _wait(lambda: _ready(url + "/_control"), 20, f"fake {kind}", procs)  # noqa: B023 - called in this iteration
        planted = {
            "shopify": SECRET["shopify-token"],
            "square": SECRET["square-token"],
            "odoo": SECRET["odoo-password"],
        }
        for kind, (url, _) in fakes.items():
            _post(url + "/_control", {"token": planted[kind]})

        # exporter A: integrations + basic auth
        (tmp_path / "square.token").write_text(SECRET["square-token"] + "\n")
        web_config = tmp_path / "web.yml"
        hashed = bcrypt.hashpw(SECRET["basic-auth-password"].encode(), bcrypt.gensalt(rounds=4)).decode()
        web_config.write_text(yaml.safe_dump({"basic_auth_users": {BASIC_USER: hashed}}))
        exporter_port = free_port()
        integrations = []
        for kind, (url, module) in fakes.items():
            entry = {
                "name": kind,
                "kind": kind,
                "url": url,
                "interval": "1s",
                "timeout": "4s",
                "locations": dict(module.DEFAULT_LOCATION_MAP),
                "retries": 1,
                "backoff": "100ms",
                "request_timeout": "1s",
            }
            if kind == "square":
                entry["token_file"] = str(tmp_path / "square.token")
            else:
                entry["token_env"] = f"SECRET_TEST_{kind.upper()}"
            entry.update(getattr(module, "INTEGRATION_SETTINGS", {}))
            integrations.append(entry)
        config_a = tmp_path / "exporter-a.yml"
        config_a.write_text(
            yaml.safe_dump(
                {
                    "listen": f"127.0.0.1:{exporter_port}",
                    "database": {"url": f"sqlite:///{db}", "interval": "1s", "timeout": "5s"},
                    "integrations": integrations,
                }
            )
        )
        exporter = Proc(
            "exporter-a",
            [python, "-m", "exporter", "--config", str(config_a), "--web.config.file", str(web_config)],
            tmp_path,
            env={"SECRET_TEST_SHOPIFY": SECRET["shopify-token"], "SECRET_TEST_ODOO": SECRET["odoo-password"]},
        )
        procs.append(exporter)
        base = f"http://127.0.0.1:{exporter_port}"
        pw = SECRET["basic-auth-password"]

        def all_integrations(value: float):
            text = _get(base + "/metrics", pw)[1]
            # a remote failure is fetch_success 0 (the collector itself succeeds)
            return all(
                _sample(text, f'inventory_integration_fetch_success{{integration="{kind}"}}') == value for kind in fakes
            )

        def capture(phase: str) -> None:
            for path in (
                "/metrics",
                "/",
                "/api/v1/mismatches",
                "/api/v1/recommendations",
                "/api/v1/mismatches?integration=shopify",
                "/-/ready",
            ):
                exposed[f"exporter-a {path} ({phase})"] = _get(base + path, pw)[1]

        _wait(lambda: all_integrations(1.0), 40, "every integration collector to succeed", procs)
        capture("healthy")

        # basic auth: the right password works, a wrong one is refused
        assert _get(base + "/metrics", pw)[0] == 200
        assert _get(base + "/metrics", SECRET["wrong-basic-auth-password"])[0] == 401
        assert _get(base + "/metrics")[0] == 401

        # credentials rejected by every fake
        for url, _ in fakes.values():
            _post(url + "/_control", {"token": "rotated-elsewhere"})
        _wait(lambda: all_integrations(0.0), 30, "every integration to fail on bad credentials", procs)
        # the error path was really taken and reported (remote failures are logged, not raised)
        assert "rejected the credentials" in exporter.output()
        capture("bad credentials")
        for kind, (url, _) in fakes.items():
            _post(url + "/_control", {"token": planted[kind]})
        _wait(lambda: all_integrations(1.0), 30, "integrations back after the credentials", procs)

        # remote errors, one kind at a time
        for error in ("500", "garbage", "truncated", "403"):
            for url, _ in fakes.values():
                _post(url + "/_control", {"error": error})
            _wait(lambda: all_integrations(0.0), 30, f"every integration to fail on {error}", procs)
            capture(f"remote {error}")
            for url, _ in fakes.values():
                _post(url + "/_control", {"error": None})
            _wait(lambda: all_integrations(1.0), 30, f"integrations back after {error}", procs)

        # PostgreSQL: the password in the URL, a wrong password, the server stopped and back
        pg = _postgres_with_passwords(tmp_path)
        stoppers.append(pg.cleanup)
        exporters_pg = {}
        for label, password in (("good", SECRET["pg-password"]), ("wrong", SECRET["pg-wrong-password"])):
            port = free_port()
            path = tmp_path / f"exporter-pg-{label}.yml"
            path.write_text(
                yaml.safe_dump(
                    {
                        "listen": f"127.0.0.1:{port}",
                        "database": {
                            "url": f"postgresql://inventory:{password}@127.0.0.1:{pg.port}/inv",
                            "interval": "1s",
                            "timeout": "2s",
                        },
                    }
                )
            )
            proc = Proc(f"exporter-pg-{label}", [python, "-m", "exporter", "--config", str(path)], tmp_path)
            procs.append(proc)
            exporters_pg[label] = f"http://127.0.0.1:{port}"

        def business(label: str):
            return _collector_success(_get(exporters_pg[label] + "/metrics")[1], "business")

        _wait(lambda: business("good") == 1.0, 40, "the PostgreSQL exporter to read", procs)
        _wait(lambda: business("wrong") == 0.0, 40, "the wrong password to fail", procs)
        assert "password authentication failed" in _get(exporters_pg["wrong"] + "/")[1]
        pg.stop("immediate")
        _wait(lambda: business("good") == 0.0, 30, "PostgreSQL down to show", procs)
        for label, url in exporters_pg.items():
            for path in ("/metrics", "/"):
                exposed[f"exporter-pg-{label} {path} (database down)"] = _get(url + path)[1]
        pg.start()
        _wait(lambda: business("good") == 1.0, 40, "PostgreSQL back", procs)
        for label, url in exporters_pg.items():
            for path in ("/metrics", "/"):
                exposed[f"exporter-pg-{label} {path}"] = _get(url + path)[1]

        # a database URL that does not parse, and one naming an unknown driver
        for label, url in (
            ("bad-port", f"postgresql://inventory:{SECRET['pg-password']}@127.0.0.1:notaport/inv"),
            ("bad-driver", f"oracle://inventory:{SECRET['pg-password']}@127.0.0.1/inv"),
        ):
            path = tmp_path / f"exporter-{label}.yml"
            path.write_text(yaml.safe_dump({"database": {"url": url}}))
            result = subprocess.run(
                [python, "-m", "exporter", "--config", str(path), "--check-config"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=30,
            )
            exposed[f"exporter --check-config {label}"] = result.stdout + result.stderr
            assert result.returncode == 2, result

        # Prometheus scrapes exporter A with the basic-auth password from a file
        prom_port = free_port()
        (tmp_path / "scrape.password").write_text(pw)
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "inventory-exporter",
                            "basic_auth": {"username": BASIC_USER, "password_file": str(tmp_path / "scrape.password")},
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                        }
                    ],
                }
            )
        )
        prometheus = Proc(
            "prometheus",
            [
                PROMETHEUS_BIN,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path,
        )
        procs.append(prometheus)
        prom = f"http://127.0.0.1:{prom_port}"
        _wait(lambda: _ready(prom + "/-/ready"), 30, "Prometheus", procs)

        # the enhancer: header secrets from env and file, every way a webhook can fail
        (tmp_path / "webhook.secret").write_text(SECRET["webhook-file"] + "\n")
        # a newline inside the value: aiohttp refuses the header, the enhancer logs a trace
        (tmp_path / "crash.secret").write_text(SECRET["webhook-crash"][:24] + "\n" + SECRET["webhook-crash"][24:])
        enhancer_port = free_port()
        hook = f"http://127.0.0.1:{receiver.port}"
        env_header = {"env": "SECRET_TEST_WEBHOOK", "prefix": "Bearer "}
        file_header = {"file": str(tmp_path / "webhook.secret")}

        def rule(name: str, path: str, headers: dict) -> dict:
            return {
                "name": name,
                "query": "vector(1)",
                "trigger": {"kind": "threshold", "op": "above", "value": 0},
                "action": {
                    "kind": "webhook",
                    "url": hook + path,
                    "timeout": "1s",
                    "retries": 1,
                    "backoff": "100ms",
                    "headers": headers,
                    "body": {"rule": "{rule}"},
                },
                "cooldown": "2s",
            }

        enhancer_config = tmp_path / "enhancer.yml"
        enhancer_config.write_text(
            yaml.safe_dump(
                {
                    "prometheus": {"url": prom, "timeout": "2s", "retries": 0},
                    "poll_interval": "1s",
                    "listen": f"127.0.0.1:{enhancer_port}",
                    "state": str(tmp_path / "enhancer.db"),
                    "allowed_hosts": [f"127.0.0.1:{receiver.port}"],
                    "budget": {"per_hour": 10000},
                    "rules": [
                        rule("env-401", "/401", {"Authorization": env_header}),
                        rule("file-500", "/500", {"X-Api-Key": file_header}),
                        rule("env-echo-400", "/echo-400", {"Authorization": env_header, "X-Api-Key": file_header}),
                        rule("file-echo-200", "/echo-200", {"Authorization": env_header, "X-Api-Key": file_header}),
                        rule("env-hang", "/hang", {"Authorization": env_header}),
                        rule("crash-trace", "/500", {"X-Api-Key": {"file": str(tmp_path / "crash.secret")}}),
                    ],
                }
            )
        )
        enhancer = Proc(
            "enhancer",
            [python, "-m", "enhancer", "--config", str(enhancer_config), "--log-level", "debug"],
            tmp_path,
            env={"SECRET_TEST_WEBHOOK": SECRET["webhook-env"]},
        )
        procs.append(enhancer)
        enhancer_url = f"http://127.0.0.1:{enhancer_port}"

        def enhancer_actions() -> list[dict]:
            return json.loads(_get(enhancer_url + "/api/v1/actions?limit=500")[1])["data"]

        def every_rule_acted():
            rules = {
                row["rule"]
                for row in enhancer_actions()
                if row["status"] == "finished" and row["outcome"] in ("success", "failed")
            }
            return rules >= {"env-401", "file-500", "env-echo-400", "file-echo-200", "env-hang", "crash-trace"}

        _wait(every_rule_acted, 60, "every enhancer rule to act", procs)
        rows = enhancer_actions()
        details = {row["rule"]: row["detail"] or "" for row in rows}
        assert "HTTP 401" in details["env-401"] and "HTTP 500" in details["file-500"], details
        assert "internal error" in details["crash-trace"], details
        # the echoing receivers answered, and their echo reached the log with the secrets masked
        assert "********" in details["env-echo-400"], details
        assert "********" in details["file-echo-200"], details
        assert "Traceback" in enhancer.output(), "the crash path must have logged a trace"
        # the prometheus scrape with the password file works (the right password is accepted)
        _wait(
            lambda: json.loads(_get(prom + "/api/v1/query?query=up")[1])["data"]["result"][0]["value"][1] == "1",
            20,
            "Prometheus to scrape exporter A with basic auth",
            procs,
        )
        for path in ("/metrics", "/api/v1/actions?limit=500", "/api/v1/rules", "/-/ready"):
            exposed[f"enhancer {path}"] = _get(enhancer_url + path)[1]

        # the reporter, if it is in the tree: SMTP refuses the login, the webhook echoes its token
        if HAS_REPORTER:
            smtp = RefusingSmtp()
            stoppers.append(smtp.close)
            (tmp_path / "report-webhook.token").write_text(SECRET["report-webhook-token"])
            reports = tmp_path / "reports"
            report_config = tmp_path / "reporter.yml"
            report_config.write_text(
                yaml.safe_dump(
                    {
                        "prometheus": {"url": prom, "timeout": "5s", "retries": 0},
                        "output": {"directory": str(reports), "formats": ["html", "json", "csv"]},
                        "delivery": {
                            "email": {
                                "host": "127.0.0.1",
                                "port": smtp.port,
                                "tls": "none",
                                "username": "reports",
                                "password_env": "SECRET_TEST_SMTP",
                                "from": "reports@example.org",
                                "to": ["ops@example.org"],
                                "timeout": "5s",
                            },
                            "webhook": {
                                "url": hook + "/echo-400",
                                "token_file": str(tmp_path / "report-webhook.token"),
                                "timeout": "5s",
                            },
                        },
                    }
                )
            )
            result = subprocess.run(
                [
                    python,
                    "-m",
                    "reporter",
                    "--config",
                    str(report_config),
                    "--from",
                    "now-10m",
                    "--to",
                    "now",
                    "--send",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "SECRET_TEST_SMTP": SECRET["smtp-password"]},
            )
            exposed["reporter output"] = result.stdout + result.stderr
            assert smtp.auth_attempts >= 1, exposed["reporter output"]  # the login was really refused
            files = [p for p in reports.rglob("*") if p.is_file()]
            assert files, exposed["reporter output"]
            for path in files:
                exposed[f"report file {path.relative_to(reports)}"] = path.read_bytes().decode("utf-8", "replace")
    finally:
        for proc in reversed(procs):
            proc.stop()
        for stop in reversed(stoppers):
            stop()

    for proc in procs:
        if not proc.name.startswith(("fake-", "prometheus")):
            exposed[f"{proc.name} log"] = proc.output()
    assert any("log" in where for where in exposed)
    leaks = [
        (name, where)
        for name, value in SECRET.items()
        for form in _forms(value)
        for where, text in exposed.items()
        if form in text
    ]
    # the crash secret went out split by its newline: neither half may show either
    crash = SECRET["webhook-crash"]
    leaks += [
        ("webhook-crash (part)", where)
        for part in (crash[14:24], crash[24:])
        for where, text in exposed.items()
        if part in text
    ]
    assert not leaks, f"secrets found: {leaks}"
