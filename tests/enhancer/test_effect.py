"""The effect estimator (enhancer/effect.py) on simulated rules with a known true effect.

A simulated signal reverts to its mean (AR(1) plus noise). A rule triggers when it is an
outlier against a robust baseline of its recent history (median + k x scaled MAD), acts,
and is verified `delay` steps later. The action changes the signal by a known true effect
until it is verified. Regression to the mean alone makes the trigger reading a poor
'before': the old before/after improvement credits actions that did nothing.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

import pytest

from enhancer.baselines import robust_stats
from enhancer.effect import (
    estimate,
    naive_improvement,
    signed_effect,
    t_cdf,
    t_interval,
    t_quantile,
    welch_interval,
)


@dataclass
class Trial:
    effects: list[float]  # acted on: observed against the baseline's counterfactual (> 0 better)
    naive: list[float]  # acted on: trigger reading minus reading after (> 0 better)
    treated: list[float]  # acted on: the reading after, signed (> 0 better)
    controls: list[float]  # held out: the reading after, signed
    control_effects: list[float]  # held out: against the baseline's counterfactual


def simulate(
    seed: int,
    *,
    true_effect: float,
    rho: float = 0.6,
    steps: int = 6000,
    delay: int = 10,
    window: int = 360,
    k: float = 2.0,
    holdout: float = 0.0,
    cooldown: int = 60,
    refresh: int = 5,
    mean: float = 100.0,
) -> Trial:
    """One rule on one simulated signal; lower is better, so the action lowers it by true_effect."""
    rng = random.Random(seed)
    level = mean
    history: list[float] = []
    trial = Trial([], [], [], [], [])
    pending: tuple[int, float, float, bool] | None = None  # (verify at, trigger reading, baseline, held out)
    quiet_until = 0  # the rule's cooldown after a verification
    baseline: tuple[int, float, float] = (-refresh, math.nan, math.nan)  # (computed at, median, scaled MAD)
    for t in range(steps):
        level = mean + rho * (level - mean) + rng.gauss(0.0, 1.0)
        acting = pending is not None and not pending[3]
        observed = level - (true_effect if acting else 0.0)
        if pending is not None and t == pending[0]:
            _, before, center, held = pending
            if held:
                trial.controls.append(-observed)
                trial.control_effects.append(signed_effect(observed, center, "lower"))
            else:
                trial.effects.append(signed_effect(observed, center, "lower"))
                trial.naive.append(naive_improvement(before, observed, "lower"))
                trial.treated.append(-observed)
            pending, quiet_until = None, t + cooldown
        elif pending is None and t >= quiet_until and len(history) >= window:
            if t - baseline[0] >= refresh:  # reused for `refresh` steps, as the enhancer does
                baseline = (t, *robust_stats(history[-window:])[:2])
            _, center, deviation = baseline
            if observed > center + k * deviation:
                pending = (t + delay, observed, center, rng.random() < holdout)
        history.append(observed)
    return trial


def contains(interval: tuple[float, float, float], value: float) -> bool:
    return interval[1] <= value <= interval[2]


def test_t_distribution_against_tables():
    # two-sided 95% critical values of Student's t
    for df, critical in [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423), (1000, 1.9623)]:
        assert t_quantile(0.975, df) == pytest.approx(critical, abs=1e-4)
    assert t_cdf(0.0, 7) == pytest.approx(0.5)
    assert t_cdf(-2.3646, 7) == pytest.approx(0.025, abs=1e-5)


def test_t_distribution_against_scipy_for_fractional_degrees_of_freedom():
    stats = pytest.importorskip("scipy.stats")
    for df in (1.5, 3.7, 12.25, 57.9):
        for p in (0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_intervals():
    mean, lower, upper = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451 * statistics.stdev([1, 2, 3, 4, 5]) / math.sqrt(5)
    assert (mean, lower, upper) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    diff, lower, upper = welch_interval([5.0, 6.0, 7.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert diff == pytest.approx(6.0 - 3.0)
    assert lower < diff < upper
    assert welch_interval([2.0, 2.0], [1.0, 1.0]) == (1.0, 1.0, 1.0)  # no spread at all


def test_not_enough_data_publishes_no_estimate():
    few = estimate([1.0, 2.0, 3.0, 4.0])
    assert few.effect is None and few.lower is None and not few.enough
    assert few.note == "not enough data: 4 of 5 verified actions" and few.actions == 4
    assert estimate([1.0, 2.0, 3.0, 4.0, 5.0]).enough
    held = estimate([1.0] * 9, [0.0, 1.0, 2.0, 3.0])
    assert held.effect is None and held.method == "holdout" and (held.actions, held.controls) == (9, 4)
    assert "4 of 5 held out" in held.note
    assert estimate([1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, 5.0]).enough
    assert estimate([1.0, 2.0, math.nan, 4.0, 5.0]).actions == 4  # non-finite measurements are left out


def test_a_rule_with_no_effect_shows_none_where_before_after_shows_a_large_improvement():
    trial = simulate(1, true_effect=0.0, steps=12000)
    assert len(trial.effects) >= 50
    result = estimate(trial.effects)
    assert result.lower is not None and result.upper is not None
    assert result.lower <= 0.0 <= result.upper, result
    # the old verification: the trigger reading is an outlier, so the reading after is lower
    # by itself; its "improvement" is large and certain, yet the action did nothing
    naive = t_interval(trial.naive)
    assert naive[1] > 1.0, naive  # more than a standard deviation of noise, interval far from 0


@pytest.mark.parametrize("true_effect", [0.5, 2.0, -1.0])
def test_a_rule_with_a_known_effect_is_estimated_within_its_interval(true_effect):
    trial = simulate(2, true_effect=true_effect)
    result = estimate(trial.effects)
    assert result.lower is not None and result.upper is not None
    assert result.lower <= true_effect <= result.upper, result
    assert not result.lower <= 0.0 <= result.upper  # and it tells the effect from none


@pytest.mark.parametrize("true_effect", [0.0, 1.0])
def test_the_baseline_interval_covers_the_true_effect_nearly_as_often_as_it_claims(true_effect):
    """95% nominal; a little less in fact: a trigger is likelier where the baseline's median
    came out low, so the counterfactual is a little low (against the rule: docs/enhancer.md).
    The before/after interval never covers the truth."""
    covered = naive_covered = 0
    runs = 100
    for seed in range(runs):
        trial = simulate(1000 + seed, true_effect=true_effect, steps=4000)
        result = estimate(trial.effects)
        assert result.lower is not None and result.upper is not None
        covered += result.lower <= true_effect <= result.upper
        naive_covered += contains(t_interval(trial.naive), true_effect)
    assert covered / runs >= 0.85, covered
    assert naive_covered == 0


def test_with_a_holdout_the_difference_of_means_covers_the_true_effect():
    for true_effect in (0.0, 1.5):
        trial = simulate(3, true_effect=true_effect, holdout=0.4, steps=12000)
        result = estimate(trial.treated, trial.controls)
        assert result.method == "holdout" and result.controls >= 30
        assert result.lower is not None and result.upper is not None
        assert result.lower <= true_effect <= result.upper, result


def test_an_excursion_that_outlasts_the_delay_biases_the_baseline_against_the_rule_not_the_holdout():
    """A slowly reverting signal is still above its baseline at verification: the
    baseline's counterfactual is too low, and the estimate understates the effect (the
    documented, conservative, failure); the held-out triggers show it, the holdout
    estimate does not suffer from it."""
    trial = simulate(4, true_effect=0.0, rho=0.97, delay=5, holdout=0.5, steps=30000)
    baseline = estimate(trial.effects)
    assert baseline.upper is not None and baseline.upper < 0.0, baseline  # understated, never inflated
    assert statistics.fmean(trial.control_effects) < 0.0  # held out: the same shortfall without an action
    holdout = estimate(trial.treated, trial.controls)
    assert holdout.lower is not None and holdout.upper is not None
    assert holdout.lower <= 0.0 <= holdout.upper, holdout
    # the naive before/after calls this do-nothing rule a success
    assert t_interval(trial.naive)[1] > 0.0
