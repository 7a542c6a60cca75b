"""The effect of a rule's actions against a counterfactual, with a 95% confidence interval.

Pure functions over numbers, so the estimator can be tested on simulated rules with a
known true effect.

Why not before/after: a rule acts when its signal is an outlier, and an outlier tends to
fall back toward its usual level whether or not anything is done (regression to the
mean). Comparing the reading after the action with the trigger reading credits the
action with that fall. Here the reading after the action is compared with what the
signal would have been without it:

- **baseline**: the counterfactual of each action is the rule's baseline (the median of
  the signal's history before the trigger; for a seasonal baseline, of the same time of
  week at the verify time), the level the signal is expected to return to. An action's
  effect is `counterfactual - observed` (`observed - counterfactual` when higher is
  better), and the rule's effect is the mean over its verified actions with a Student t
  interval. It assumes the signal would be back at its usual level by the verify time;
  where an excursion outlasts `verify.after` the signal would still be above it without
  an action, and the estimate understates a helpful effect (it errs against the rule).
- **holdout**: a random share of triggers is not acted on (held out) and measured the
  same way at the same delay. The effect is the difference of the mean measurements,
  treated minus held out, with Welch's interval. Randomisation makes the two groups
  alike in everything but the action, so no model of the signal is needed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

CONFIDENCE = 0.95
MIN_ACTIONS = 5  # verified actions before an estimate is published
MIN_CONTROLS = 5  # and held-out triggers, with a holdout

Method = Literal["baseline", "holdout", "none"]


def signed_effect(observed: float, counterfactual: float, better: str) -> float:
    """observed - counterfactual, signed so that > 0 is better."""
    return counterfactual - observed if better == "lower" else observed - counterfactual


def naive_improvement(before: float, after: float, better: str) -> float:
    """The change from the trigger reading, signed so that > 0 is better (what the old
    verification reported: biased by regression to the mean)."""
    return before - after if better == "lower" else after - before


# -- Student's t distribution --------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0.5 < p < 1), by bisection on the CDF."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


# -- intervals -----------------------------------------------------------------------------


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, lower, upper): a t interval for the mean of `values` (at least 2)."""
    n = len(values)
    mean = statistics.fmean(values)
    half = t_quantile((1 + confidence) / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def welch_interval(
    treated: Sequence[float], control: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """(difference, lower, upper): Welch's interval for mean(treated) - mean(control) (each at least 2)."""
    n1, n2 = len(treated), len(control)
    v1, v2 = statistics.variance(treated) / n1, statistics.variance(control) / n2
    diff = statistics.fmean(treated) - statistics.fmean(control)
    se2 = v1 + v2
    if se2 == 0:
        return diff, diff, diff
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = t_quantile((1 + confidence) / 2, df) * math.sqrt(se2)
    return diff, diff - half, diff + half


# -- the estimate --------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectEstimate:
    method: Method
    actions: int  # verified actions with a measurement that the estimate uses
    controls: int  # held-out triggers measured the same way (holdout only)
    effect: float | None = None  # None: not enough data (see note)
    lower: float | None = None
    upper: float | None = None
    note: str = ""

    @property
    def enough(self) -> bool:
        return self.effect is not None

    def as_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "effect": self.effect,
            "lower": self.lower,
            "upper": self.upper,
            "confidence": CONFIDENCE,
            "actions": self.actions,
            "controls": self.controls,
            "note": self.note,
        }


def estimate(
    treated: Sequence[float],
    controls: Sequence[float] | None = None,
    *,
    min_actions: int = MIN_ACTIONS,
    min_controls: int = MIN_CONTROLS,
    confidence: float = CONFIDENCE,
) -> EffectEstimate:
    """The effect of a rule's actions, signed so that > 0 is better.

    `controls` None: the baseline method; `treated` are the actions' individual effects
    against their counterfactuals (signed_effect), and the estimate is their mean with a t
    interval. Otherwise the holdout method: `treated` and `controls` are the same signed
    measurement of acted-on and held-out triggers, and the estimate is the difference of
    their means with Welch's interval.
    """
    treated = [v for v in treated if math.isfinite(v)]
    min_actions = max(min_actions, 2)
    if controls is None:
        n = len(treated)
        if n < min_actions:
            return EffectEstimate("baseline", n, 0, note=f"not enough data: {n} of {min_actions} verified actions")
        mean, lower, upper = t_interval(treated, confidence)
        return EffectEstimate(
            "baseline",
            n,
            0,
            mean,
            lower,
            upper,
            f"mean of {n} actions' effects against the baseline, {confidence:.0%} t interval",
        )
    controls = [v for v in controls if math.isfinite(v)]
    min_controls = max(min_controls, 2)
    n1, n2 = len(treated), len(controls)
    if n1 < min_actions or n2 < min_controls:
        return EffectEstimate(
            "holdout",
            n1,
            n2,
            note=f"not enough data: {n1} of {min_actions} verified actions, {n2} of {min_controls} held out",
        )
    diff, lower, upper = welch_interval(treated, controls, confidence)
    return EffectEstimate(
        "holdout",
        n1,
        n2,
        diff,
        lower,
        upper,
        f"{n1} actions against {n2} held-out triggers, difference of means, {confidence:.0%} Welch interval",
    )
