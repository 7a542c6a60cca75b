"""Did an action help? Re-read the signal after `verify.after` and record a signed change."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from enhancer.config import RuleConfig, VerifyConfig
from enhancer.state import ActionRow, StateStore

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


def verify_due(
    store: StateStore, rule: RuleConfig, due: list[ActionRow], values: dict[str, float], now: float
) -> list[Verdict]:
    """Judge this rule's due actions against the values read in this poll."""
    verdicts = []
    spec = rule.verify
    for row in due:
        after = values.get(row.target)
        if spec is None or row.value is None or after is None or not math.isfinite(after):
            note = "the signal is absent now; no improvement measured"
            store.record_verification(
                row.action_id, now=now, value_after=None, improvement=None, improved=None, note=note
            )
            verdicts.append(Verdict(row.action_id, row.labels, None, None, None))
            log.info("rule %s action %s: %s", rule.name, row.action_id, note)
            continue
        ratio = improvement_ratio(row.value, after, spec.better)
        improved = ratio > spec.min_improvement
        note = (
            f"signal {row.value:g} -> {after:g} ({spec.better} is better): improvement {ratio:+.3f}, "
            f"{'helped' if improved else 'did not help'}"
        )
        store.record_verification(
            row.action_id, now=now, value_after=after, improvement=ratio, improved=improved, note=note
        )
        verdicts.append(Verdict(row.action_id, row.labels, after, ratio, improved))
        log.info("rule %s action %s verified: %s", rule.name, row.action_id, note)
    return verdicts
