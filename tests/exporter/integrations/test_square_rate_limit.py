"""Square's 429 RATE_LIMITED has no Retry-After; Square asks for exponential backoff with
jitter. The connector's retries are measured where the fake receives them.

The waits come from servicekit.retry.Retry's documented formula: before retry n the
backoff ceiling is `initial x 2^(n-1)` (at most `cap`), and full jitter draws the wait
uniformly from [0, ceiling]. A wait can so be anything down to 0; what must grow is the
ceiling, and each measured gap must be at least the wait drawn for it.
"""

from __future__ import annotations

import logging
import random

import pytest
from integration_support import make_collector, running_fake, value

BACKOFF = 0.1  # the integration's `backoff`: the first ceiling
CAP = 10.0  # HttpClient's cap
THROTTLED = 3  # 429 answers before the fake answers again


def ceiling(retry: int) -> float:
    return min(CAP, BACKOFF * 2 ** (retry - 1))


@pytest.mark.parametrize("draw", ["top", "random"])
async def test_429_without_retry_after_is_retried_with_growing_backoff(inventory_db, monkeypatch, draw):
    draws: list[tuple[float, float, float]] = []
    real_uniform = random.uniform

    def uniform(low: float, high: float) -> float:
        # "top": the largest wait full jitter allows, so the gaps themselves must double;
        # "random": the real draw, which each gap must still cover.
        got = high if draw == "top" else real_uniform(low, high)
        draws.append((low, high, got))
        return got

    monkeypatch.setattr("servicekit.retry.random.uniform", uniform)
    async with running_fake("square") as fake:
        # The first THROTTLED requests (the probe, then its retries) are answered 429.
        fake.control(error="429", error_count=THROTTLED)
        collector = make_collector("square", fake.url, inventory_db, backoff=BACKOFF, retries=THROTTLED, timeout=10)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
        log = [entry for entry in fake.state.request_log]
    assert [entry["status"] for entry in log[: THROTTLED + 1]] == [429] * THROTTLED + [200]
    assert {entry["path"] for entry in log[: THROTTLED + 1]} == {"/v2/locations"}
    assert all("Retry-After" not in entry["headers"] for entry in log)
    # Full jitter between 0 and the doubling ceiling, one draw per retry.
    assert [(low, high) for low, high, _ in draws] == [(0.0, ceiling(n)) for n in range(1, THROTTLED + 1)]
    assert all(0.0 <= got <= high for _, high, got in draws)
    gaps = [log[i + 1]["at"] - log[i]["at"] for i in range(THROTTLED)]
    for gap, (_, _, wait) in zip(gaps, draws):
        assert gap >= wait - 0.005, (gaps, draws)  # asyncio's clock may wake a hair early
        assert gap <= wait + 1.0, (gaps, draws)  # and a loaded machine late, but not by seconds
    if draw == "top":
        assert gaps[0] >= 0.1 - 0.005 and gaps[1] >= 0.2 - 0.005 and gaps[2] >= 0.4 - 0.005, gaps
        assert gaps[0] < gaps[1] < gaps[2]
    assert value(families, "inventory_integration_throttled_requests_total") == THROTTLED
    assert value(families, "inventory_integration_requests_total", code="429") == THROTTLED
    assert value(families, "inventory_integration_up") == 1
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_accuracy_ratio") == 1.0


async def test_429_until_retries_run_out_fails_the_run_as_rate_limited(inventory_db, caplog):
    retries = 2
    async with running_fake("square") as fake:
        # The probe passes, then every request is rate limited.
        fake.control(error="429", error_after=1, error_count=None)
        collector = make_collector("square", fake.url, inventory_db, backoff=0.01, retries=retries, timeout=10)
        try:
            with caplog.at_level(logging.WARNING, logger="exporter.integrations"):
                families = await collector.collect()
            fake.control(error=None)
            recovered = await collector.collect()
        finally:
            await collector.close()
        status = fake.state.status()
    assert value(families, "inventory_integration_up") == 1
    assert value(families, "inventory_integration_fetch_success") == 0
    assert value(families, "inventory_integration_accuracy_ratio") is None  # no stale comparison
    assert value(families, "inventory_integration_throttled_requests_total") == retries + 1
    assert status["throttle_violations"] == retries + 1
    (warning,) = [r.getMessage() for r in caplog.records if "stock fetch failed" in r.getMessage()]
    assert "POST /v2/inventory/counts/batch-retrieve: HTTP 429 rate limited" in warning
    # Reported, not crashed: the next run works.
    assert value(recovered, "inventory_integration_fetch_success") == 1
    assert value(recovered, "inventory_integration_accuracy_ratio") == 1.0
