"""Issue 18: a daily report on the day X whose history holds known truths (tests/reporter/dataset.py).

Every expected number here is worked out from the truths themselves (the outage's length,
the orders created and fulfilled, the failed syncs, the verifications, the alert
episodes), not from a model of PromQL: each test failed on the reporter of before the fix.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
import yaml

from reporter.cli import main
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

pytestmark = pytest.mark.prometheus


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def report(prometheus, tmp_path_factory) -> dict[tuple[str, tuple], dict]:
    out = tmp_path_factory.mktemp("truths")
    path = out / "reporter.yml"
    path.write_text(yaml.safe_dump(base_config(prometheus.url, out / "archive")))
    name = f"daily-{day(d.X)}"
    code = main(["--config", str(path), "--period", "daily", "--end", day(d.X), "--format", "json"])
    assert code == 0
    data = json.loads((out / "archive" / name / f"{name}.json").read_text())
    assert data["period"]["start_ts"] == d.X and data["period"]["end_ts"] == d.X + d.DAY
    return {(f["key"], tuple(sorted(f["labels"].items()))): f for f in data["figures"]}


def test_an_outage_without_requests_costs_availability(report):
    # 2 hours of 24 down: availability is uptime, whatever the requests that were (not) served
    availability = report[("service.availability_ratio", ())]
    assert availability["value"] == pytest.approx(1 - 2 / 24, rel=1e-9)
    assert availability["previous"] == pytest.approx(1.0)
    assert availability["objective_met"] is False and availability["previous_objective_met"] is True
    # request success stays, under its own name: the outage served no request, so it
    # shows only the 5xx share of what was served (bursts included)
    served = [t for t in range(d.X, d.X + d.DAY, d.MINUTE) if not d.in_outage(t)]
    errors = sum(d.error_rate(t) for t in served)
    requests = sum(d.OK_RATE["cur"] + d._spike(t) + d.error_rate(t) for t in served)
    success = report[("service.request_success_ratio", ())]
    assert success["value"] == pytest.approx(1 - errors / requests, rel=1e-5)
    assert success["value"] > 0.99  # the outage is invisible to it
    # the same table shows the alert that fired for the outage: 119 minutes
    down = report[("service.alert_firing_seconds", (("alertname", "InventoryTargetDown"), ("severity", "critical")))]
    assert down["value"] == 119 * 60


def test_fulfilment_is_weighted_by_the_orders_of_the_day(report):
    for channel in d.CHANNELS:
        created, fulfilled = d.orders_between(channel, d.X, d.X + d.DAY)
        before_created, before_fulfilled = d.orders_between(channel, d.X - d.DAY, d.X)
        figure = report[("business.fulfillment_ratio", (("channel", channel),))]
        assert figure["value"] == pytest.approx(fulfilled / created, rel=1e-9), channel
        assert figure["previous"] == pytest.approx(before_fulfilled / before_created, rel=1e-9), channel
    # online: 795 of 975 orders; busy hours weigh by their orders, the day before does not bleed in
    assert report[("business.fulfillment_ratio", (("channel", "online"),))]["value"] == pytest.approx(795 / 975)


def test_a_first_ever_failed_sync_counts_and_no_failure_is_zero(report):
    odoo = report[("integrations.failed_syncs", (("integration", "odoo"),))]
    assert odoo["value"] == 1  # the status="failed" series appeared at 1 during the day
    assert odoo["previous"] == 0  # odoo synced the day before without failing: 0, not "no data"
    shopify = report[("integrations.failed_syncs", (("integration", "shopify"),))]
    wanted = sum(1 for at in d.FAILED_SYNCS["shopify"] if d.X <= at < d.X + d.DAY)
    assert shopify["value"] == wanted == 1
    assert shopify["previous"] == 0
    square = report[("integrations.failed_syncs", (("integration", "square"),))]
    assert square["value"] == 0 and square["previous"] == 0


def test_no_improvement_is_claimed_for_a_day_without_a_verified_action(report):
    figure = report[("enhancer.effect_mean", (("rule", "resync-stale"),))]
    verified_today = [v for at, v in d.VERIFICATIONS["resync-stale"] if d.X <= at < d.X + d.DAY]
    verified_before = [v for at, v in d.VERIFICATIONS["resync-stale"] if d.X - d.DAY <= at < d.X]
    assert verified_today == [] and verified_before == [0.35]
    assert figure["value"] is None and figure["note"]
    assert figure["previous"] == pytest.approx(0.35)
    assert report[("enhancer.verified_actions", (("rule", "resync-stale"),))]["value"] == 0


def test_pending_only_episodes_are_no_firings(report):
    def key(alertname: str, severity: str) -> tuple:
        return (("alertname", alertname), ("severity", severity))

    high = report[("service.alert_episodes", key("InventoryAPIHighErrorRatio", "warning"))]
    fired = [s for s, _ in d.ALERT_EPISODES[("InventoryAPIHighErrorRatio", "warning", True)] if d.X <= s < d.X + d.DAY]
    assert len(fired) == 1 and high["value"] == 1  # the second episode stayed pending
    assert report[("service.alert_episodes", key("InventoryTargetDown", "critical"))]["value"] == 1
    # InventoryLowStock was only pending that day: it did not fire
    low = report.get(("service.alert_episodes", key("InventoryLowStock", "warning")))
    assert low is None or (low["value"] in (None, 0) and not math.isnan(low["value"] or 0))
