"""The leader lease on a real PostgreSQL: one holder at a time, a fencing token that rises
at each takeover, and a deposed leader's late writes refused at commit."""

from __future__ import annotations

import threading
import time

import pytest

from enhancer.config import parse_config
from enhancer.lease import LeaderLease
from enhancer.state import FencedOut, StateStore
from servicekit.config import ConfigError

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


@pytest.fixture
def pair(empty_postgres_url):
    """Two enhancer processes' worth of state access: (store, lease) twice."""
    stores = [StateStore(empty_postgres_url), StateStore(empty_postgres_url)]
    leases = [LeaderLease(store, ttl=1.0, holder=f"enhancer-{i}") for i, store in enumerate(stores)]
    for store, lease in zip(stores, leases):
        store.fence = lease.fence
    yield stores, leases
    for store in stores:
        store.close()


def start(store: StateStore, action_id: str, now: float = 100.0) -> None:
    store.start_action(
        action_id=action_id,
        rule="r",
        target='{"t":"1"}',
        reason="why",
        dry_run=False,
        value=1.0,
        baseline=None,
        now=now,
        cooldown_until=now + 600,
    )


def test_one_holder_at_a_time_and_the_token_rises_at_each_takeover(pair):
    (_, _), (first, second) = pair
    won = first.acquire()
    assert won.leader and won.acquired and won.token == 1
    lost = second.acquire()
    assert not lost.leader and lost.holder == "enhancer-0" and 0.5 < lost.expires_in <= 1.0
    renewed = first.acquire()
    assert renewed.leader and not renewed.acquired and renewed.token == 1
    time.sleep(1.1)  # the holder stops renewing: its lease lapses
    taken = second.acquire()
    assert taken.leader and taken.acquired and taken.token == 2
    assert not first.acquire().leader and first.token is None and first.known_token == 2


def test_a_deposed_leaders_late_writes_are_refused_at_commit(pair):
    (old_store, new_store), (old, new) = pair
    old.acquire()
    start(old_store, "a1")  # write-ahead row, fencing token 1
    time.sleep(1.1)  # the old leader stalls past its TTL (a pause, a partition)
    assert new.acquire().acquired
    [resolved] = new_store.resolve_interrupted(200.0)
    assert resolved.outcome == "failed" and "Idempotency-Key a1" in resolved.reason
    assert "fencing token 2" in resolved.reason and resolved.fencing_token == 1

    # the old leader wakes up and reports its send, then tries to start another: both refused
    with pytest.raises(FencedOut):
        old_store.finish_action(
            "a1", outcome="success", reason="why", attempts=1, detail="200", now=210.0, verify_due_at=None
        )
    with pytest.raises(FencedOut):
        start(old_store, "a2")
    rows = new_store.list_actions()
    assert [(r.action_id, r.status, r.outcome) for r in rows] == [("a1", "finished", "failed")]

    # the new leader's own writes carry its token
    start(new_store, "b1", now=300.0)
    assert new_store.finish_action(
        "b1", outcome="success", reason="why", attempts=1, detail="200", now=301.0, verify_due_at=None
    )
    assert {r.action_id: r.fencing_token for r in new_store.list_actions()} == {"a1": 1, "b1": 2}


def test_a_takeover_waits_for_a_write_in_flight(pair):
    (old_store, _), (old, new) = pair
    old.acquire()
    time.sleep(1.1)  # expired, but the old leader is inside a write transaction
    took_over_at: list[float] = []
    with old_store.engine.begin() as conn:
        assert old.fence(conn, False) == 1  # FOR SHARE on the lease row
        thread = threading.Thread(target=lambda: took_over_at.append((new.acquire(), time.monotonic())))
        thread.start()
        time.sleep(0.5)
        committed_at = time.monotonic()
    thread.join(5)
    [(status, at)] = took_over_at
    # the takeover came after the commit, so it sees everything the old leader committed
    assert status.acquired and status.token == 2 and at >= committed_at


def test_a_renew_interval_not_below_the_ttl_is_a_config_error():
    with pytest.raises(ConfigError) as error:
        parse_config({"lease": {"ttl": "10s", "renew_interval": "10s"}}, "enhancer.yml")
    assert str(error.value).startswith("enhancer.yml: lease.renew_interval: must be above 0 and below lease.ttl")
    assert parse_config({}).lease.ttl == 15.0


def test_confirm_answers_whether_an_action_may_still_be_sent_and_messages_name_the_lost_token(pair):
    (old_store, new_store), (old, new) = pair
    old.acquire()
    start(old_store, "a1")
    assert old.confirm(1) is None  # held under token 1, unexpired by the database's clock
    assert old.confirm(7) == "lost the lease: fencing token 7 is not current; lease held by enhancer-0 (token 1)"
    time.sleep(1.1)  # the old leader stalls past its TTL
    assert old.confirm(1).startswith("lease not renewed within its ttl (1s)")  # the local bound first
    assert new.acquire().acquired
    assert not old.acquire().leader  # it wakes and sees the row: token None, term still 1
    assert old.confirm(1) == "lost the lease: fencing token 1 is not current; lease held by enhancer-1 (token 2)"
    # the refused write names the token it acted under, never "None"
    with pytest.raises(FencedOut) as refused:
        old_store.finish_action(
            "a1", outcome="success", reason="why", attempts=1, detail="200", now=210.0, verify_due_at=None
        )
    assert str(refused.value) == ("not the leader: fencing token 1 is not current; lease held by enhancer-1 (token 2)")
    # a frozen leader whose local clock stood still: the row, by the database's clock, decides
    new._valid_until = time.monotonic() + 60  # as if this host's clock had not moved
    new_store.engine.dispose()
    with new_store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE enhancer_lease SET expires_at = expires_at - 10")
    assert new.confirm(2).startswith("lease expired ")
