"""Rate limits are obeyed: Shopify's cost bucket is never overdrawn in steady state,
a THROTTLED answer is waited out, and Square's 429s (no Retry-After) are retried with
exponential backoff and jitter (the waits themselves: test_square_rate_limit.py)."""

from __future__ import annotations

import time

import pytest
from integration_support import make_collector, running_fake, value


async def test_shopify_paces_itself_with_a_tight_bucket(inventory_db):
    async with running_fake("shopify") as fake:
        # Pages of 5 items x 2 levels cost 47 points; 6 pages + probe = 283 points,
        # from a 100-point bucket refilled at 200 points/s.
        fake.control(throttle={"maximum_available": 100, "restore_rate": 200})
        collector = make_collector("shopify", fake.url, inventory_db, page_size=5, levels_per_item=2, timeout=10)
        try:
            started = time.monotonic()
            first = await collector.collect()
            elapsed = time.monotonic() - started
            second = await collector.collect()  # starts with a drained bucket it knows about
        finally:
            await collector.close()
        status = fake.state.status()
    assert status["throttle_violations"] == 0
    assert value(first, "inventory_integration_throttled_requests_total") == 0
    assert value(second, "inventory_integration_throttled_requests_total") == 0
    # The bucket allowed no faster than (283 - 100) / 200 s.
    assert elapsed >= (283 - 100) / 200 * 0.9, elapsed
    assert elapsed < 3.0, elapsed
    for families in (first, second):
        assert value(families, "inventory_integration_fetch_success") == 1
        assert value(families, "inventory_integration_accuracy_ratio") == 1.0
        assert 0 <= value(families, "inventory_integration_rate_limit_headroom_ratio") <= 1


async def test_shopify_throttled_is_waited_out(inventory_db):
    async with running_fake("shopify") as fake:
        # Someone drained the bucket before this process started: the first query is THROTTLED.
        fake.control(throttle={"maximum_available": 1000, "restore_rate": 2000, "currently_available": 0})
        # request_timeout: the fake validates every query against Shopify's 3.8 MB schema,
        # which on a loaded machine can take a second; a timed-out THROTTLED answer would be
        # counted by the fake and never seen by the connector.
        collector = make_collector(
            "shopify", fake.url, inventory_db, page_size=10, levels_per_item=2, request_timeout=10.0
        )
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        status = fake.state.status()
    assert status["throttle_violations"] == 1
    assert value(families, "inventory_integration_throttled_requests_total") == 1
    assert value(families, "inventory_integration_up") == 1
    assert value(families, "inventory_integration_fetch_success") == 1


async def test_square_429_rate_limit_is_retried_with_backoff(inventory_db):
    async with running_fake("square") as fake:
        fake.control(page_size=10, throttle={"requests_per_second": 20, "burst": 3})
        # Backoff ceilings 0.05, 0.1, 0.2...: 8 retries wait far longer than the 50 ms a token takes.
        collector = make_collector("square", fake.url, inventory_db, backoff=0.05, retries=8, timeout=20)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        status = fake.state.status()
    assert status["throttle_violations"] > 0  # the burst was small enough to hit the limit
    assert value(families, "inventory_integration_throttled_requests_total") == status["throttle_violations"]
    assert value(families, "inventory_integration_requests_total", code="429") == status["throttle_violations"]
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_accuracy_ratio") == 1.0


@pytest.mark.parametrize("bucket", [{"maximum_available": 2000, "restore_rate": 100}])
async def test_shopify_headroom_reports_the_bucket(inventory_db, bucket):
    async with running_fake("shopify") as fake:
        fake.control(throttle=bucket)
        collector = make_collector("shopify", fake.url, inventory_db)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    # One probe (1 point) and one page of 30 items x 2 levels (requested 902, actual 272).
    headroom = value(families, "inventory_integration_rate_limit_headroom_ratio")
    assert headroom == pytest.approx((2000 - 1 - 272) / 2000, abs=0.01)
