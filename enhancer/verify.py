"""After `verify.after`, read the signal again: the change since the trigger (improvement
ratio, which drives the backoff) and the effect against the counterfactual (the
baseline's prediction; enhancer/effect.py). Held-out triggers are measured the same way."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from enhancer.baselines import Baseline
from enhancer.config import RuleConfig, SeasonalBaseline, VerifyConfig
from enhancer.effect import EffectEstimate, estimate, signed_effect
from enhancer.governance import Outcome
from enhancer.state import ActionRow, StateStore, VerifiedMeasurement

log = logging.getLogger("enhancer.verify")


def improvement_ratio(before: float, after: float, better: str) -> float:
    """Relative change of the signal, signed so that > 0 is better.

    With a zero starting value there is no scale to divide by: the change counts as
    +1 (better), -1 (worse) or 0.
    """
    change = before - after if better == "lower" else after - before
    if before == 0:
        return 0.0 if change == 0 else math.copysign(1.0, change)
    return change / abs(before)


def backing_off(verdicts_newest_first: list[bool], verify: VerifyConfig) -> bool:
    """True after `backoff_after` verified actions in a row that did not help."""
    recent = verdicts_newest_first[: verify.backoff_after]
    return len(recent) == verify.backoff_after and not any(recent)


def cooldown_seconds(rule: RuleConfig, backing: bool) -> float:
    if backing and rule.verify is not None:
        return rule.cooldown * rule.verify.backoff_factor
    return rule.cooldown


@dataclass(frozen=True)
class Verdict:
    action_id: str
    labels: dict[str, str]
    value_after: float | None
    improvement: float | None
    improved: bool | None
    held_out: bool = False
    counterfactual: float | None = None
    effect: float | None = None  # value_after against the counterfactual, > 0 is better


def counterfactual(rule: RuleConfig, row: ActionRow, baseline_now: Baseline | None) -> float | None:
    """What the signal would be now without the action: the level the rule's baseline expects.

    A robust baseline's median as it stood when the rule triggered (its window ended
    before the action; today's would contain the action's own effect); a seasonal
    baseline's median for this time of week (its windows lie in past weeks), or the one at
    the trigger if there is none now. None without a baseline: then only a holdout gives a
    counterfactual.
    """
    if rule.baseline is None:
        return None
    if isinstance(rule.baseline, SeasonalBaseline) and baseline_now is not None and baseline_now.trusted:
        return baseline_now.center if math.isfinite(baseline_now.center) else row.baseline
    return row.baseline


def verify_due(
    store: StateStore,
    rule: RuleConfig,
    due: list[ActionRow],
    values: dict[str, float],
    now: float,
    baselines: dict[str, Baseline] | None = None,
) -> list[Verdict]:
    """Judge this rule's due actions (and held-out triggers) against the values read in this poll."""
    verdicts = []
    spec = rule.verify
    for row in due:
        held_out = row.outcome == Outcome.HELD_OUT
        what = "held-out trigger" if held_out else "action"
        after = values.get(row.target)
        if spec is None or row.value is None or after is None or not math.isfinite(after):
            note = "the signal is absent now; nothing measured"
            store.record_verification(
                row.action_id, now=now, value_after=None, improvement=None, improved=None, note=note
            )
            verdicts.append(Verdict(row.action_id, row.labels, None, None, None, held_out))
            log.info("rule %s %s %s: %s", rule.name, what, row.action_id, note)
            continue
        expected = counterfactual(rule, row, (baselines or {}).get(row.target))
        effect = None
        if expected is not None and math.isfinite(expected):
            effect = signed_effect(after, expected, spec.better)
            against = f"; against the baseline's {expected:g}: effect {effect:+g}"
        else:
            expected = None
            against = "; no baseline to compare with"
        if held_out:
            # not acted on: no verdict for the backoff, only the control group's measurement
            ratio, improved = None, None
            note = f"held out, signal {row.value:g} -> {after:g} ({spec.better} is better){against}"
        else:
            ratio = improvement_ratio(row.value, after, spec.better)
            improved = ratio > spec.min_improvement
            note = (
                f"signal {row.value:g} -> {after:g} ({spec.better} is better): improvement {ratio:+.3f}, "
                f"{'helped' if improved else 'did not help'}{against}"
            )
        store.record_verification(
            row.action_id,
            now=now,
            value_after=after,
            improvement=ratio,
            improved=improved,
            note=note,
            counterfactual=expected,
            effect=effect,
        )
        verdicts.append(Verdict(row.action_id, row.labels, after, ratio, improved, held_out, expected, effect))
        log.info("rule %s %s %s verified: %s", rule.name, what, row.action_id, note)
    return verdicts


def measurement(rule: RuleConfig, value_after: float | None, effect: float | None) -> float | None:
    """What a verified action (or held-out trigger) contributes to the rule's estimate.

    Its effect against the baseline's counterfactual when the rule has a baseline; with a
    holdout and no baseline, the reading itself signed so that > 0 is better (only the
    difference between acted-on and held-out triggers is an effect then). None: nothing to
    contribute (no baseline and no holdout, or no reading).
    """
    spec = rule.verify
    if spec is None:
        return None
    if rule.baseline is not None:
        return effect
    if spec.holdout > 0 and value_after is not None and math.isfinite(value_after):
        return value_after if spec.better == "higher" else -value_after
    return None


def rule_effect(rule: RuleConfig, rows: list[VerifiedMeasurement]) -> EffectEstimate | None:
    """The rule's effect from its verified rows in the state; None for a rule without verify."""
    spec = rule.verify
    if spec is None:
        return None
    acted: list[float] = []
    held: list[float] = []
    for row in rows:
        value = measurement(rule, row.value_after, row.effect)
        if value is not None:
            (held if row.held_out else acted).append(value)
    if spec.holdout > 0:
        return estimate(acted, held, min_actions=spec.min_actions, min_controls=spec.min_actions)
    if rule.baseline is None:
        return EffectEstimate(
            "none", 0, 0, note="no counterfactual: the rule has no baseline and no holdout (verify.holdout)"
        )
    return estimate(acted, min_actions=spec.min_actions)
