"""The effect estimate through the engine, against a real Prometheus (issue 18).

enh_outliers{target="o"} is 100 plus noise, with seven 3-minute outliers of +60 that go
away by themselves: a rule that acts on them does nothing, its true effect is 0. The old
before/after verification credits it with a large improvement; the effect against the
baseline's counterfactual does not. Then an hour without an outlier: the counters a
report takes increase() of say that no action was verified in it, where the improvement
gauge still repeats its last value.
"""

from __future__ import annotations

import random
import statistics

from prometheus_client import generate_latest

from enhancer.metrics import build_registry
from enhancer.server import build_app

from .conftest import MINUTE, OUTLIER_HEIGHT, OUTLIER_STARTS, FakeClock, outcomes, rule
from .test_server import samples

EFFECT = "inventory_enhancer_rule_effect"


def outlier_rule(name: str = "outliers", url: str | None = None, **verify) -> dict:
    return rule(
        name,
        "enh_outliers",
        trigger={"kind": "deviation", "k": 3, "min_delta": 10},
        baseline={"kind": "robust", "window": "1h", "step": "1m", "min_samples": 30, "refresh": "5m"},
        url=url,
        cooldown="10m",
        verify={"after": "5m", "better": "lower", **verify},
    )


async def poll_until(engine, clock: FakeClock, until: float) -> None:
    while clock.at <= until:
        await engine.run_cycle()
        clock.advance(MINUTE)


def scrape(engine) -> dict[tuple[str, tuple], float]:
    return samples(generate_latest(build_registry(engine)).decode())


def period_effect(start: dict, end: dict, rule_name: str, group: str = "acted") -> tuple[float, float | None]:
    """(actions verified, their mean effect) in the period between two scrapes, from the
    counters alone: what a report computes with increase() (no counter reset here)."""

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted({"rule": rule_name, "group": group, **labels}.items())))
        return end.get(key, 0.0) - start.get(key, 0.0)

    count = delta("inventory_enhancer_verified_actions_total")
    summed = delta("inventory_enhancer_verified_effect_total", direction="better") - delta(
        "inventory_enhancer_verified_effect_total", direction="worse"
    )
    return count, (summed / count if count else None)


def gauge(found: dict, name: str, rule_name: str) -> float | None:
    return found.get((name, (("rule", rule_name),)))


async def test_acting_on_outliers_that_pass_by_themselves_shows_no_effect(make_engine, aiohttp_client):
    clock = FakeClock(OUTLIER_STARTS[0] - 2 * MINUTE)
    engine = make_engine([outlier_rule()], clock=clock)
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    start = scrape(engine)
    assert period_effect({}, start, "outliers") == (0, None)  # the counters exist from the start, at 0

    # four outliers acted on and verified: not enough data yet
    await poll_until(engine, clock, OUTLIER_STARTS[3] + 6 * MINUTE)
    found = scrape(engine)
    assert gauge(found, "inventory_enhancer_rule_effect_actions", "outliers") == 4
    assert gauge(found, EFFECT, "outliers") is None and gauge(found, EFFECT + "_lower", "outliers") is None
    [api] = (await (await client.get("/api/v1/rules")).json())["data"]
    assert api["effect"]["effect"] is None and api["effect"]["note"] == "not enough data: 4 of 5 verified actions"

    await poll_until(engine, clock, OUTLIER_STARTS[-1] + 10 * MINUTE)
    rows = [r for r in engine.store.list_actions(outcome="success") if r.verified_at is not None]
    assert len(rows) == len(OUTLIER_STARTS) == 7
    assert outcomes(engine, "outliers")["success"] == 7
    # the old measurement: from the outlier down to normal, "improved" by about a third each time
    assert all(r.value == 100 + OUTLIER_HEIGHT for r in rows)
    assert all(r.improved for r in rows) and statistics.fmean(r.improvement for r in rows) > 0.3
    # the new one: against the baseline's median, which the signal went back to by itself
    assert all(r.counterfactual is not None and 95 <= r.counterfactual <= 105 for r in rows)
    assert all(r.effect == r.counterfactual - r.value_after for r in rows)

    found = scrape(engine)
    effect, lower, upper = (gauge(found, EFFECT + suffix, "outliers") for suffix in ("", "_lower", "_upper"))
    assert effect is not None and lower is not None and upper is not None
    assert effect == statistics.fmean(r.effect for r in rows)
    assert lower <= 0.0 <= upper  # no effect, as is true
    assert upper < OUTLIER_HEIGHT / 10  # and not the before/after's 60
    assert gauge(found, "inventory_enhancer_rule_effect_actions", "outliers") == 7
    assert gauge(found, "inventory_enhancer_rule_effect_controls", "outliers") == 0
    [api] = (await (await client.get("/api/v1/rules")).json())["data"]
    assert api["effect"] | {"note": ""} == {
        "method": "baseline",
        "effect": effect,
        "lower": lower,
        "upper": upper,
        "confidence": 0.95,
        "actions": 7,
        "controls": 0,
        "note": "",
        "holdout": 0.0,
        "better": "lower",
    }
    count, mean = period_effect(start, found, "outliers")
    assert count == 7 and mean is not None
    assert abs(mean - effect) < 1e-9

    # an hour without an outlier: nothing is verified, and the period says so
    hour_start = scrape(engine)
    await poll_until(engine, clock, clock.at + 60 * MINUTE)
    hour_end = scrape(engine)
    assert outcomes(engine, "outliers")["success"] == 7
    assert period_effect(hour_start, hour_end, "outliers") == (0, None)
    # ...where the improvement gauge repeats the last action's, measured an hour before
    ratio = ("inventory_enhancer_action_improvement_ratio", (("rule", "outliers"),))
    assert hour_end[ratio] == hour_start[ratio] == rows[0].improvement  # newest first
    # the estimate over the state stands, unchanged
    assert gauge(hour_end, EFFECT, "outliers") == effect


