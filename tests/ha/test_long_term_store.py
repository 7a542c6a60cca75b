"""VictoriaMetrics holds both replicas as one deduplicated series, and keeps it without a
gap when a replica is killed."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for

from .conftest import SCRAPE_SECONDS, Stack, http_json, prometheus_url

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

SERIES = 'inventory_on_hand_units{location="ha-dedup"}'


def test_a_killed_replica_leaves_no_gap_and_no_doubled_values(stack: Stack):
    stack.exporter.set(SERIES, 42)
    alive = [name for name, process in stack.prometheis.items() if process.alive]
    assert alive == ["a", "b"], "both replicas must be running before one is killed"
    # both replicas have written for a while
    wait_for(
        lambda: stack.vm_query(f"count_over_time({SERIES}[10s])"),
        timeout=30,
        interval=0.5,
        message="samples in VictoriaMetrics",
    )
    time.sleep(10)

    # One series, not one per replica (the replica label is dropped on write) ...
    [series] = stack.vm_query(SERIES)
    assert "replica" not in series["metric"] and series["metric"]["cluster"] == "inventory-ha"
    assert series["metric"]["shard"] == "1"  # from the file_sd targets file
    # ... whose sum equals what one replica scraped, and each replica did scrape it.
    for name in "ab":
        local = http_json(prometheus_url(stack.prometheis[name]) + f"/api/v1/query?query={SERIES}")
        assert float(local["data"]["result"][0]["value"][1]) == 42.0
    assert float(stack.vm_query(f"sum({SERIES})")[0]["value"][1]) == 42.0
    # Deduplication: both replicas wrote a sample every second, VictoriaMetrics keeps about
    # one per -dedup.minScrapeInterval (without it this would be about 2 per second).
    rate = float(stack.vm_query(f"count_over_time({SERIES}[10s])")[0]["value"][1]) / 10
    assert 0.7 <= rate * SCRAPE_SECONDS <= 1.2, rate

    killed_at = time.time()
    stack.prometheis["a"].kill9()
    time.sleep(10)
    end = time.time() - 2  # past VictoriaMetrics's -search.latencyOffset and remote-write batching

    # query_range around the kill: a point at every step, every one 42, no doubling
    start = killed_at - 10
    answer = http_json(
        f"{stack.victoria_url}/api/v1/query_range?query=sum({SERIES})&start={start:.3f}&end={end:.3f}&step=1s"
    )
    [result] = answer["data"]["result"]
    stamps = [float(t) for t, _ in result["values"]]
    assert {float(v) for _, v in result["values"]} == {42.0}
    assert len(stamps) == int(end - start) + 1 and max(b - a for a, b in zip(stamps, stamps[1:])) == 1.0

    # and the raw samples (the survivor's after the kill) have no hole across it
    raw = stack.vm_query(f"{SERIES}[{int(end - start)}s]", time=f"{end:.3f}")
    samples = [float(t) for t, _ in raw[0]["values"]]
    gaps = [b - a for a, b in zip(samples, samples[1:])]
    assert samples[0] < killed_at - 5 and samples[-1] > killed_at + 5
    assert max(gaps) <= 2.5 * SCRAPE_SECONDS, gaps
