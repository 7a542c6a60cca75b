"""Who may act this cycle: maintenance, cooldown, priority within exclusive groups, budgets.

A pure function of the candidates and the persisted cooldowns and budget usage, so
every suppression can be explained by one reason string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from enhancer.config import RuleConfig


class Outcome(StrEnum):
    """What became of a decision. The values are stored in the action log and are the
    `outcome` label of inventory_enhancer_actions_total: never change one."""

    SUCCESS = "success"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    SUPPRESSED_MAINTENANCE = "suppressed_maintenance"
    SUPPRESSED_COOLDOWN = "suppressed_cooldown"
    SUPPRESSED_PRIORITY = "suppressed_priority"
    SUPPRESSED_BUDGET = "suppressed_budget"
    # allowed to act, but drawn for the rule's holdout (verify.holdout): not sent, verified
    # as an action would be, the control group of the rule's effect (enhancer/effect.py)
    HELD_OUT = "held_out"
    # governance's verdict only: allowed to send; recorded as SUCCESS or FAILED once sent
    ACT = "act"


# every outcome a decision is recorded and counted with
OUTCOMES = tuple(outcome for outcome in Outcome if outcome is not Outcome.ACT)


@dataclass(frozen=True)
class Candidate:
    """A (rule, target) whose trigger has held for its `for` duration."""

    rule: RuleConfig
    order: int  # position in the config; breaks priority ties
    labels: dict[str, str]
    target: str
    value: float
    baseline: float | None
    reason: str
    dry_run: bool


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    outcome: Outcome  # ACT, DRY_RUN or a SUPPRESSED_* outcome
    reason: str


def same_target(a: dict[str, str], b: dict[str, str]) -> bool:
    """Targets compete when they agree on every label they share.

    {integration=shopify} and {integration=shopify, location=wh-east} compete; two
    label-less targets (whole-system signals) always do.
    """
    return all(a[name] == b[name] for name in a.keys() & b.keys())


def decide(
    candidates: list[Candidate],
    *,
    cooldowns: dict[bool, dict[tuple[str, str], float]],
    usage: dict[bool, dict[str, int]],
    global_budget: int,
    now: float,
    maintenance: str | None = None,
) -> list[Decision]:
    """`maintenance`: the window in force (see enhancer.maintenance), if any."""
    decisions: list[Decision] = []
    acting: list[Candidate] = []
    used = {mode: dict(per_rule) for mode, per_rule in usage.items()}
    for candidate in sorted(candidates, key=lambda c: (-c.rule.priority, c.order)):
        rule, mode = candidate.rule, candidate.dry_run
        if maintenance is not None:
            # nothing is sent, not even a dry run's record of what would be: it would not be
            decisions.append(Decision(candidate, Outcome.SUPPRESSED_MAINTENANCE, f"maintenance window {maintenance}"))
            continue
        until = cooldowns.get(mode, {}).get((rule.name, candidate.target))
        if until is not None and until > now:
            decisions.append(
                Decision(candidate, Outcome.SUPPRESSED_COOLDOWN, f"in cooldown for another {until - now:.0f}s")
            )
            continue
        winner = _winner(candidate, acting)
        if winner is not None:
            decisions.append(
                Decision(
                    candidate,
                    Outcome.SUPPRESSED_PRIORITY,
                    f"rule {winner.rule.name!r} (priority {winner.rule.priority}) acts on "
                    f"the same target in exclusive group {rule.exclusive_group!r}",
                )
            )
            continue
        per_rule = used.setdefault(mode, {})
        total = sum(per_rule.values())
        if total >= global_budget:
            decisions.append(
                Decision(
                    candidate,
                    Outcome.SUPPRESSED_BUDGET,
                    f"global budget used: {total}/{global_budget} actions in the last hour",
                )
            )
            continue
        if rule.budget_per_hour is not None and per_rule.get(rule.name, 0) >= rule.budget_per_hour:
            decisions.append(
                Decision(
                    candidate,
                    Outcome.SUPPRESSED_BUDGET,
                    f"rule budget used: {per_rule.get(rule.name, 0)}/{rule.budget_per_hour} actions in the last hour",
                )
            )
            continue
        per_rule[rule.name] = per_rule.get(rule.name, 0) + 1
        acting.append(candidate)
        decisions.append(Decision(candidate, Outcome.DRY_RUN if mode else Outcome.ACT, candidate.reason))
    return decisions


def _winner(candidate: Candidate, acting: list[Candidate]) -> Candidate | None:
    group = candidate.rule.exclusive_group
    if group is None:
        return None
    for other in acting:
        if (
            other.rule.exclusive_group == group
            and other.rule.name != candidate.rule.name
            and same_target(other.labels, candidate.labels)
        ):
            return other
    return None
