"""Issue 17 (the enhancer): no credential of a URL is ever shown, Prometheus and
Alertmanager are reached with Prometheus's own authentication keys, and a label value
from Prometheus cannot redirect a webhook, widen a silence, forge a log line, bloat the
logs or the state, or stop a cycle."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bcrypt
import pytest
import yaml
from aiohttp import web

from enhancer.actions import MAX_BODY_BYTES, ActionSender
from enhancer.config import parse_config
from enhancer.metrics import build_registry
from tests.conftest import _pg_bin, stop_process

from .conftest import FakeClock, free_port, rule

ROOT = Path(__file__).resolve().parents[2]
PROM_PW = "prom-S3cret-pw"
PG_PW = "pg-S3cret-pw"
HOOK_PW = "hook-S3cret-pw"
AM_PW = "am-S3cret-pw"
FORGED = "wh-1\nts=2030-01-01T00:00:00.000Z level=ERROR logger=enhancer msg=FORGED LINE\r\x1b[31m"


async def run_enhancer(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enhancer",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


# -- item 4: credentials in URLs are never shown -------------------------------------------


async def test_a_state_url_that_cannot_be_opened_is_shown_without_its_password(tmp_path):
    state = f"postgresql://enhancer:{PG_PW}@127.0.0.1:{free_port()}/state"
    config = write_config(tmp_path / "e.yml", {"state": state})
    code, out, err = await run_enhancer("--config", str(config), "--once")
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert line.startswith(f"{config}: state: cannot open 'postgresql://enhancer:********@127.0.0.1:")
    assert PG_PW not in out + err


async def test_a_webhook_url_outside_allowed_hosts_is_shown_without_its_password(tmp_path):
    config = write_config(
        tmp_path / "e.yml",
        {"rules": [rule("r", "up", trigger={"kind": "threshold", "value": 0}, url=f"http://u:{HOOK_PW}@evil:8/x")]},
    )
    code, out, err = await run_enhancer("--config", str(config), "--check-config")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line == f"{config}: rules.0.action.url: host 'evil:8' is not in allowed_hosts []"
    assert HOOK_PW not in out + err


def pg_dump(url: str) -> str:
    rest = url.split("@", 1)[1]  # 127.0.0.1:PORT/DB
    host_port, database = rest.split("/", 1)
    port = host_port.rsplit(":", 1)[1]
    return subprocess.run(
        [_pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "--data-only", database],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def test_a_failing_cycle_shows_no_credential_in_logs_api_or_state(tmp_path, empty_postgres_url):
    """Prometheus unreachable at a URL with a password, the state on PostgreSQL with one:
    neither shows in stderr (debug level, both formats), the API, the metrics or the database."""
    state = empty_postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{PG_PW}@")
    exposed = []
    for log_format in ("text", "json"):
        port = free_port()
        config = write_config(
            tmp_path / f"{log_format}.yml",
            {
                "prometheus": {"url": f"http://admin:{PROM_PW}@127.0.0.1:{free_port()}", "retries": 1},
                "state": state,
                "poll_interval": "1s",
                "allowed_hosts": ["127.0.0.1"],
                "rules": [
                    rule("r", "up", trigger={"kind": "threshold", "value": 0}, url=f"http://u:{HOOK_PW}@127.0.0.1:9/x")
                ],
            },
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "enhancer",
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "debug",
            "--log-format",
            log_format,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                for _ in range(200):
                    try:
                        async with session.get(base + "/api/v1/status") as response:
                            # ready once the first poll has started: wait for it to complete
                            if response.status == 200 and (await response.json())["data"]["last_poll_at"]:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                for path in ("/api/v1/rules", "/api/v1/actions", "/metrics"):
                    async with session.get(base + path) as response:
                        exposed.append(await response.text())
            rules = json.loads(exposed[-3])["data"]
            assert "unavailable" in rules[0]["error"] and "admin:********@127.0.0.1" in rules[0]["error"]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), 20)
        exposed.append(output.decode())
        assert "prometheus request failed" in exposed[-1]  # the debug lines are there, masked
    exposed.append(pg_dump(empty_postgres_url))
    for text in exposed:
        for secret in (PROM_PW, PG_PW, HOOK_PW):
            assert secret not in text, text[:2000]


# -- item 4: Alertmanager behind basic auth; item 5: regex matchers quote label values ----------


@pytest.fixture(scope="module")
def secured_alertmanager():
    directory = Path(tempfile.mkdtemp(prefix="enhancer-am-auth-"))
    (directory / "alertmanager.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    hashed = bcrypt.hashpw(AM_PW.encode(), bcrypt.gensalt(rounds=5)).decode()
    (directory / "web.yml").write_text(f"basic_auth_users:\n  enhancer: {hashed}\n")
    port = free_port()
    process = subprocess.Popen(
        [
            "/usr/bin/prometheus-alertmanager",
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={directory / 'web.yml'}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (directory / "pw").write_text(AM_PW + "\n")
    yield f"http://127.0.0.1:{port}", directory / "pw"
    stop_process(process)
    shutil.rmtree(directory, ignore_errors=True)


def auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"enhancer:{AM_PW}".encode()).decode()}


async def am(session: aiohttp.ClientSession, method: str, url: str, body: object = None) -> object:
    for _ in range(100):  # until it listens
        try:
            async with session.request(method, url, json=body, headers=auth()) as response:
                assert response.status < 300, await response.text()
                return await response.json(content_type=None)
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError("alertmanager did not answer")


def silence_config(url: str, password_file: Path | None) -> dict:
    alertmanager: dict = {"url": url}
    if password_file is not None:
        alertmanager["basic_auth"] = {"username": "enhancer", "password_file": str(password_file)}
    return parse_config(
        {
            "alertmanager": alertmanager,
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "quiet",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {
                        "kind": "alertmanager_silence",
                        "retries": 0,
                        "matchers": [{"name": "sku", "value": "{labels.sku}", "is_regex": True}],
                    },
                }
            ],
        }
    )


async def test_silences_authenticate_to_alertmanager_and_regex_matchers_match_only_the_label(
    secured_alertmanager, session
):
    url, password_file = secured_alertmanager
    async with aiohttp.ClientSession() as check:
        await am(check, "GET", f"{url}/api/v2/status")
        await am(
            check,
            "POST",
            f"{url}/api/v2/alerts",
            [{"labels": {"alertname": "Low", "sku": sku}} for sku in ("a.*|b", "b", "aXYZ")],
        )

        # without credentials Alertmanager refuses, and nothing is silenced
        config = silence_config(url, None)
        result = await ActionSender(config, session).send(
            config.rules[0], action_id="a0", labels={"sku": "a.*|b"}, value=1.0, baseline=None
        )
        assert not result.success and "HTTP 401" in result.detail

        config = silence_config(url, password_file)
        result = await ActionSender(config, session).send(
            config.rules[0], action_id="a1", labels={"sku": "a.*|b"}, value=1.0, baseline=None
        )
        assert result.success, result.detail
        assert AM_PW not in result.detail
        [silence] = await am(check, "GET", f"{url}/api/v2/silences")
        assert silence["matchers"] == [{"name": "sku", "value": r"a\.\*\|b", "isRegex": True, "isEqual": True}]
        alerts = await am(check, "GET", f"{url}/api/v2/alerts")
        silenced = {alert["labels"]["sku"]: bool(alert["status"]["silencedBy"]) for alert in alerts}
    assert silenced == {"a.*|b": True, "b": False, "aXYZ": False}


# -- item 5: label values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/actions/{labels.location}", "http://{labels.host}/x", "http://127.0.0.1/x?l={rule}"],
)
async def test_template_fields_in_an_action_url_are_a_config_error(tmp_path, url):
    config = write_config(
        tmp_path / "e.yml",
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [rule("r", "up", trigger={"kind": "threshold", "value": 0}, url=url)],
        },
    )
    code, _, err = await run_enhancer("--config", str(config), "--check-config")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith(f"{config}: rules.0.action.url: template fields are not allowed in a URL")


def vector(*items: tuple[dict[str, str], str]) -> dict:
    result = [{"metric": labels, "value": [1, value]} for labels, value in items]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.fixture
async def fake_prometheus(aiohttp_server):
    """Answers a query with answers[query] (a JSON value), or an empty vector."""
    answers: dict[str, object] = {}

    async def handle(request: web.Request) -> web.Response:
        return web.json_response(answers.get(request.query["query"], vector()))

    app = web.Application()
    app.router.add_get("/api/v1/query", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), answers


async def test_a_label_cannot_forge_a_log_line_nor_bloat_logs_and_state(tmp_path, fake_prometheus, receiver):
    url, answers = fake_prometheus
    huge = "x" * 100_000
    answers["forge"] = vector(({"location": FORGED}, "1"))
    answers["huge"] = vector(({"sku": huge}, "1"))
    state = tmp_path / "state.db"
    threshold = {"kind": "threshold", "value": 0}
    config = write_config(
        tmp_path / "e.yml",
        {
            "prometheus": {"url": url},
            "state": str(state),
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                rule("forge", "forge", trigger=threshold),  # a log action: the label is in its message
                {
                    **rule("huge", "huge", trigger=threshold, url=receiver.url + "/hook"),
                    "action": {"kind": "webhook", "url": receiver.url + "/hook", "body": {"sku": "{labels.sku}"}},
                },
            ],
        },
    )
    code, out, err = await run_enhancer("--config", str(config), "--once", "--log-level", "debug")
    assert code == 0, err[-3000:]
    lines = err.splitlines()
    assert not [line for line in lines if not line.startswith("ts=")], err[-3000:]
    assert "FORGED LINE" in err and "\x1b" not in err and "\r" not in err
    assert max(len(line) for line in lines) < 8 * 1024, max(len(line) for line in lines)
    [sent] = receiver.to("/hook")
    assert sent.body["sku"].startswith("x" * 1024 + "...[98976 more characters, sha256 ")
    size = sum(path.stat().st_size for path in tmp_path.glob("state.db*"))
    assert size < 200 * 1024, size


async def test_a_malformed_answer_is_that_rules_error_and_the_cycle_goes_on(
    make_engine, fake_prometheus, receiver, caplog
):
    url, answers = fake_prometheus
    answers["broken"] = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": ["a"]}]}}
    answers["nan"] = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, {}]}]},
    }
    answers["fine"] = vector(({"target": "t"}, "5"))
    threshold = {"kind": "threshold", "value": 0}
    engine = make_engine(
        [
            rule("broken", "broken", trigger=threshold, url=receiver.url + "/broken"),
            rule("nan", "nan", trigger=threshold, url=receiver.url + "/nan"),
            rule("fine", "fine", trigger=threshold, url=receiver.url + "/fine"),
        ],
        clock=FakeClock(time.time()),
        prometheus_url=url,
    )
    report = await engine.run_cycle()
    assert report.prometheus_up is True
    assert "bad_response" in report.errors["broken"] and "metric is a list of 1" in report.errors["broken"]
    assert "bad_response" in report.errors["nan"] and "not a number" in report.errors["nan"]
    assert "fine" not in report.errors and len(receiver.to("/fine")) == 1
    assert receiver.to("/broken") == [] and receiver.to("/nan") == []
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.getMessage().startswith("rule broken:")]
    assert len(errors) == 1
    metrics = {
        tuple(s.labels.values()): s.value
        for family in build_registry(engine).collect()
        if family.name == "inventory_enhancer_rule_query_success"
        for s in family.samples
    }
    assert metrics == {("broken",): 0.0, ("nan",): 0.0, ("fine",): 1.0}


async def test_a_body_above_the_cap_is_not_sent(receiver, session):
    config = parse_config(
        {
            "allowed_hosts": ["127.0.0.1"],
            "rules": [
                {
                    "name": "big",
                    "query": "up",
                    "trigger": {"kind": "threshold", "value": 0},
                    "action": {
                        "kind": "webhook",
                        "url": receiver.url + "/big",
                        "body": {"copies": ["{labels.sku}"] * 100},
                    },
                }
            ],
        }
    )
    result = await ActionSender(config, session).send(
        config.rules[0], action_id="b1", labels={"sku": "y" * 1024}, value=1.0, baseline=None
    )
    assert not result.success and result.attempts == 0
    assert f"above the {MAX_BODY_BYTES >> 10} KiB cap" in result.detail
    await asyncio.sleep(0.05)
    assert receiver.requests == []
