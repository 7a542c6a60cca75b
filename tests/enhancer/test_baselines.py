"""Baselines from a real Prometheus equal the statistics computed here from the known series."""

from __future__ import annotations

import statistics

import pytest

from enhancer.baselines import MAD_SCALE, fetch_baselines, robust_stats
from enhancer.config import RobustBaseline, SeasonalBaseline
from enhancer.triggers import TargetState
from servicekit.prometheus import PrometheusClient, target_key

from .conftest import (
    END,
    HOUR,
    MINUTE,
    SEASONAL_AT,
    SEASONAL_WEEKS,
    SPIKE_START,
    WEEK,
    FakeClock,
    noise,
    outcomes,
    rule,
    weekly,
)


def expected(values: list[float]) -> tuple[float, float]:
    median = statistics.median(values)
    return median, 1.4826 * statistics.median([abs(v - median) for v in values])


def test_robust_stats_matches_the_definition():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, float("nan")]
    center, deviation, count = robust_stats(values)
    assert (center, count) == (3.5, 8)
    # |v - 3.5| = 0.5 2.5 0.5 2.5 1.5 5.5 1.5 2.5 -> median 2.0
    assert deviation == pytest.approx(2.0 * MAD_SCALE)
    assert robust_stats([])[2] == 0


@pytest.mark.parametrize("at", [SPIKE_START - 30 * MINUTE, SPIKE_START + 20 * MINUTE], ids=["before-spike", "in-spike"])
async def test_robust_baseline_equals_median_and_mad_of_the_window(prometheus, session, at):
    client = PrometheusClient(prometheus.url, session)
    spec = RobustBaseline(kind="robust", window=HOUR, step=MINUTE, min_samples=30)
    baselines = await fetch_baselines(client, spec, "enh_noise", at)
    for target in ("a", "b"):
        window = [noise(target, t) for t in range(at - HOUR, at + 1, MINUTE)]
        center, deviation = expected(window)
        got = baselines[target_key({"target": target})]
        assert got.samples == len(window) == 61
        assert got.center == pytest.approx(center)
        assert got.deviation == pytest.approx(deviation)
        assert got.trusted


async def test_robust_baseline_offset_moves_the_window(prometheus, session):
    client = PrometheusClient(prometheus.url, session)
    at = SPIKE_START + 20 * MINUTE
    spec = RobustBaseline(kind="robust", window=HOUR, offset=30 * MINUTE, step=MINUTE)
    got = (await fetch_baselines(client, spec, 'enh_noise{target="a"}', at))[target_key({"target": "a"})]
    window = [noise("a", t) for t in range(at - 90 * MINUTE, at - 30 * MINUTE + 1, MINUTE)]
    assert got.center == pytest.approx(statistics.median(window))


async def test_seasonal_baseline_uses_the_same_time_of_each_past_week(prometheus, session):
    client = PrometheusClient(prometheus.url, session)
    spec = SeasonalBaseline(kind="seasonal", weeks=SEASONAL_WEEKS, window=HOUR, step=300, min_samples=30)
    got = (await fetch_baselines(client, spec, "enh_weekly", SEASONAL_AT))[target_key({})]
    points = [
        t
        for week in range(1, SEASONAL_WEEKS + 1)
        for t in range(SEASONAL_AT - week * WEEK - HOUR // 2, SEASONAL_AT - week * WEEK + HOUR // 2 + 1, 300)
    ]
    center, deviation = expected([weekly(t) for t in points])
    assert got.samples == len(points) == 39
    assert got.center == pytest.approx(center)
    assert got.deviation == pytest.approx(deviation)


async def test_a_rule_waits_for_enough_history_and_never_acts_on_it(make_engine, receiver):
    clock = FakeClock(END)
    engine = make_engine(
        [
            rule(
                "short",
                "enh_short",
                trigger={"kind": "ratio", "x": 0.5},
                baseline={"kind": "robust", "window": "1h", "min_samples": 30},
                url=receiver.url + "/short",
            ),
            # four weeks asked, three exist: 39 samples, 40 required
            rule(
                "seasonal",
                "enh_weekly",
                trigger={"kind": "deviation", "k": 0.1},
                baseline={"kind": "seasonal", "weeks": 4, "window": "1h", "min_samples": 40},
                url=receiver.url + "/seasonal",
            ),
        ],
        clock=clock,
    )
    await engine.run_cycle()
    assert receiver.requests == []
    assert outcomes(engine, "short") == {} and outcomes(engine, "seasonal") == {}
    short = engine.views["short"].targets[0]
    assert short.state == TargetState.WAITING_BASELINE
    assert "11/30 samples" in short.reason
    clock.at = SEASONAL_AT
    await engine.run_cycle()
    assert receiver.requests == []
    assert engine.views["seasonal"].targets[0].state == TargetState.WAITING_BASELINE
    assert "39/40 samples" in engine.views["seasonal"].targets[0].reason