async def test_a_holdout_is_decided_recorded_and_verified_but_not_sent(make_engine, receiver):
    clock = FakeClock(OUTLIER_STARTS[0] - 2 * MINUTE)
    engine = make_engine([outlier_rule(url=receiver.url + "/fix", holdout=0.5, min_actions=3)], clock=clock)
    engine.rng = random.Random(1)  # 4 of its first 7 draws hold out
    await poll_until(engine, clock, OUTLIER_STARTS[-1] + 10 * MINUTE)

    held = engine.store.list_actions(outcome="held_out")
    acted = engine.store.list_actions(outcome="success")
    assert (len(held), len(acted)) == (4, 3)
    assert len(receiver.to("/fix")) == len(acted)  # held-out triggers send nothing
    counted = outcomes(engine, "outliers")
    assert counted["held_out"] == len(held) and counted["success"] == len(acted)
    # a held-out trigger starts the cooldown as an action would: the outlier is not acted on a minute later
    assert counted["suppressed_cooldown"] == 2 * 7
    for row in held:  # measured the same way, at the same delay
        assert row.verify_due_at == row.decided_at + 5 * MINUTE and row.verified_at == row.verify_due_at
        assert row.value_after is not None and row.effect == row.counterfactual - row.value_after
        assert row.improvement is None and row.improved is None  # no verdict: nothing was done
        assert "held out" in row.reason
    assert engine.store.recent_verdicts("outliers", 10) == [True] * len(acted)

    found = scrape(engine)
    assert gauge(found, "inventory_enhancer_rule_effect_controls", "outliers") == len(held)
    assert gauge(found, "inventory_enhancer_rule_effect_actions", "outliers") == len(acted)
    assert found[("inventory_enhancer_actions_total", (("outcome", "held_out"), ("rule", "outliers")))] == len(held)
    assert period_effect({}, found, "outliers", "held_out")[0] == len(held)
    assert period_effect({}, found, "outliers", "acted")[0] == len(acted)
    effect, lower, upper = (gauge(found, EFFECT + suffix, "outliers") for suffix in ("", "_lower", "_upper"))
    assert effect is not None and lower is not None and upper is not None
    treated = statistics.fmean(r.effect for r in acted)
    control = statistics.fmean(r.effect for r in held)
    assert abs(effect - (treated - control)) < 1e-9
    assert lower <= 0.0 <= upper
    assert engine.effects["outliers"].method == "holdout"


async def test_a_rule_without_a_baseline_or_holdout_publishes_no_effect(make_engine, receiver, aiohttp_client):
    spec = rule(
        "fix", "enh_fix", trigger={"kind": "threshold", "value": 30}, url=receiver.url + "/fix", verify={"after": "1m"}
    )
    clock = FakeClock(OUTLIER_STARTS[0])
    engine = make_engine([spec], clock=clock)
    client = await aiohttp_client(build_app(engine, build_registry(engine)))
    await poll_until(engine, clock, clock.at + 10 * MINUTE)
    found = scrape(engine)
    assert gauge(found, EFFECT, "fix") is None
    assert period_effect({}, found, "fix") == (0, None)
    [api] = (await (await client.get("/api/v1/rules")).json())["data"]
    assert api["effect"]["method"] == "none" and "no counterfactual" in api["effect"]["note"]
