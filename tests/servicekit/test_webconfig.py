"""exporter-toolkit web config: TLS, mTLS, basic auth, headers, reload; a real Prometheus
scrapes the exporter over TLS with basic auth."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import bcrypt
import pytest
import yaml

from tests.conftest import ROOT, free_port, wait_for
from tests.tls_certs import CA

PASSWORD = "s3cret-scrape-pass"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def pki(tmp_path):
    ca = CA(tmp_path, "ca")
    server_cert, server_key = ca.issue(tmp_path / "server", "localhost", server=True)
    client_cert, client_key = ca.issue(tmp_path / "client", "prometheus", server=False)
    rogue = CA(tmp_path, "rogue-ca")
    rogue_cert, rogue_key = rogue.issue(tmp_path / "rogue-client", "intruder", server=False)
    return {
        "dir": tmp_path,
        "ca": ca,
        "server": (server_cert, server_key),
        "client": (client_cert, client_key),
        "rogue": (rogue_cert, rogue_key),
    }


def start_exporter(tmp_path, web_config: str, extra: str = ""):
    port = free_port()
    (tmp_path / "web.yml").write_text(web_config)
    (tmp_path / "exporter.yml").write_text(f"listen: 127.0.0.1:{port}\nbusiness:\n  enabled: false\n{extra}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--config",
            str(tmp_path / "exporter.yml"),
            "--web.config.file",
            str(tmp_path / "web.yml"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    return err


def client_context(pki, cert=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"].cert_path))
    if cert:
        context.load_cert_chain(*map(str, cert))
    return context


def get(url: str, context=None, auth: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    return urllib.request.urlopen(request, context=context, timeout=5)


def test_tls_basic_auth_headers_and_refusals(pki):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    proc, port = start_exporter(
        pki["dir"],
        f"""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS12
basic_auth_users:
  prometheus: {hashed}
http_server_config:
  headers:
    X-Frame-Options: deny
""",
    )
    url = f"https://127.0.0.1:{port}/metrics"
    try:
        context = client_context(pki)
        ok = wait_for(lambda: _try(lambda: get(url, context, basic("prometheus", PASSWORD))), 15, message="TLS up")
        assert ok.status == 200
        assert ok.headers["X-Frame-Options"] == "deny"

        for auth in (None, basic("prometheus", "wrong"), basic("nobody", PASSWORD), "Basic !!notbase64"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                get(url, context, auth)
            assert refused.value.code == 401
            assert refused.value.headers["WWW-Authenticate"].startswith("Basic")
        # Plain HTTP on the TLS port gets no metrics.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(f"http://127.0.0.1:{port}/metrics")
    finally:
        stderr = stop(proc)
    assert proc.returncode == 0
    assert PASSWORD not in stderr and "wrong" not in stderr


def _try(fn):
    try:
        return fn()
    except (OSError, urllib.error.URLError):
        return None


def test_refused_requests_are_counted(pki):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    # The counter is read whenever the snapshot is rendered: after each host cycle here.
    proc, port = start_exporter(
        pki["dir"], f"basic_auth_users:\n  prometheus: {hashed}\n", extra="host:\n  interval: 1s\n"
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: _try(lambda: get(url, auth=basic("prometheus", PASSWORD))), 15, message="up")
        for _ in range(3):
            with pytest.raises(urllib.error.HTTPError):
                get(url, auth=basic("prometheus", "nope"))

        def counted():
            body = get(url, auth=basic("prometheus", PASSWORD)).read().decode()
            return "inventory_exporter_http_unauthorized_requests_total 3.0" in body

        wait_for(counted, 5, interval=0.3, message="refusals counted")
    finally:
        stop(proc)


def test_mutual_tls_refuses_untrusted_client_and_reloads_renewed_certificate(pki):
    proc, port = start_exporter(
        pki["dir"],
        """
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
""",
    )
    url = f"https://127.0.0.1:{port}/-/healthy"
    try:
        trusted = client_context(pki, pki["client"])
        wait_for(lambda: _try(lambda: get(url, trusted)), 15, message="mTLS up")
        for context in (client_context(pki), client_context(pki, pki["rogue"])):
            with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
                get(url, context)

        first = ssl.get_server_certificate(("127.0.0.1", port))
        # Renew: a new certificate and key in place; the next handshake must use them.
        pki["ca"].issue(pki["dir"] / "server", "localhost", server=True)
        time.sleep(0.05)
        renewed = get(url, trusted)
        assert renewed.status == 200
        second = ssl.get_server_certificate(("127.0.0.1", port))
        assert first != second
    finally:
        stop(proc)


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "basic_auth_users:\n  alice: plaintext\n",
            "basic_auth_users.alice: user 'alice': password must be a bcrypt hash",
        ),
        # Accepted by a prefix check before: every login of the user was a 500.
        ("basic_auth_users:\n  alice: $2b$10$garbage\n", "basic_auth_users.alice: user 'alice': password must be"),
        # Well-formed, but the first login would freeze the server for hours.
        (
            "basic_auth_users:\n  alice: $2b$31$" + "a" * 53 + "\n",
            "basic_auth_users.alice: user 'alice': bcrypt cost 31",
        ),
        # An emptied file silently switched basic auth off before.
        ("\n", "(file): the web config is empty"),
        # Raised RecursionError (a traceback) before.
        ("basic_auth_users: " + "[" * 10_000 + "\n", "nested deeper than 64 levels"),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            "tls_server_config.cert_file: file 'missing.crt' not found",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAnyClientCert\n",
            "tls_server_config.client_auth_type",
        ),
        ("http_server_config:\n  headers:\n    Content-Type: text/html\n", "http_server_config.headers"),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_ca_file: required",
        ),
        ("basic_auth_users: [\n", ": line 2 column 1: invalid YAML"),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  ciphers: [x]\n",
            "tls_server_config.ciphers: unknown key",
        ),
    ],
)
def test_bad_web_config_exits_2_with_one_line(pki, body, expected):
    (pki["dir"] / "web.yml").write_text(body)
    (pki["dir"] / "exporter.yml").write_text("business:\n  enabled: false\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "--config",
            str(pki["dir"] / "exporter.yml"),
            "--web.config.file",
            str(pki["dir"] / "web.yml"),
            "--check-config",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert str(pki["dir"] / "web.yml") in result.stderr
    assert expected in result.stderr


def start_enhancer(pki, port: int):
    (pki["dir"] / "enhancer.yml").write_text(
        f"prometheus:\n  url: http://127.0.0.1:9\nstate: {pki['dir'] / 'state.db'}\nlisten: 127.0.0.1:{port}\n"
        "allowed_hosts: []\nrules: []\n"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "enhancer",
            "--config",
            str(pki["dir"] / "enhancer.yml"),
            "--web.config.file",
            str(pki["dir"] / "web.yml"),
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )


def test_the_shipped_secure_prometheus_config_scrapes_over_tls_with_basic_auth(pki):
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus not installed: run `make test`"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    proc, port = start_exporter(
        pki["dir"],
        f"""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: {hashed}
