"""The same state semantics on PostgreSQL: write-ahead, restart in a cooldown, interrupted sends."""

from __future__ import annotations

import pytest

from enhancer.state import StateStore

from .conftest import END, FakeClock, outcomes, start_action
from .test_engine import location_rule

pytestmark = pytest.mark.postgres


async def test_postgres_state_survives_a_restart(make_engine, receiver, empty_postgres_url):
    clock = FakeClock(END - 3 * 3600)
    first = make_engine([location_rule(receiver, cooldown="10m")], clock=clock, state=empty_postgres_url)
    await first.run_cycle()
    assert len(receiver.requests) == 1
    clock.advance(300)
    second = make_engine([location_rule(receiver, cooldown="10m")], clock=clock, state=empty_postgres_url)
    assert second.store.engine.dialect.name == "postgresql"
    await second.run_cycle()
    assert len(receiver.requests) == 1 and outcomes(second, "po") == {"suppressed_cooldown": 1}
    [suppressed, acted] = second.store.list_actions()
    assert (acted.outcome, suppressed.outcome) == ("success", "suppressed_cooldown")


def test_write_ahead_row_and_cooldown_are_committed_together(empty_postgres_url):
    store = StateStore(empty_postgres_url)
    start_action(store, "a1", target='{"x":"1"}', now=100.0, cooldown=600.0)
    # a second connection (another process) sees both before anything is sent
    other = StateStore(empty_postgres_url)
    assert other.cooldowns(False) == {("r", '{"x":"1"}'): 700.0}
    assert other.list_actions()[0].status == "started"
    assert other.budget_usage(0.0, False) == {"r": 1}
    [resolved] = other.resolve_interrupted(200.0)
    assert resolved.outcome == "failed" and "Idempotency-Key a1" in resolved.reason
    assert store.list_actions()[0].status == "finished"
    store.close()
    other.close()
