"""Every bad answer a remote can give, against each vendor's fake: the collector reports
up 0 (or fetch_success 0), logs one clear line without the secret, keeps its request
counters, and recovers by itself once the fault is cleared."""

from __future__ import annotations

import logging
import time

import pytest
from integration_support import TOKENS, make_collector, render, running_fake, samples, value

VENDORS = ["shopify", "square", "odoo"]
FAULTS = {
    # fault: (words the log line must contain, request code label it leaves)
    "500": ("HTTP 500", "500"),
    "503": ("HTTP 503", "503"),
    "garbage": ("not valid JSON", "200"),
    "truncated": ("truncated", "truncated"),
    "hang": ("timed out", "timeout"),
    "401": ("bad credentials", "401"),
    "403": ("bad credentials", "403"),
}
# Requests of the failing run: a transient fault is tried 1 + retries (2, make_collector's)
# times, rejected credentials once ("hang" is cut short by the run's deadline).
ATTEMPTS = {"500": 3, "503": 3, "garbage": 3, "truncated": 3, "401": 1, "403": 1}


def _requests(families) -> dict[str, float]:
    return {dict(labels)["code"]: v for labels, v in samples(families, "inventory_integration_requests_total").items()}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind", VENDORS)
async def test_fault_reports_up_0_and_recovers(kind, fault, inventory_db, caplog):
    caplog.set_level(logging.INFO, logger="exporter.integrations")
    words, code = FAULTS[fault]
    async with running_fake(kind) as fake:
        collector = make_collector(kind, fake.url, inventory_db, timeout=2.0, request_timeout=0.8)
        try:
            healthy = await collector.collect()
            assert value(healthy, "inventory_integration_up") == 1
            before = _requests(healthy)

            fake.control(error=fault)
            started = time.monotonic()
            failing = await collector.collect()
            elapsed = time.monotonic() - started
            assert elapsed < 2.0  # ends on its own, inside the collector's timeout
            assert value(failing, "inventory_integration_up", integration=kind) == 0
            assert value(failing, "inventory_integration_fetch_success", integration=kind) == 0
            # Stale comparisons are not served as if fresh.
            assert value(failing, "inventory_integration_accuracy_ratio") is None
            assert collector.api_views() == {}
            during = _requests(failing)
            assert during.get(code, 0) > before.get(code, 0), (code, during)
            if fault in ATTEMPTS:
                assert during[code] - before.get(code, 0) == ATTEMPTS[fault], (code, before, during)
            assert all(during.get(c, 0) >= n for c, n in before.items())  # counters never go back
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1, [r.getMessage() for r in warnings]
            line = warnings[0].getMessage()
            assert f"integration {kind}: health probe failed" in line and words in line, line

            # The same fault on the next run does not log again.
            await collector.collect()
            assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

            fake.control(error=None)
            recovered = await collector.collect()
        finally:
            await collector.close()
    assert value(recovered, "inventory_integration_up") == 1
    assert value(recovered, "inventory_integration_fetch_success") == 1
    assert value(recovered, "inventory_integration_accuracy_ratio") == 1.0
    assert f"integration {kind} recovered" in caplog.text
    for secret in TOKENS.values():
        assert secret not in caplog.text
        assert secret not in render(failing) + render(recovered)


@pytest.mark.parametrize("kind", VENDORS)
async def test_fault_in_the_middle_of_the_stock_fetch(kind, inventory_db, caplog):
    async with running_fake(kind) as fake:
        # The probe and the first page succeed, the next page comes back truncated, every time.
        fake.control(page_size=5, error="truncated", error_after=2)
        collector = make_collector(kind, fake.url, inventory_db, timeout=2.0)
        try:
            failing = await collector.collect()
            fake.control(error=None)
            recovered = await collector.collect()
        finally:
            await collector.close()
    assert value(failing, "inventory_integration_up") == 1
    assert value(failing, "inventory_integration_fetch_success") == 0
    assert value(failing, "inventory_integration_stock_mismatch_skus") is None
    assert "stock fetch failed" in caplog.text and "truncated" in caplog.text
    assert value(recovered, "inventory_integration_fetch_success") == 1
    assert value(recovered, "inventory_integration_accuracy_ratio") == 1.0


# Square sends no Retry-After with its 429s: its backoff is in test_square_rate_limit.py.
@pytest.mark.parametrize("kind", ["shopify", "odoo", "rest_json"])
async def test_429_retry_after_is_honoured(kind, inventory_db):
    async with running_fake(kind) as fake:
        fake.control(error="429", error_count=1, retry_after=1)
        collector = make_collector(kind, fake.url, inventory_db, timeout=5.0, backoff=0.01)
        try:
            started = time.monotonic()
            families = await collector.collect()
            elapsed = time.monotonic() - started
        finally:
            await collector.close()
    # One 429 with Retry-After: 1, then success: the wait is the server's, not our 10ms backoff.
    assert 1.0 <= elapsed < 2.5, elapsed
    assert value(families, "inventory_integration_up") == 1
    assert value(families, "inventory_integration_accuracy_ratio") == 1.0
    assert value(families, "inventory_integration_requests_total", code="429") == 1
    assert value(families, "inventory_integration_throttled_requests_total") == 1


async def test_retry_after_longer_than_the_run_fails_fast(inventory_db, caplog):
    async with running_fake("rest_json") as fake:
        fake.control(error="429", retry_after=60)
        collector = make_collector("rest_json", fake.url, inventory_db, timeout=2.0)
        try:
            started = time.monotonic()
            families = await collector.collect()
            elapsed = time.monotonic() - started
        finally:
            await collector.close()
    assert elapsed < 1.0
    assert value(families, "inventory_integration_up") == 0
    assert "more than the run has left" in caplog.text


async def test_remote_down_is_up_0(inventory_db, caplog):
    from socket import socket

    with socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    collector = make_collector("shopify", f"http://127.0.0.1:{port}", inventory_db, timeout=2.0)
    try:
        families = await collector.collect()
    finally:
        await collector.close()
    assert value(families, "inventory_integration_up") == 0
    assert value(families, "inventory_integration_requests_total", code="connection_error") == 3  # 1 + 2 retries
    assert "health probe failed" in caplog.text


async def test_token_rotation_through_token_file(inventory_db, tmp_path, caplog):
    token_file = tmp_path / "token"
    token_file.write_text("wrong-token\n")
    async with running_fake("shopify") as fake:
        collector = make_collector("shopify", fake.url, inventory_db, token_env=None, token_file=str(token_file))
        try:
            refused = await collector.collect()
            token_file.write_text(TOKENS["shopify"] + "\n")
            accepted = await collector.collect()
        finally:
            await collector.close()
    assert value(refused, "inventory_integration_up") == 0
    assert f"check token_file {token_file}" in caplog.text
    assert "wrong-token" not in caplog.text
    assert value(accepted, "inventory_integration_up") == 1
