"""Alertmanager config: amtool check-config and route tests on the shipped files, no secret in
them, templates rendered by amtool, and a real Alertmanager on 127.0.0.1 delivering to a
webhook (and a Slack receiver whose URL comes from api_url_file) served by this test, with
the inhibition rules muting what they should and nothing else."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.conftest import ROOT, free_port, stop_process

AM_DIR = ROOT / "alertmanager"
CONFIGS = ["alertmanager.yml", "alertmanager.docker.yml"]
RUNBOOK = "https://github.com/inventory-monitor/inventory-monitor/blob/main/docs/runbooks.md#"

# (receiver, labels) for every route of the tree plus the root's default.
ROUTE_CASES = [
    ("pager", {"severity": "critical", "alertname": "InventoryTargetDown", "service": "inventory-api"}),
    ("pager", {"severity": "critical", "alertname": "InventoryAPIErrorBudgetBurn", "long_window": "1h"}),
    ("team-warnings", {"severity": "warning", "alertname": "InventoryLowStock", "location": "wh-east"}),
    # Issue 22: the selling stock-out, the stock-out rise and the new-unlogged-movements alerts.
    (
        "team-warnings",
        {"severity": "warning", "alertname": "InventoryOutOfStock", "kind": "selling", "location": "store-1"},
    ),
    ("team-warnings", {"severity": "warning", "alertname": "InventoryOutOfStock", "kind": "rise", "location": "wh"}),
    ("team-warnings", {"severity": "warning", "alertname": "InventoryAuditGap", "service": "inventory-data"}),
    ("pager", {"severity": "critical", "alertname": "InventoryDatabaseDown", "service": "inventory-data"}),
    ("team-warnings", {"severity": "warning", "alertname": "InventoryIntegrationOutOfSync", "integration": "shopify"}),
    ("low-noise", {"severity": "info", "alertname": "InventoryIntegrationBackInSync"}),
    ("default", {"alertname": "RuleWithoutSeverity"}),
    ("default", {"severity": "page", "alertname": "UnknownSeverity"}),
]

# Keys that would hold a secret inline; the *_file forms are the allowed ones.
INLINE_SECRET_KEYS = {
    "smtp_auth_password",
    "auth_password",
    "auth_secret",
    "slack_api_url",
    "api_url",
    "api_key",
    "opsgenie_api_key",
    "victorops_api_key",
    "service_key",
    "routing_key",
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
}


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH: install it (Debian: apt-get install prometheus-alertmanager) to run these tests"
        )
    return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=AM_DIR, capture_output=True, text=True, timeout=60)


# --- static checks ------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
def test_amtool_check_config(config):
    result = run([binary("amtool"), "check-config", config])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 1 templates" in result.stdout, "the templates glob matched nothing"


def test_the_documented_maintenance_window_is_valid(tmp_path):
    docs = (ROOT / "docs" / "alerting.md").read_text()
    snippet = docs.split("<!-- maintenance-snippet -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    config = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())
    config.update(yaml.safe_load(snippet))
    config["templates"] = [str(AM_DIR / "templates" / "*.tmpl")]
    muted = [r for r in config["route"]["routes"] if r["matchers"][0] in ('severity="warning"', 'severity="info"')]
    assert len(muted) == 2
    for route in muted:
        route["mute_time_intervals"] = ["weekly-maintenance"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    result = run([binary("amtool"), "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr

    # the check is real: a route muted by an interval that does not exist is refused
    muted[0]["mute_time_intervals"] = ["no-such-window"]
    path.write_text(yaml.safe_dump(config))
    assert run([binary("amtool"), "check-config", str(path)]).returncode != 0


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("receiver,labels", ROUTE_CASES, ids=lambda v: v if isinstance(v, str) else v.get("alertname"))
def test_amtool_route(config, receiver, labels):
    args = [f"{k}={v}" for k, v in labels.items()]
    result = run(
        [
            binary("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={receiver}",
            *args,
        ]
    )
    assert result.returncode == 0, f"{labels} -> {result.stdout.strip()}, expected {receiver}"
    assert result.stdout.strip() == receiver


@pytest.mark.parametrize("config", CONFIGS)
def test_amtool_route_verification_can_fail(config):
    """A warning does not page: --verify.receivers really checks."""
    result = run(
        [
            binary("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            "--verify.receivers=pager",
            "severity=warning",
        ]
    )
    assert result.returncode != 0
    assert result.stdout.strip().splitlines()[0] == "team-warnings"


def test_every_route_is_tested():
    doc = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())
    routed = {doc["route"]["receiver"]} | {route["receiver"] for route in doc["route"]["routes"]}
    assert routed == {receiver for receiver, _ in ROUTE_CASES}


def test_route_timings():
    routes = {r["receiver"]: r for r in yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())["route"]["routes"]}
    assert routes["pager"]["matchers"] == ['severity="critical"']
    assert routes["pager"]["group_wait"] in {"0s", "5s", "10s"}
    assert routes["pager"]["repeat_interval"] == "1h"
    assert routes["team-warnings"]["group_by"] == ["alertname", "location", "integration"]
    assert routes["team-warnings"]["group_wait"] == "30s"
    # info: one digest group, at most daily, reminders under the 120h notification-log retention
    assert routes["low-noise"]["group_by"] == ["severity"]
    assert routes["low-noise"]["group_interval"] == "24h"
    assert routes["low-noise"]["repeat_interval"] == "72h"


def walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,), key, value
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (str(i),))


@pytest.mark.parametrize("config", CONFIGS)
def test_no_inline_secrets(config):
    doc = yaml.safe_load((AM_DIR / config).read_text())
    inline = [".".join(path) for path, key, _ in walk(doc) if key in INLINE_SECRET_KEYS]
    assert not inline, f"secrets must come from files: {inline}"
    file_keys = {key for _, key, _ in walk(doc) if key.endswith("_file")}
    assert {"smtp_auth_password_file", "slack_api_url_file", "api_url_file"} <= file_keys
    receivers = {r["name"]: r for r in doc["receivers"]}
    assert "email_configs" in receivers["email-oncall"] and "slack_configs" in receivers["slack-inventory"]


def test_secrets_directory_ships_no_secret():
    assert sorted(p.name for p in (AM_DIR / "secrets").iterdir()) == ["README.md"]


def test_configs_differ_only_in_the_webhook_host():
    demo = (AM_DIR / "alertmanager.yml").read_text().replace("http://127.0.0.1:9099/", "SINK/")
    docker = (AM_DIR / "alertmanager.docker.yml").read_text().replace("http://demo:9099/", "SINK/")
    assert yaml.safe_load(demo) == yaml.safe_load(docker)
    for receiver in ("default", "pager", "team-warnings", "low-noise"):
        assert f"http://127.0.0.1:9099/alerts/{receiver}" in (AM_DIR / "alertmanager.yml").read_text()
        assert f"http://demo:9099/alerts/{receiver}" in (AM_DIR / "alertmanager.docker.yml").read_text()


TEMPLATE_DATA = {
    "receiver": "pager",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "InventoryTargetDown",
                "severity": "critical",
                "service": "inventory-api",
                "job": "inventory-api",
                "instance": "127.0.0.1:8080",
            },
            "annotations": {
                "summary": "inventory-api target 127.0.0.1:8080 is down",
                "description": "Prometheus has failed to scrape 127.0.0.1:8080.",
                "runbook_url": RUNBOOK + "inventorytargetdown",
            },
            "startsAt": "2026-11-22T14:05:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }
    ],
    "groupLabels": {"alertname": "InventoryTargetDown", "service": "inventory-api"},
    "commonLabels": {
        "alertname": "InventoryTargetDown",
        "severity": "critical",
        "service": "inventory-api",
        "job": "inventory-api",
        "instance": "127.0.0.1:8080",
    },
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
}


@pytest.mark.parametrize(
    "template,expected",
    [
        ("inventory.title", "[FIRING:1] CRITICAL InventoryTargetDown (inventory-api)"),
        ("inventory.slack.color", "danger"),
        ("inventory.email.subject", "[FIRING:1] CRITICAL InventoryTargetDown (inventory-api)"),
    ],
)
def test_template_renders(tmp_path, template, expected):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA))
    result = run(
        [
            binary("amtool"),
            "template",
            "render",
            "--template.glob=templates/*.tmpl",
            f'--template.text={{{{ template "{template}" . }}}}',
            f"--template.data={data}",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_text_template_carries_runbook_and_labels(tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA))
    result = run(
        [
            binary("amtool"),
            "template",
            "render",
            "--template.glob=templates/*.tmpl",
            '--template.text={{ template "inventory.text" . }}',
            f"--template.data={data}",
        ]
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "inventory-api target 127.0.0.1:8080 is down"
    assert f"Runbook: {RUNBOOK}inventorytargetdown" in lines
    assert "Labels: instance=127.0.0.1:8080 job=inventory-api service=inventory-api severity=critical" in lines
    assert "Since: 2026-11-22 14:05:00 UTC" in lines


# --- a real Alertmanager ------------------------------------------------------------------


class Sink:
    """Webhook receiver standing in for the demo sink: records every POST by path."""

    def __init__(self):
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.received[request.path].append(await request.json())
        self.arrived.set()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.runner.cleanup()

    def alerts(self, path: str) -> list[dict]:
        return [
            alert
            for payload in self.received.get(path, [])
            for alert in payload.get("alerts", payload.get("attachments", []))
        ]

    async def wait_for(self, condition, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; received so far: {dict(self.received)}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                pass


def make_test_config(sink_port: int, tmp_path: Path) -> Path:
    """The shipped alertmanager.yml with only what a test needs changed: webhooks point at
    the test sink, every group_wait is 1s, and the pager receiver also gets the example Slack
    config with its api_url_file pointing (through a secret file) at the sink."""
    doc = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())
    doc["templates"] = [str(AM_DIR / t) for t in doc["templates"]]
    for route in [doc["route"], *doc["route"]["routes"]]:
        route["group_wait"] = "1s"
    receivers = {r["name"]: r for r in doc["receivers"]}
    for receiver in receivers.values():
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook["url"].replace("http://127.0.0.1:9099/", f"http://127.0.0.1:{sink_port}/")
    slack_url_file = tmp_path / "slack_api_url"
    slack_url_file.write_text(f"http://127.0.0.1:{sink_port}/slack/pager")
    slack = dict(receivers["slack-inventory"]["slack_configs"][0], api_url_file=str(slack_url_file))
    receivers["pager"]["slack_configs"] = [slack]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


class Alertmanager:
    def __init__(self, config: Path, tmp_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "alertmanager.log"
        self.process = subprocess.Popen(
            [
                binary("prometheus-alertmanager"),
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"alertmanager exited: {self.log.read_text()}"
            try:
                async with session.get(f"{self.url}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"alertmanager not ready: {self.log.read_text()}")

    async def post(self, session: aiohttp.ClientSession, alerts: list[dict]) -> None:
        body = [{"labels": a["labels"], "annotations": a.get("annotations", {})} for a in alerts]
        async with session.post(f"{self.url}/api/v2/alerts", json=body) as response:
            assert response.status == 200, await response.text()

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
async def stack(tmp_path):
    sink = Sink()
    await sink.start()
    am = Alertmanager(make_test_config(sink.port, tmp_path), tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await am.wait_ready(session)
            yield sink, am, session
    finally:
        am.stop()
        await sink.stop()


def alert(alertname: str, severity: str | None, **labels: str) -> dict:
    all_labels = {"alertname": alertname, **labels}
    if severity:
        all_labels["severity"] = severity
    return {
        "labels": all_labels,
        "annotations": {
            "summary": f"{alertname} summary",
            "description": f"{alertname} description",
            "runbook_url": RUNBOOK + alertname.lower(),
        },
    }


async def test_each_severity_reaches_its_receiver(stack):
    sink, am, session = stack
    await am.post(
        session,
        [
            alert(
                "InventoryTargetDown",
                "critical",
                service="inventory-api",
                job="inventory-api",
                instance="127.0.0.1:8080",
            ),
            alert("InventoryLowStock", "warning", service="inventory-data", location="wh-east"),
            alert("InventoryIntegrationBackInSync", "info", service="integrations", integration="odoo"),
            alert("RuleWithoutSeverity", None, service="inventory-api"),
        ],
    )
    paths = ["/alerts/pager", "/alerts/team-warnings", "/alerts/low-noise", "/alerts/default", "/slack/pager"]
    await sink.wait_for(lambda: all(sink.received.get(p) for p in paths))

    delivered = {p: sink.received[p][0] for p in paths if p.startswith("/alerts/")}
    for path, payload in delivered.items():
        assert payload["receiver"] == path.removeprefix("/alerts/")
        assert payload["status"] == "firing"
        assert len(payload["alerts"]) == 1
    page = delivered["/alerts/pager"]["alerts"][0]
    assert page["labels"] == {
        "alertname": "InventoryTargetDown",
        "severity": "critical",
        "service": "inventory-api",
        "job": "inventory-api",
        "instance": "127.0.0.1:8080",
    }
    assert page["annotations"]["runbook_url"] == RUNBOOK + "inventorytargetdown"
    assert delivered["/alerts/team-warnings"]["alerts"][0]["labels"]["location"] == "wh-east"
    assert delivered["/alerts/team-warnings"]["groupLabels"] == {
        "alertname": "InventoryLowStock",
        "location": "wh-east",
    }
    assert delivered["/alerts/low-noise"]["alerts"][0]["labels"]["integration"] == "odoo"
    assert delivered["/alerts/default"]["alerts"][0]["labels"]["alertname"] == "RuleWithoutSeverity"
    # Each alert went to exactly one webhook receiver.
    assert sum(len(sink.alerts(p)) for p in delivered) == 4

    # The Slack example, its URL read from api_url_file, rendered by templates/inventory.tmpl.
    slack = sink.received["/slack/pager"][0]
    assert slack["channel"] == "#inventory-alerts"
    attachment = slack["attachments"][0]
    assert attachment["title"] == "[FIRING:1] CRITICAL InventoryTargetDown (inventory-api)"
    assert attachment["color"] == "danger"
    assert "InventoryTargetDown summary" in attachment["text"]
    assert f"Runbook: {RUNBOOK}inventorytargetdown" in attachment["text"]


async def test_critical_inhibits_warning_for_the_same_target(stack):
    sink, am, session = stack
    await am.post(
        session,
        [
            # Rule 1: the fast burn pages, the slow burn of the same service is muted.
            alert(
                "InventoryAPIErrorBudgetBurn",
                "critical",
                service="inventory-api",
                job="inventory-api",
                long_window="1h",
                short_window="5m",
            ),
            alert(
                "InventoryAPIErrorBudgetBurn",
                "warning",
                service="inventory-api",
                job="inventory-api",
                long_window="1d",
                short_window="2h",
            ),
            # Rule 2: the API is down, so its error ratio is no separate news ...
            alert(
                "InventoryTargetDown",
                "critical",
                service="inventory-api",
                job="inventory-api",
                instance="127.0.0.1:8080",
            ),
            alert("InventoryAPIHighErrorRatio", "warning", service="inventory-api", job="inventory-api"),
            # ... but a warning on another service still goes out.
            alert("InventoryLowStock", "warning", service="inventory-data", location="store-1"),
            # Rule 3: square is down: its staleness is muted, shopify's is not.
            alert("InventoryIntegrationDown", "warning", service="integrations", integration="square"),
            alert("InventoryIntegrationSyncStale", "warning", service="integrations", integration="square"),
            alert("InventoryIntegrationSyncStale", "warning", service="integrations", integration="shopify"),
        ],
    )

    def warning_names() -> list[tuple[str, str]]:
        return sorted(
            (a["labels"]["alertname"], a["labels"].get("integration", a["labels"].get("location", "")))
            for a in sink.alerts("/alerts/team-warnings")
        )

    expected_warnings = [
        ("InventoryIntegrationDown", "square"),
        ("InventoryIntegrationSyncStale", "shopify"),
        ("InventoryLowStock", "store-1"),
    ]
    await sink.wait_for(lambda: len(sink.alerts("/alerts/pager")) >= 2 and len(warning_names()) >= 3)
    # Every group has group_wait 1s and the groups flush independently: give a muted group
    # that would have slipped through time to arrive before concluding it did not.
    await asyncio.sleep(3)

    pages = sorted((a["labels"]["alertname"], a["labels"]["severity"]) for a in sink.alerts("/alerts/pager"))
    assert pages == [("InventoryAPIErrorBudgetBurn", "critical"), ("InventoryTargetDown", "critical")]
    assert warning_names() == expected_warnings

    # Alertmanager itself reports exactly the muted alerts as inhibited.
    async with session.get(f"{am.url}/api/v2/alerts") as response:
        alerts = await response.json()
    inhibited = sorted(
        (a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("integration", ""))
        for a in alerts
        if a["status"]["inhibitedBy"]
    )
    assert inhibited == [
        ("InventoryAPIErrorBudgetBurn", "warning", ""),
        ("InventoryAPIHighErrorRatio", "warning", ""),
        ("InventoryIntegrationSyncStale", "warning", "square"),
    ], json.dumps(alerts, indent=1)


async def test_burning_error_budget_mutes_its_own_symptoms(stack):
    sink, am, session = stack
    await am.post(
        session,
        [
            alert(
                "InventoryAPIErrorBudgetBurn",
                "critical",
                service="inventory-api",
                job="inventory-api",
                long_window="6h",
                short_window="30m",
            ),
            alert("InventoryAPIHighErrorRatio", "warning", service="inventory-api", job="inventory-api"),
            alert("InventoryPerformanceDegraded", "warning", service="inventory-api", job="inventory-api"),
            # A different problem of the same service still goes out.
            alert("InventoryAPISlowResponses", "warning", service="inventory-api", job="inventory-api"),
        ],
    )
    await sink.wait_for(lambda: sink.alerts("/alerts/pager") and sink.alerts("/alerts/team-warnings"))
    await asyncio.sleep(3)
    assert [a["labels"]["alertname"] for a in sink.alerts("/alerts/pager")] == ["InventoryAPIErrorBudgetBurn"]
    assert [a["labels"]["alertname"] for a in sink.alerts("/alerts/team-warnings")] == ["InventoryAPISlowResponses"]


async def test_stock_out_and_database_outage_mute_what_they_explain(stack):
    """Issue 22: a location's selling stock-out mutes its low-stock and safety-stock warnings
    (not another location's); the database being down mutes every business alert, the
    critical fill-rate page included, but not an API warning."""
    sink, am, session = stack
    await am.post(
        session,
        [
            alert("InventoryOutOfStock", "warning", service="inventory-data", location="store-1", kind="selling"),
            alert("InventoryLowStock", "warning", service="inventory-data", location="store-1"),
            alert("InventoryBelowSafetyStock", "warning", service="inventory-data", location="store-1"),
            alert("InventoryLowStock", "warning", service="inventory-data", location="wh"),
        ],
    )
    await sink.wait_for(lambda: len(sink.alerts("/alerts/team-warnings")) >= 2)
    await asyncio.sleep(3)
    assert sorted(
        (a["labels"]["alertname"], a["labels"]["location"]) for a in sink.alerts("/alerts/team-warnings")
    ) == [("InventoryLowStock", "wh"), ("InventoryOutOfStock", "store-1")]


async def test_database_outage_mutes_every_business_alert(stack):
    sink, am, session = stack
    await am.post(
        session,
        [
            alert("InventoryDatabaseDown", "critical", service="inventory-data", instance="exporter:9877"),
            alert("InventoryFillRateCollapsed", "critical", service="inventory-data", channel="web"),
            alert("InventoryOutOfStock", "warning", service="inventory-data", location="store-1", kind="rise"),
            alert("InventoryAuditGap", "warning", service="inventory-data", instance="exporter:9877"),
            alert("InventoryAPISlowResponses", "warning", service="inventory-api", job="inventory-api"),
        ],
    )
    await sink.wait_for(lambda: sink.alerts("/alerts/pager") and sink.alerts("/alerts/team-warnings"))
    await asyncio.sleep(3)
    assert [a["labels"]["alertname"] for a in sink.alerts("/alerts/pager")] == ["InventoryDatabaseDown"]
    assert [a["labels"]["alertname"] for a in sink.alerts("/alerts/team-warnings")] == ["InventoryAPISlowResponses"]


def test_email_html_template_renders(tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA))
    result = run(
        [
            binary("amtool"),
            "template",
            "render",
            "--template.glob=templates/*.tmpl",
            "--template.type=html",
            '--template.text={{ template "inventory.email.html" . }}',
            f"--template.data={data}",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "<h2>[FIRING:1] CRITICAL InventoryTargetDown (inventory-api)</h2>" in result.stdout
    assert f'<a href="{RUNBOOK}inventorytargetdown">Runbook</a>' in result.stdout
    assert "<tr><td>instance</td><td>127.0.0.1:8080</td></tr>" in result.stdout
