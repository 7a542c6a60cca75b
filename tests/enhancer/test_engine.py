"""The engine against a real Prometheus and a real HTTP receiver, on a clock set inside the data."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from enhancer.state import Status
from enhancer.triggers import TargetState

from .conftest import END, FIX_AT, MINUTE, SPIKE_START, FakeClock, free_port, outcomes, rule

T0 = END - 3 * 60 * MINUTE
LEVEL_ABOVE_1 = {"kind": "threshold", "op": "above", "value": 1}


def location_rule(receiver, name="po", path="/actions/purchase-orders", **extra) -> dict:
    spec = rule(name, "enh_level", trigger=extra.pop("trigger", LEVEL_ABOVE_1), url=receiver.url + path, **extra)
    spec["action"]["body"] = {"location": "{labels.location}", "value": "{value}"}
    return spec


async def poll(engine, clock: FakeClock, times: int, step: float = MINUTE) -> None:
    for _ in range(times):
        await engine.run_cycle()
        clock.advance(step)


async def test_fires_once_across_a_cooldown_and_twice_across_two(make_engine, receiver):
    clock = FakeClock(T0)
    engine = make_engine([location_rule(receiver, cooldown="10m")], clock=clock)
    await poll(engine, clock, 10)  # T0 .. T0+9m: one cooldown
    sent = receiver.to("/actions/purchase-orders")
    assert len(sent) == 1
    assert sent[0].body == {"location": "wh-east", "value": 5.0}  # wh-west is 0: not above 1
    assert outcomes(engine, "po") == {"success": 1, "suppressed_cooldown": 9}
    row = engine.store.list_actions(outcome="success")[0]
    assert sent[0].headers["Idempotency-Key"] == row.action_id
    await poll(engine, clock, 10)  # T0+10m .. T0+19m: the second cooldown
    assert len(receiver.to("/actions/purchase-orders")) == 2
    assert outcomes(engine, "po") == {"success": 2, "suppressed_cooldown": 18}
    # a cooldown suppression is logged once per run, not once per poll
    assert len(engine.store.list_actions(outcome="suppressed_cooldown")) == 2


async def test_for_requires_the_condition_on_every_poll_for_that_long(make_engine, receiver):
    clock = FakeClock(T0)
    engine = make_engine([location_rule(receiver, trigger={**LEVEL_ABOVE_1, "for": "3m"})], clock=clock)
    await poll(engine, clock, 3)  # held 0, 1, 2 minutes
    assert receiver.requests == []
    assert [t.state for t in engine.views["po"].targets if t.labels["location"] == "wh-east"] == [TargetState.PENDING]
    await poll(engine, clock, 1)  # held 3 minutes
    assert len(receiver.requests) == 1
    assert [t.state for t in engine.views["po"].targets if t.labels["location"] == "wh-east"] == [TargetState.FIRING]


async def test_deviation_trigger_fires_only_for_the_target_above_its_baseline(make_engine, receiver):
    clock = FakeClock(SPIKE_START + 2 * MINUTE)
    spec = rule(
        "spike",
        "enh_noise",
        trigger={"kind": "deviation", "k": 3},
        baseline={"kind": "robust", "window": "1h", "min_samples": 30},
        url=receiver.url + "/spike",
    )
    spec["action"]["body"] = {"target": "{labels.target}", "baseline": "{baseline}"}
    engine = make_engine([spec], clock=clock)
    await engine.run_cycle()
    assert [r.body["target"] for r in receiver.requests] == ["a"]
    assert 95 <= receiver.requests[0].body["baseline"] <= 105
    states = {t.labels["target"]: t.state for t in engine.views["spike"].targets}
    assert states == {"a": TargetState.FIRING, "b": "ok"}


async def test_priority_decides_within_an_exclusive_group(make_engine, receiver):
    clock = FakeClock(T0)
    engine = make_engine(
        [
            # {integration, location} overlaps {location}: same target for the group
            {
                **location_rule(receiver, "reconcile", "/reconcile", priority=10, exclusive_group="repair"),
                "query": 'label_replace(enh_level, "integration", "shopify", "", "")',
            },
            location_rule(receiver, "resync", "/resync", priority=20, exclusive_group="repair"),
            location_rule(receiver, "elsewhere", "/elsewhere", priority=0, exclusive_group="other"),
        ],
        clock=clock,
    )
    report = await engine.run_cycle()
    assert [r.path for r in receiver.requests if r.path != "/elsewhere"] == ["/resync"]
    assert len(receiver.to("/elsewhere")) == 1
    assert outcomes(engine, "resync") == {"success": 1}
    assert outcomes(engine, "reconcile") == {"suppressed_priority": 1}
    reason = next(d.reason for d in report.decisions if d.candidate.rule.name == "reconcile")
    assert "'resync' (priority 20)" in reason and "'repair'" in reason


async def test_rule_budget_and_global_budget_suppress(make_engine, receiver, tmp_path):
    clock = FakeClock(T0)
    spec = rule(
        "multi",
        "enh_multi",
        trigger=LEVEL_ABOVE_1 | {"value": 0},
        url=receiver.url + "/multi",
        budget_per_hour=3,
        cooldown="1m",
    )
    engine = make_engine([spec], clock=clock)
    await engine.run_cycle()
    assert len(receiver.requests) == 3
    assert outcomes(engine, "multi") == {"success": 3, "suppressed_budget": 2}
    clock.advance(30 * MINUTE)
    await engine.run_cycle()  # cooldowns over, but the hour's budget is spent
    assert len(receiver.requests) == 3
    clock.advance(31 * MINUTE)
    await engine.run_cycle()  # an hour after the first actions: budget again
    assert len(receiver.requests) == 6

    clock = FakeClock(T0)
    tight = make_engine(
        [location_rule(receiver, "a", "/a"), location_rule(receiver, "b", "/b")],
        clock=clock,
        budget=1,
        state=str(tmp_path / "global.db"),
    )
    report = await tight.run_cycle()
    assert outcomes(tight, "a") == {"success": 1} and outcomes(tight, "b") == {"suppressed_budget": 1}
    assert "global budget used: 1/1" in next(d.reason for d in report.decisions if d.candidate.rule.name == "b")


async def test_dry_run_acts_on_nothing_and_records_what_it_would_do(make_engine, receiver, tmp_path):
    clock = FakeClock(T0)
    engine = make_engine([location_rule(receiver, cooldown="5m")], clock=clock, force_dry_run=True)
    await poll(engine, clock, 6)
    assert receiver.requests == []
    assert outcomes(engine, "po") == {"dry_run": 2, "suppressed_cooldown": 4}
    assert [r.outcome for r in engine.store.list_actions(rule="po")][-1] == "dry_run"

    # per rule: only the dry one holds back; dry-run cooldowns do not block live actions
    live = make_engine(
        [location_rule(receiver, "dry", "/dry", dry_run=True), location_rule(receiver, "live", "/live")],
        clock=FakeClock(T0),
    )
    await live.run_cycle()
    assert [r.path for r in receiver.requests] == ["/live"]
    assert outcomes(live, "dry") == {"dry_run": 1}


async def test_a_restart_in_the_middle_of_a_cooldown_does_not_act_again(make_engine, receiver):
    clock = FakeClock(T0)
    first = make_engine([location_rule(receiver, cooldown="10m")], clock=clock)
    await first.run_cycle()
    assert len(receiver.requests) == 1
    clock.advance(5 * MINUTE)
    second = make_engine([location_rule(receiver, cooldown="10m")], clock=clock)  # same state file
    await poll(second, clock, 5)
    assert len(receiver.requests) == 1
    assert outcomes(second, "po") == {"suppressed_cooldown": 5}
    await second.run_cycle()  # T0 + 10m: the cooldown has passed
    assert len(receiver.requests) == 2


async def test_an_action_interrupted_while_sending_is_not_resent(make_engine, receiver):
    receiver.script("/actions/purchase-orders", "hang")
    clock = FakeClock(T0)
    spec = location_rule(receiver, cooldown="10m")
    spec["action"]["timeout"] = "30s"
    first = make_engine([spec], clock=clock)
    cycle = asyncio.create_task(first.run_cycle())
    for _ in range(100):
        if receiver.requests:
            break
        await asyncio.sleep(0.05)
    cycle.cancel()  # the process dies mid-send
    with pytest.raises(asyncio.CancelledError):
        await cycle
    [row] = first.store.list_actions()
    assert row.status == Status.STARTED and row.outcome is None

    clock.advance(MINUTE)
    second = make_engine([spec], clock=clock)
    [resolved] = second.store.list_actions()
    assert (resolved.outcome, resolved.action_id) == ("failed", row.action_id)
    assert "not re-sent" in resolved.reason and row.action_id in resolved.reason
    assert outcomes(second, "po") == {"failed": 1}
    await second.run_cycle()
    assert len(receiver.requests) == 1
    assert outcomes(second, "po") == {"failed": 1, "suppressed_cooldown": 1}


@pytest.mark.parametrize("better, ratio", [("lower", 0.6), ("higher", -0.6)])
async def test_verification_records_the_signed_improvement(make_engine, receiver, better, ratio):
    clock = FakeClock(FIX_AT - 2 * MINUTE)  # enh_fix is 50 now and 20 from FIX_AT on
    spec = rule(
        "fix",
        "enh_fix",
        trigger={"kind": "threshold", "value": 30},
        url=receiver.url + "/fix",
        cooldown="1h",
        verify={"after": "5m", "better": better},
    )
    engine = make_engine([spec], clock=clock)
    await poll(engine, clock, 5)  # verification due at FIX_AT + 3m: not yet
    assert engine.store.list_actions(outcome="success")[0].verified_at is None
    await poll(engine, clock, 1)
    [row] = engine.store.list_actions(outcome="success")
    assert (row.value, row.value_after) == (50.0, 20.0)
    assert row.improvement == pytest.approx(ratio)  # (50 - 20) / 50, signed by `better`
    assert row.improved is (ratio > 0)
    assert engine.improvements["fix"] == pytest.approx(ratio)
    assert "verified: signal 50 -> 20" in row.reason


async def test_a_rule_that_does_not_help_backs_off_and_says_so(make_engine, receiver, caplog):
    clock = FakeClock(T0)  # enh_stuck stays at 50 whatever is done
    spec = rule(
        "stuck",
        "enh_stuck",
        trigger={"kind": "threshold", "value": 30},
        url=receiver.url + "/stuck",
        cooldown="2m",
        verify={"after": "1m", "backoff_after": 2, "backoff_factor": 3},
    )
    engine = make_engine([spec], clock=clock)
    with caplog.at_level(logging.INFO, logger="enhancer"):
        await poll(engine, clock, 13)  # T0 .. T0+12m
    acted = sorted(r.decided_at - T0 for r in engine.store.list_actions(outcome="success"))
    # 2m cooldowns until two verified actions did not help, then 3 x 2m
    assert acted == [0, 120, 240, 600]
    assert engine.views["stuck"].backing_off
    assert any("did not help" in m and "raised to 360s" in m for m in caplog.messages)
    assert all(r.improvement == 0.0 for r in engine.store.list_actions(outcome="success") if r.verified_at)


async def test_a_failing_webhook_is_retried_and_recorded(make_engine, receiver):
    receiver.script("/flaky", 500, 503)
    receiver.script("/broken", 500, 500, 500)
    clock = FakeClock(T0)
    engine = make_engine(
        [location_rule(receiver, "flaky", "/flaky"), location_rule(receiver, "broken", "/broken")], clock=clock
    )
    await engine.run_cycle()
    flaky = receiver.to("/flaky")
    assert len(flaky) == 3 and len({r.headers["Idempotency-Key"] for r in flaky}) == 1
    [ok] = engine.store.list_actions(rule="flaky")
    assert (ok.outcome, ok.attempts) == ("success", 3)
    [failed] = engine.store.list_actions(rule="broken")
    assert (failed.outcome, failed.attempts) == ("failed", 3)
    assert "HTTP 500" in failed.detail and "after 3 attempts" in failed.detail
    clock.advance(MINUTE)
    await engine.run_cycle()  # the failed action started its cooldown all the same
    assert len(receiver.to("/broken")) == 3
    assert outcomes(engine, "broken") == {"failed": 1, "suppressed_cooldown": 1}


async def test_a_hanging_or_refusing_webhook_is_bounded(make_engine, receiver):
    receiver.script("/hang", "hang", "hang")
    closed = f"http://127.0.0.1:{free_port()}"
    hang = location_rule(receiver, "hang", "/hang")
    hang["action"].update(timeout="300ms", retries=1)
    refused = rule("refused", "enh_level", trigger=LEVEL_ABOVE_1, url=closed + "/x")
    engine = make_engine([hang, refused], clock=FakeClock(T0))
    started = asyncio.get_running_loop().time()
    await engine.run_cycle()
    assert asyncio.get_running_loop().time() - started < 5
    [row] = engine.store.list_actions(rule="hang")
    assert (row.outcome, row.attempts) == ("failed", 2) and "no answer within 0.3s" in row.detail
    [row] = engine.store.list_actions(rule="refused")
    assert (row.outcome, row.attempts) == ("failed", 3) and "ClientConnectorError" in row.detail


async def test_invalid_promql_is_isolated_to_its_rule(make_engine, receiver):
    engine = make_engine(
        [rule("bad", "sum(enh_level", trigger=LEVEL_ABOVE_1, url=receiver.url + "/bad"), location_rule(receiver)],
        clock=FakeClock(T0),
    )
    report = await engine.run_cycle()
    assert len(receiver.to("/actions/purchase-orders")) == 1
    assert "bad_data" in report.errors["bad"] and "parse error" in report.errors["bad"]
    assert "po" not in report.errors
    assert report.prometheus_up is True
    assert outcomes(engine, "bad") == {}


class Proxy:
    """Stands between the enhancer and Prometheus; stopping it is Prometheus going away."""

    def __init__(self, target: str):
        self.target, self.port = target, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner: web.AppRunner | None = None

    async def forward(self, request: web.Request) -> web.Response:
        async with aiohttp.ClientSession() as session, session.get(self.target + request.path_qs) as response:
            return web.Response(body=await response.read(), status=response.status, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()


async def test_prometheus_down_means_no_action_and_recovery_by_itself(make_engine, receiver, prometheus):
    proxy = Proxy(prometheus.url)
    await proxy.start()
    clock = FakeClock(T0)
    engine = make_engine(
        [location_rule(receiver, trigger={**LEVEL_ABOVE_1, "for": "1m"})], clock=clock, prometheus_url=proxy.url
    )
    await poll(engine, clock, 1)  # the condition starts holding
    await proxy.stop()
    report = await engine.run_cycle()  # held 1m, but Prometheus is gone
    clock.advance(MINUTE)
    assert report.prometheus_up is False and "unavailable" in report.errors["po"]
    assert receiver.requests == [] and outcomes(engine, "po") == {}
    await proxy.start()
    await poll(engine, clock, 1)  # back: the hold starts over
    assert engine.prometheus_up is True and receiver.requests == []
    await poll(engine, clock, 1)
    assert len(receiver.requests) == 1
    await proxy.stop()


async def test_the_poll_loop_backs_off_while_prometheus_is_down(make_engine, receiver):
    engine = make_engine(
        [location_rule(receiver)],
        clock=FakeClock(T0),
        poll_interval="50ms",
        max_poll_backoff="400ms",
        prometheus_url=f"http://127.0.0.1:{free_port()}",
    )
    loop = asyncio.get_running_loop()
    started: list[float] = []
    cycle = engine.run_cycle

    async def timed_cycle():
        started.append(loop.time())
        return await cycle()

    engine.run_cycle = timed_cycle
    stop = asyncio.Event()
    runner = asyncio.create_task(engine.run(stop))
    await asyncio.sleep(1.6)
    stop.set()
    await asyncio.wait_for(runner, 5)
    gaps = [b - a for a, b in zip(started, started[1:])]
    # 100, 200, 400, 400 ... ms (plus each failing cycle's own retry time), never the 50 ms interval
    assert 3 <= len(started) <= 7, gaps
    assert all(gap >= 0.1 for gap in gaps) and gaps[-1] >= 0.4
    assert engine.prometheus_up is False and receiver.requests == []
