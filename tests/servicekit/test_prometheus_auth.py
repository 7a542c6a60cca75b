"""Authenticating to Prometheus as Prometheus's own http_config does: basic_auth and
authorization with the secret in a file or a variable, never inline; against the real
Prometheus behind its --web.config.file."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from servicekit.config import ConfigError, validate_model
from servicekit.http_client import HTTPClientConfig
from servicekit.prometheus import PrometheusClient, PrometheusConfig, PrometheusUnavailable
from tests.conftest import free_port, stop_process

PASSWORD = "prom-Pa55-w0rd"
HASHED = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def secured_prometheus():
    """A real Prometheus that asks every request for basic auth (enhancer:PASSWORD)."""
    directory = Path(tempfile.mkdtemp(prefix="prom-auth-"))
    (directory / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    (directory / "web.yml").write_text(f"basic_auth_users:\n  enhancer: {HASHED}\n")
    port = free_port()
    log = open(directory / "prometheus.log", "wb")
    process = subprocess.Popen(
        [
            "/usr/bin/prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={directory / 'web.yml'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(f"{url}/-/ready", headers={"Authorization": basic("enhancer", PASSWORD)})
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
    yield url
    stop_process(process)
    log.close()
    shutil.rmtree(directory, ignore_errors=True)


def config(raw: dict) -> PrometheusConfig:
    return validate_model(PrometheusConfig, raw, "enhancer.yml")


async def test_basic_auth_with_a_password_file_reaches_a_secured_prometheus(secured_prometheus, tmp_path):
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")  # as echo leaves it
    settings = config({"url": secured_prometheus, "basic_auth": {"username": "enhancer", "password_file": str(secret)}})
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(settings.url, session, retries=0, http=settings)
        [sample] = await client.query("vector(7)", time.time())
        assert sample.value == 7.0 and client.up is True
        # rotated: read again on the next request, no restart
        secret.write_text("rotated-wrong")
        with pytest.raises(PrometheusUnavailable) as caught:
            await client.query("vector(7)", time.time())
        assert "HTTP 401 (authentication refused)" in str(caught.value)
        assert "rotated-wrong" not in str(caught.value)


async def test_basic_auth_from_an_environment_variable(secured_prometheus, monkeypatch):
    monkeypatch.setenv("TEST_PROM_PASSWORD", PASSWORD)
    settings = config(
        {"url": secured_prometheus, "basic_auth": {"username": "enhancer", "password_env": "TEST_PROM_PASSWORD"}}
    )
    async with aiohttp.ClientSession() as session:
        [sample] = await PrometheusClient(settings.url, session, retries=0, http=settings).query("vector(3)", 1e9)
    assert sample.value == 3.0


async def test_without_credentials_a_secured_prometheus_is_unavailable(secured_prometheus):
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(secured_prometheus, session, retries=0)
        with pytest.raises(PrometheusUnavailable, match="HTTP 401"):
            await client.query("vector(1)", 1e9)
    assert client.up is False


async def test_authorization_sends_type_and_credentials_from_a_file(aiohttp_server, tmp_path):
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}})

    app = web.Application()
    app.router.add_get("/api/v1/query", handle)
    server = await aiohttp_server(app)
    (tmp_path / "token").write_text("tok-123\n")
    for raw, expected in [
        ({"credentials_file": str(tmp_path / "token")}, "Bearer tok-123"),
        ({"type": "Token", "credentials_file": str(tmp_path / "token")}, "Token tok-123"),
    ]:
        settings = config({"url": str(server.make_url("")), "authorization": raw})
        async with aiohttp.ClientSession() as session:
            await PrometheusClient(settings.url, session, http=settings).query("1", 1.0)
        assert seen[-1] == expected


BAD = [
    ({"basic_auth": {"username": "u", "password": PASSWORD}}, "basic_auth.password", "inline secrets are not accepted"),
    ({"authorization": {"credentials": PASSWORD}}, "authorization.credentials", "inline secrets are not accepted"),
    ({"basic_auth": {"username": "u"}}, "basic_auth.password_file", "set password_file or password_env"),
    ({"authorization": {}}, "authorization.credentials_file", "set credentials_file or credentials_env"),
    (
        {"basic_auth": {"username": "u", "password_file": "/nonexistent/pw"}},
        "basic_auth.password_file",
        "cannot read /nonexistent/pw",
    ),
    (
        {"basic_auth": {"username": "u", "password_env": "TEST_UNSET_VARIABLE_X"}},
        "basic_auth.password_env",
        "environment variable TEST_UNSET_VARIABLE_X is not set",
    ),
    (
        {"basic_auth": {"username": "u", "password_env": "HOME", "password_file": "/etc/hostname"}},
        "basic_auth.password_env",
        "not both",
    ),
    (
        {"basic_auth": {"username": "u", "password_env": "HOME"}, "authorization": {"credentials_env": "HOME"}},
        "authorization",
        "set basic_auth or authorization, not both",
    ),
    ({"authorization": {"type": "Basic", "credentials_env": "HOME"}}, "authorization.type", "use basic_auth"),
    (
        {"url": f"http://u:{PASSWORD}@prom:9090", "basic_auth": {"username": "u", "password_env": "HOME"}},
        "url",
        "holds a password and basic_auth",
    ),
    ({"tls_config": {"ca_file": "/nonexistent/ca.pem"}}, "tls_config.ca_file", "cannot load"),
]


@pytest.mark.parametrize("raw, key, problem", BAD)
def test_bad_authentication_settings_are_one_line_at_their_key_without_the_secret(raw, key, problem):
    with pytest.raises(ConfigError) as caught:
        config(raw)
    line = str(caught.value)
    assert line.startswith(f"enhancer.yml: {key}: "), line
    assert problem in line and "\n" not in line
    assert PASSWORD not in line


def test_the_secret_is_never_in_the_models_repr(monkeypatch):
    monkeypatch.setenv("TEST_PROM_PASSWORD", PASSWORD)
    settings = HTTPClientConfig.model_validate({"basic_auth": {"username": "u", "password_env": "TEST_PROM_PASSWORD"}})
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert settings.auth_headers() == {"Authorization": basic("u", PASSWORD)}


def test_the_reporter_takes_the_same_prometheus_settings(tmp_path):
    from reporter.config import PrometheusConfig as ReporterPrometheus

    (tmp_path / "pw").write_text(PASSWORD)
    settings = ReporterPrometheus.model_validate(
        {"url": "https://prom:9090", "basic_auth": {"username": "reporter", "password_file": str(tmp_path / "pw")}}
    )
    assert settings.auth_headers() == {"Authorization": basic("reporter", PASSWORD)}
    assert settings.concurrency == 4  # the reporter's own keys are still there


async def test_the_reporter_queries_a_secured_prometheus_with_its_config(secured_prometheus, tmp_path):
    # reporter/pipeline.py builds its client from the config's prometheus section.
    from datetime import UTC, date

    from reporter.config import Config as ReporterConfig
    from reporter.periods import period_containing
    from reporter.pipeline import _figures

    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    base = {"prometheus": {"url": secured_prometheus, "retries": 0}, "output": {"directory": str(tmp_path / "out")}}
    period = period_containing("daily", date(2026, 11, 26), UTC)
    good = validate_model(
        ReporterConfig,
        {
            **base,
            "prometheus": {**base["prometheus"], "basic_auth": {"username": "enhancer", "password_file": str(secret)}},
        },
        "report.yml",
    )
    async with aiohttp.ClientSession() as session:
        report = await _figures(good, period, session)
        assert report is not None
        bad = validate_model(ReporterConfig, base, "report.yml")
        with pytest.raises(Exception) as refused:
            await _figures(bad, period, session)
    assert "401" in str(refused.value)
    assert PASSWORD not in str(refused.value)
