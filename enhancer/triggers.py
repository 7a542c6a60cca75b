"""Trigger conditions and the `for` hold: one noisy poll never acts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from enhancer.baselines import Baseline
from enhancer.config import DeviationTrigger, RatioTrigger, ThresholdTrigger


class TargetState(StrEnum):
    """Where a target stands. The values are the `state` label of
    inventory_enhancer_rule_targets and the state in /api/v1/rules: never change one."""

    OK = "ok"
    PENDING = "pending"  # the condition holds, not yet for `for`
    FIRING = "firing"  # it has held for `for`: a candidate
    WAITING_BASELINE = "waiting_baseline"  # too little history to judge
    NO_DATA = "no_data"  # no finite value


@dataclass(frozen=True)
class Check:
    holds: bool | None  # None: cannot be judged (no value, or a baseline not yet trusted)
    state: TargetState  # OK, NO_DATA or WAITING_BASELINE when it does not hold
    reason: str


def check(
    trigger: DeviationTrigger | RatioTrigger | ThresholdTrigger, value: float, baseline: Baseline | None
) -> Check:
    if not math.isfinite(value):
        return Check(None, TargetState.NO_DATA, "the query returned no finite value")
    if isinstance(trigger, ThresholdTrigger):
        holds = value > trigger.value if trigger.op == "above" else value < trigger.value
        return Check(
            holds,
            TargetState.OK,
            f"value {value:g} {'>' if trigger.op == 'above' else '<'} "
            f"threshold {trigger.value:g}: {str(holds).lower()}",
        )
    if baseline is None or baseline.samples == 0:
        return Check(None, TargetState.WAITING_BASELINE, "waiting for a baseline: no history yet")
    if not baseline.trusted:
        return Check(
            None,
            TargetState.WAITING_BASELINE,
            f"waiting for a baseline: {baseline.samples}/{baseline.min_samples} samples",
        )
    if isinstance(trigger, DeviationTrigger):
        limit = baseline.center + max(trigger.k * baseline.deviation, trigger.min_delta)
        holds = value > limit
        return Check(
            holds,
            TargetState.OK,
            f"value {value:g} > baseline {baseline.center:g} + max({trigger.k:g} x deviation "
            f"{baseline.deviation:g}, min_delta {trigger.min_delta:g}) = {limit:g}: {str(holds).lower()}",
        )
    limit = trigger.x * baseline.center
    holds = value > limit
    return Check(
        holds,
        TargetState.OK,
        f"value {value:g} > {trigger.x:g} x baseline {baseline.center:g} = {limit:g}: {str(holds).lower()}",
    )


class Holds:
    """When each (rule, target) condition started holding, across polls.

    Kept in memory on purpose: after a restart a condition must hold for `for` again,
    which can only delay an action, never repeat one.
    """

    def __init__(self) -> None:
        self._since: dict[tuple[str, str], float] = {}

    def observe(self, key: tuple[str, str], holds: bool | None, now: float) -> float | None:
        if not holds:
            self._since.pop(key, None)
            return None
        return self._since.setdefault(key, now)

    def forget_rule(self, rule: str) -> None:
        for key in [key for key in self._since if key[0] == rule]:
            del self._since[key]