""",
    )
    enhancer_port = free_port()
    enhancer = start_enhancer(pki, enhancer_port)  # same web.yml, written by start_exporter
    (pki["dir"] / "scrape-password").write_text(PASSWORD)

    # prometheus/prometheus.secure.yml as shipped, with this test's files and ports in place
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.secure.yml").read_text())
    config.pop("rule_files"), config.pop("alerting")
    config["global"].update(scrape_interval="1s", scrape_timeout="1s")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"inventory-exporter", "inventory-enhancer"}
    for name, target_port in (("inventory-exporter", port), ("inventory-enhancer", enhancer_port)):
        job = jobs[name]
        assert job["scheme"] == "https" and job["basic_auth"]["username"] == "prometheus"
        job["tls_config"]["ca_file"] = str(pki["ca"].cert_path)
        job["basic_auth"]["password_file"] = str(pki["dir"] / "scrape-password")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{target_port}"]}]
    # and what must be refused
    wrong = {
        **jobs["inventory-exporter"],
        "job_name": "wrong-password",
        "basic_auth": {"username": "prometheus", "password": "not-it"},
    }
    plain = {"job_name": "plain-http", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
    config["scrape_configs"] += [wrong, plain]
    (pki["dir"] / "prometheus.yml").write_text(yaml.safe_dump(config))

    prom_port = free_port()
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={pki['dir'] / 'prometheus.yml'}",
            f"--storage.tsdb.path={pki['dir'] / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def up_by_job():
            try:
                body = json.load(
                    urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?query=up", timeout=2)
                )
            except OSError:
                return None
            values = {r["metric"]["job"]: r["value"][1] for r in body["data"]["result"]}
            return values if len(values) == 4 and values.get("inventory-enhancer") == "1" else None

        up = wait_for(up_by_job, 30, interval=0.5, message="four scrape jobs reported, the enhancer up")
        assert up == {"inventory-exporter": "1", "inventory-enhancer": "1", "wrong-password": "0", "plain-http": "0"}
    finally:
        prom.terminate()
        prom.wait(10)
        stop(enhancer)
        stop(proc)


def test_the_shipped_secure_prometheus_config_passes_promtool():
    result = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", "prometheus.secure.yml"],
        cwd=ROOT / "prometheus",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_enhancer_serves_behind_the_same_web_config(pki, tmp_path):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (pki["dir"] / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  ops: {hashed}\n"
    )
    port = free_port()
    proc = start_enhancer(pki, port)
    try:
        context = client_context(pki)
        url = f"https://127.0.0.1:{port}/-/healthy"
        assert wait_for(lambda: _try(lambda: get(url, context, basic("ops", PASSWORD))), 15, message="up").status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(url, context, basic("ops", "wrong"))
        assert refused.value.code == 401
    finally:
        stop(proc)
