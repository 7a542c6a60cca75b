"""Both Prometheus replicas fire the same alert; the Alertmanager cluster notifies once per
group, and still once with one peer killed."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for

from .conftest import Stack, http_json, http_text, metric_value, prometheus_url

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

ALERT = "InventoryOutOfStock"


def firing_on(stack: Stack, replica: str, location: str) -> bool:
    alerts = http_json(prometheus_url(stack.prometheis[replica]) + "/api/v1/alerts")["data"]["alerts"]
    return any(
        a["labels"]["alertname"] == ALERT and a["labels"].get("location") == location and a["state"] == "firing"
        for a in alerts
    )


def notifications(stack: Stack, location: str) -> list:
    """Firing notifications of the group {alertname=ALERT, location} received by the webhook."""
    return [
        r
        for r in stack.receiver.to("/alerts/")
        if r.body["groupLabels"].get("alertname") == ALERT
        and r.body["groupLabels"].get("location") == location
        and r.body["status"] == "firing"
    ]


def am_url(stack: Stack, name: str) -> str:
    return stack.alertmanagers[name].ready_url.rsplit("/-/", 1)[0]


def test_both_replicas_fire_and_the_cluster_notifies_once_even_with_a_peer_killed(stack: Stack):
    sell_out(stack, "store-1", 3)
    wait_for(
        lambda: firing_on(stack, "a", "store-1") and firing_on(stack, "b", "store-1"),
        timeout=30,
        interval=0.2,
        message="both replicas firing InventoryOutOfStock for store-1",
    )

    # One alert in each peer, not one per replica: alert_relabel_configs dropped `replica`.
    for name in "ab":

        def ours():
            alerts = http_json(am_url(stack, name) + "/api/v2/alerts")  # noqa: B023 - called in this iteration
            return [a for a in alerts if a["labels"]["alertname"] == ALERT and a["labels"]["location"] == "store-1"]

        [alert] = wait_for(ours, timeout=15, message=f"alert in alertmanager-{name}")
        assert "replica" not in alert["labels"] and alert["labels"]["cluster"] == "inventory-ha"

    wait_for(lambda: notifications(stack, "store-1"), timeout=30, interval=0.1, message="a notification")
    # Both peers hold the alert; the second in the cluster order would send after
    # --cluster.peer-timeout (2 s) if the first's notification were not gossiped. Wait
    # well past it, and past several evaluations of both replicas.
    time.sleep(6)
    [notification] = notifications(stack, "store-1")
    assert notification.path == "/alerts/team-warnings"
    assert [a["labels"]["location"] for a in notification.body["alerts"]] == ["store-1"]

    # Kill -9 the peer that sent it: the survivor must deliver the next group alone.
    sent = {
        name: metric_value(
            http_text(am_url(stack, name) + "/metrics"), "alertmanager_notifications_total", 'integration="webhook"'
        )
        or 0.0
        for name in "ab"
    }
    [sender] = [name for name, count in sent.items() if count >= 1]
    survivor = "b" if sender == "a" else "a"
    stack.alertmanagers[sender].kill9()

    sell_out(stack, "store-2", 5)
    wait_for(
        lambda: firing_on(stack, "a", "store-2") and firing_on(stack, "b", "store-2"),
        timeout=30,
        interval=0.2,
        message="both replicas firing for store-2",
    )
    wait_for(
        lambda: notifications(stack, "store-2"),
        timeout=40,
        interval=0.1,
        message=f"a notification from the surviving alertmanager-{survivor}",
    )
    time.sleep(5)
    assert len(notifications(stack, "store-2")) == 1
    assert len(notifications(stack, "store-1")) == 1  # the first group was not re-sent either
    survivor_sent = metric_value(
        http_text(am_url(stack, survivor) + "/metrics"), "alertmanager_notifications_total", 'integration="webhook"'
    )
    assert survivor_sent >= 1


def sell_out(stack, location: str, skus: int) -> None:
    """What makes InventoryOutOfStock fire since issue 22: SKUs that sold recently are out
    of stock, and their demand is more than 0.5 % of the location's."""
    stack.exporter.set(f'inventory_out_of_stock_skus{{location="{location}"}}', skus)
    stack.exporter.set(f'inventory_stockout_selling_skus{{location="{location}"}}', skus)
    stack.exporter.set(f'inventory_stockout_demand_units_per_day{{location="{location}"}}', 4.0 * skus)
    stack.exporter.set(f'inventory_forecast_daily_demand_units{{location="{location}"}}', 100.0)
