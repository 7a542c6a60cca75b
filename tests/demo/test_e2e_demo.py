"""End to end: the demo stack of `make demo` with the real Prometheus and Alertmanager.

demo/run.py starts everything (seeded database, inventory API, fakes, exporter,
Prometheus with the shipped rules, Alertmanager with the shipped routing, enhancer,
simulator, webhook sink) on free ports (--port-offset) with 1 s scrape, evaluation and
probe intervals (--fast). The test then breaks the inventory API's health endpoint, the
way the simulator's api_errors fault does, and follows the shipped alert
InventoryAPIHealthCheckFailing (`for: 1m`, critical, routed to the `pager` receiver with
group_wait 5s) until Alertmanager delivers it to the sink with the right labels; then it
clears the fault and waits for the resolved notification. Condition-to-delivery times
are printed (and are what docs/demo.md reports).
"""

from __future__ import annotations

import html
import re
import signal
import time
import urllib.parse
import urllib.request

import pytest
from PIL import Image

from demo.run import port_in_use
from tests.conftest import ROOT
from tests.demo.demo_stack import get_json, post_json, running_demo, wait_for_demo

ALERT = "InventoryAPIHealthCheckFailing"
pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(290)]


def _alerts(sink: str, status: str) -> list[tuple[float, str, dict]]:
    """(received_at, receiver, alert) of every delivered alert named ALERT with that status."""
    out = []
    for record in get_json(f"{sink}/received?kind=alert"):
        for alert in (record["body"] or {}).get("alerts", []):
            if alert["labels"].get("alertname") == ALERT and alert["status"] == status:
                out.append((record["received_at"], record["receiver"], alert))
    return out


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path, ["--no-faults", "--skus", "1000", "--duration", "280"], start_timeout=90) as stack:
        yield stack


def test_fault_fires_alert_that_reaches_the_sink_and_resolves(demo, capsys, tmp_path):
    urls, process, log_path = demo
    prometheus, sink, api = urls["prometheus"], urls["sink"], urls["api"]

    # A healthy baseline first, so the alert is a real transition seen by Prometheus.
    def probe_value():
        query = urllib.parse.quote('inventory_api_up{target="inventory-api"}')
        result = get_json(f"{prometheus}/api/v1/query?query={query}")["data"]["result"]
        return result and result[0]["value"][1]

    assert wait_for_demo(probe_value, 60, "Prometheus to scrape the API probe", process, log_path) == "1"
    assert _alerts(sink, "firing") == []

    # The condition: the API's workers crash and /health answers 503.
    condition_at = time.time()
    post_json(f"{api}/_control", {"unhealthy": True})
    firing = wait_for_demo(lambda: _alerts(sink, "firing"), 150, f"{ALERT} at the sink", process, log_path)
    delivered_at, receiver, alert = firing[0]

    assert receiver == "pager", "critical alerts page"
    labels = alert["labels"]
    assert labels["severity"] == "critical"
    assert labels["target"] == "inventory-api"
    assert labels["service"] == "inventory-api"
    assert labels["job"] == "inventory-exporter"
    assert alert["annotations"]["runbook_url"].endswith("runbooks.md#inventoryapihealthcheckfailing")
    assert "inventory-api" in alert["annotations"]["summary"]
    starts = alert["startsAt"]
    # Prometheus's own view agrees: the alert is firing.
    rules = get_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    assert any(a["labels"]["alertname"] == ALERT and a["state"] == "firing" for a in rules)
    fired_delay = delivered_at - condition_at
    # `for: 1m` cannot be beaten, and 1 s intervals plus group_wait 5s must not add minutes.
    assert 60 <= fired_delay < 100, fired_delay

    # Clear the fault; the resolved notification follows within Alertmanager's group_interval (1m).
    cleared_at = time.time()
    post_json(f"{api}/_control", {"reset": True})
    resolved = wait_for_demo(lambda: _alerts(sink, "resolved"), 100, f"{ALERT} resolved at the sink", process, log_path)
    resolved_at, receiver, alert = resolved[0]
    assert receiver == "pager" and alert["labels"]["target"] == "inventory-api"
    assert alert["startsAt"] == starts, "the resolved notification is for the same alert"
    resolved_delay = resolved_at - cleared_at
    assert 0 < resolved_delay < 90, resolved_delay

    with capsys.disabled():
        print(
            f"\n[e2e] {ALERT}: condition-to-delivery {fired_delay:.1f}s (for: 1m + 1 s probe/scrape/eval "
            f"+ group_wait 5s); clear-to-resolved-delivery {resolved_delay:.1f}s (group_interval 1m)"
        )

    _look_at_the_dashboards(urls["dashboards"], tmp_path, capsys)

    # Ctrl-C stops the whole stack and leaves nothing listening.
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, log_path.read_text()[-3000:]
    log = log_path.read_text()
    assert "no process left" in log
    for component in ("sink", "api", "exporter", "alertmanager", "prometheus", "enhancer", "simulator"):
        assert f"[run] starting {component}:" in log, f"{component} was not part of the stack"
    assert ALERT in log, "the sink printed the alert it received"
    busy = [name for name, url in urls.items() if port_in_use(int(url.rsplit(":", 1)[1]))]
    assert busy == [], f"still listening after shutdown: {busy}"


# Panels that a few minutes of demo cannot fill, as docs/dashboards.md says: the
# baselines need hours of history, the improvement a verified action.
NEEDS_LONGER_HISTORY = {("enhancer", "Baselines"), ("enhancer", "Improvement after the last verified action")}


def _look_at_the_dashboards(base: str, tmp_path, capsys) -> None:
    """Headless Chromium opens each page the demo serves, as a user's browser would: every
    panel drew data (the page's DOM says so panel by panel), and a screenshot is taken."""
    from reporter.render_pdf import chromium_available, run_chromium

    assert chromium_available("/usr/bin/chromium"), "chromium not installed: make test installs it"

    def chromium(*args: str) -> str:
        # The reporter's flags resolve no host (a report fetches nothing); the last
        # --host-resolver-rules wins, and this browser must reach the demo on loopback.
        resolver = "--host-resolver-rules=MAP nothing.invalid ~NOTFOUND"
        return run_chromium("/usr/bin/chromium", [resolver, *args], 60).stdout.decode()

    shipped = sorted(path.stem for path in (ROOT / "grafana" / "dashboards").glob("*.json"))
    index = chromium("--dump-dom", base + "/")
    assert all(f"{name}.html" in index for name in shipped), index[:500]
    for name in shipped:
        url = f"{base}/{name}.html"
        dom = chromium("--virtual-time-budget=2000", "--dump-dom", url)
        panels = re.findall(r'class="gd-panel[^"]*"[^>]*data-title="([^"]*)"[^>]*data-status="([^"]*)"', dom)
        assert panels, f"{name}: no panels in the page"
        empty = {html.unescape(title) for title, status in panels if status not in ("ok", "text", "row")}
        assert empty <= {title for dashboard, title in NEEDS_LONGER_HISTORY if dashboard == name}, (name, empty)
        shot = tmp_path / f"{name}.png"
        chromium(f"--screenshot={shot}", "--window-size=1650,2400", url)
        image = Image.open(shot).convert("RGB")
        colours = len(set(image.resize((200, 290)).getdata()))
        assert colours > 50, f"{name}: the screenshot looks blank ({colours} colours)"
        with capsys.disabled():
            print(f"[e2e] dashboard {name}: {len(panels)} panels, {len(panels) - len(empty)} drawn with data; {shot}")
