"""One poll cycle: query every rule, judge triggers, govern, write ahead, act, verify."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypedDict

from enhancer import governance
from enhancer.actions import ActionResult, ActionSender
from enhancer.baselines import Baseline, fetch_baselines
from enhancer.config import Config, RuleConfig
from enhancer.effect import EffectEstimate
from enhancer.governance import Candidate, Decision, Outcome
from enhancer.maintenance import active_window
from enhancer.state import ActionRow, FencedOut, StateStore
from enhancer.triggers import Holds, TargetState, check
from enhancer.verify import backing_off, cooldown_seconds, measurement, rule_effect, verify_due
from servicekit.prometheus import PrometheusClient, PrometheusError, PrometheusUnavailable, target_key
from servicekit.secrets import redact

if TYPE_CHECKING:
    from enhancer.lease import LeaderLease

log = logging.getLogger("enhancer.engine")

HOUR = 3600.0
EFFECT_REFRESH = 300.0  # seconds between re-reads of the effect estimates when nothing was verified
RULE_CONCURRENCY = 8  # rules queried at once; Prometheus shares two cores with everything else
ACTION_CONCURRENCY = 8  # actions sent at once; each is bounded by its own timeout and retries
READY_CHECKS = ("lease", "first_poll")  # what readiness waits for (Engine.pending)


@dataclass
class TargetView:
    labels: dict[str, str]
    value: float
    baseline: Baseline | None
    state: TargetState
    reason: str
    pending_since: float | None


@dataclass
class RuleView:
    name: str
    evaluated_at: float | None = None
    error: str | None = None
    targets: list[TargetView] = field(default_factory=list)
    backing_off: bool = False

    @property
    def baseline(self) -> float | None:
        """The rule's gauge: the highest trusted baseline among its targets."""
        centers = [t.baseline.center for t in self.targets if t.baseline is not None and t.baseline.trusted]
        return max(centers) if centers else None


@dataclass
class VerifiedTally:
    """What one rule verified since this process started, for the counters a report takes
    increase() of: per group (acted, held_out), the measurements counted, their sum split
    by sign (a counter cannot go down) and their sum of squares."""

    count: dict[str, int] = field(default_factory=dict)
    better: dict[str, float] = field(default_factory=dict)  # sum of the measurements > 0
    worse: dict[str, float] = field(default_factory=dict)  # minus the sum of those < 0
    squares: dict[str, float] = field(default_factory=dict)

    def add(self, group: str, value: float) -> None:
        self.count[group] = self.count.get(group, 0) + 1
        if value > 0:
            self.better[group] = self.better.get(group, 0.0) + value
        elif value < 0:
            self.worse[group] = self.worse.get(group, 0.0) - value
        self.squares[group] = self.squares.get(group, 0.0) + value * value


@dataclass
class CycleReport:
    at: float
    decisions: list[Decision]
    outcomes: Counter[Outcome]
    errors: dict[str, str]
    prometheus_up: bool | None
    wall_seconds: float
    cpu_seconds: float


class _Decided(TypedDict):
    """What the state records of every decision: StateStore.start_action's and record_decision's
    keyword arguments in common."""

    rule: str
    target: str
    reason: str
    dry_run: bool
    value: float | None
    baseline: float | None
    now: float


@dataclass
class _Evaluation:
    rule: RuleConfig
    candidates: list[Candidate]


class Engine:
    def __init__(
        self,
        config: Config,
        store: StateStore,
        prometheus: PrometheusClient,
        sender: ActionSender,
        *,
        clock: Callable[[], float] = time.time,
        force_dry_run: bool = False,
        state_retention: float = 30 * 86400.0,
        lease: LeaderLease | None = None,
        rng: random.Random | None = None,
    ):
        self.config = config
        self.store = store
        self.prometheus = prometheus
        self.sender = sender
        self.clock = clock
        self.force_dry_run = force_dry_run
        self.state_retention = state_retention
        self.holds = Holds()
        self.outcomes: Counter[tuple[str, Outcome]] = Counter()  # (rule, outcome) -> count, for actions_total
        self.views = {rule.name: RuleView(rule.name) for rule in config.rules}
        self.prometheus_up: bool | None = None
        self.last_cycle: CycleReport | None = None
        self.cooldown_until: dict[bool, dict[tuple[str, str], float]] = {False: {}, True: {}}
        self._baselines: dict[str, tuple[float, dict[str, Baseline]]] = {}
        self._logged_suppression: dict[tuple[str, str], Outcome] = {}
        self._last_pruned = 0.0
        # Without a lease this is the only enhancer on its state: what it finds started, a
        # previous run of it left. With a lease, started rows may be the live leader's, so
        # they are resolved only when this instance takes the lease over (renew_lease).
        self.lease = lease
        self._wake = asyncio.Event()
        self.improvements: dict[str, float] = {}
        self.rng = rng or random.Random()  # draws the holdout
        self.tallies = {rule.name: VerifiedTally() for rule in config.rules}
        self.effects: dict[str, EffectEstimate] = {}
        self._effects_read = -math.inf
        # actions this instance stopped (or could not record) because it lost the lease, per rule
        self.fenced: Counter[str] = Counter()
        # readiness (server.py): when the first poll cycle began, and whether the lease was tried
        self.first_poll_started_at: float | None = None
        self.lease_tried = lease is None
        if lease is None:
            self._resolve_interrupted()
        else:
            store.fence = lease.fence
            self.improvements = store.last_improvements()
            self._refresh_cooldowns()
            self.refresh_effects(self.clock())

    def maintenance_window(self, now: float | None = None) -> str | None:
        """The maintenance window in force at `now` (default: the engine's clock), if any."""
        return active_window(self.config.maintenance, self.clock() if now is None else now)

    @property
    def is_leader(self) -> bool:
        return self.lease is None or self.lease.is_leader

    @property
    def role(self) -> str:
        """single (no lease), leader or standby."""
        if self.lease is None:
            return "single"
        return "leader" if self.lease.is_leader else "standby"

    def pending(self) -> dict[str, str]:
        """What start-up still waits for, by check; empty once the enhancer is ready.

        The state is open before the server starts (cli.py), so it is never pending here.
        Leadership is not a check: a standby serves its metrics and API and is ready."""
        waiting = {}
        if not self.lease_tried:
            waiting["lease"] = "the first lease acquisition has not been attempted"
        if self.first_poll_started_at is None:
            waiting["first_poll"] = "the first poll cycle has not started"
        return waiting

    def _resolve_interrupted(self) -> None:
        for row in self.store.resolve_interrupted(self.clock()):
            self.outcomes[(row.rule, Outcome.FAILED)] += 1
            log.warning(
                "rule %s: action %s was in flight when the enhancer (or the previous leader) stopped; "
                "recorded as failed, not re-sent",
                row.rule,
                row.action_id,
            )
        self.improvements = self.store.last_improvements()
        self._refresh_cooldowns()
        self.refresh_effects(self.clock())

    def refresh_effects(self, now: float) -> None:
        """Re-estimate every verified rule's effect from its verified rows in the state."""
        verified = [rule for rule in self.config.rules if rule.verify is not None]
        rows = self.store.verified_measurements() if verified else []
        effects = {}
        for rule in verified:
            found = rule_effect(rule, [row for row in rows if row.rule == rule.name])
            if found is not None:
                effects[rule.name] = found
        self.effects = effects
        self._effects_read = now

    def renew_lease(self) -> float | None:
        """Acquire or renew the lease; on a new term, settle what the last leader left in flight.

        Returns None while leading (or without a lease), else seconds until the current
        holder's lease expires by the database's clock.
        """
        if self.lease is None:
            return None
        try:
            status = self.lease.acquire()
        except Exception:  # the database is unreachable: we cannot prove we lead, so we do not act
            log.exception("lease: cannot reach the state database")
            return None if self.lease.is_leader else self.lease.ttl / 3
        finally:
            self.lease_tried = True
        if status.acquired:
            self._logged_suppression.clear()
            try:
                self._resolve_interrupted()
            except FencedOut as exc:
                log.warning("lease: lost again before resolving: %s", exc)
                return 0.0
            self._wake.set()  # act now, not a poll interval later
        return None if status.leader else status.expires_in

    async def hold_lease(self, stop: asyncio.Event) -> None:
        """Renew every renew_interval while leading; standing by, try again as the lease expires."""
        if self.lease is None:
            return
        interval = self.config.lease.renew_interval or self.lease.ttl / 3
        while not stop.is_set():
            expires_in = self.renew_lease()
            # a standby tries just after the holder's lease expires, so a dead leader is
            # replaced within the TTL of its last renewal, not a retry interval later
            delay = interval if expires_in is None else min(interval, expires_in + 0.05)
            try:
                await asyncio.wait_for(stop.wait(), max(delay, 0.05))
            except TimeoutError:
                pass

    def dry_run(self, rule: RuleConfig) -> bool:
        return self.force_dry_run or self.config.dry_run or rule.dry_run

    # -- the cycle -------------------------------------------------------------------------

    async def run_cycle(self) -> CycleReport:
        if self.first_poll_started_at is None:
            self.first_poll_started_at = self.clock()
        if self.lease is not None:
            self.renew_lease()
        # A standby evaluates (its views and `for` timers stay warm for a takeover) but
        # neither verifies, governs, acts nor prunes: the leader alone writes the state.
        leading = self.is_leader
        now = self.clock()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if leading and now - self._last_pruned > HOUR:
            self.store.prune(now, self.state_retention)
            self._last_pruned = now
            self._effects_read = -math.inf  # pruned rows leave the estimates
        due: dict[str, list[ActionRow]] = {}
        for row in self.store.due_verifications(now) if leading else []:
            due.setdefault(row.rule, []).append(row)

        unavailable = asyncio.Event()
        limit = asyncio.Semaphore(RULE_CONCURRENCY)

        async def evaluate(order: int, rule: RuleConfig) -> _Evaluation:
            async with limit:
                return await self._evaluate(order, rule, now, due.get(rule.name, []), unavailable)

        evaluations = await asyncio.gather(*(evaluate(i, rule) for i, rule in enumerate(self.config.rules)))
        if not self.config.rules:
            await self._probe(now, unavailable)
        self.prometheus_up = not unavailable.is_set() and self.prometheus.up is not False

        candidates = [c for evaluation in evaluations for c in evaluation.candidates] if leading else []
        decisions = governance.decide(
            candidates,
            cooldowns={mode: self.store.cooldowns(mode) for mode in (False, True)},
            usage={mode: self.store.budget_usage(now - HOUR, mode) for mode in (False, True)},
            global_budget=self.config.budget.per_hour,
            now=now,
            maintenance=self.maintenance_window(now),
        )
        outcomes = await self._apply(decisions, now)
        self._refresh_cooldowns()
        if due or not 0 <= now - self._effects_read < EFFECT_REFRESH:
            self.refresh_effects(now)

        report = CycleReport(
            now,
            decisions,
            outcomes,
            {name: view.error for name, view in self.views.items() if view.error},
            self.prometheus_up,
            time.perf_counter() - wall0,
            time.process_time() - cpu0,
        )
        self.last_cycle = report
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; back off while Prometheus is unreachable."""
        # the lease is renewed on its own schedule: an action may take longer than the TTL
        holder = asyncio.create_task(self.hold_lease(stop)) if self.lease is not None else None
        try:
            await self._poll(stop)
        finally:
            if holder is not None:
                holder.cancel()

    async def _poll(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                report = await self.run_cycle()
                failures = 0 if report.prometheus_up else failures + 1
            except Exception:  # a bug in one cycle must not end the service; the next cycle retries
                log.exception("poll cycle failed")
                failures += 1
            delay = self.config.poll_interval
            if failures:
                delay = min(delay * 2**failures, max(self.config.max_poll_backoff, delay))
                log.warning("Prometheus unavailable for %d polls in a row; next poll in %.0fs", failures, delay)
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    # -- per rule --------------------------------------------------------------------------

    async def _evaluate(
        self, order: int, rule: RuleConfig, now: float, due: list[ActionRow], unavailable: asyncio.Event
    ) -> _Evaluation:
        view = self.views[rule.name]
        previous = {target_key(t.labels): t.state for t in view.targets}
        if unavailable.is_set():
            return self._failed(rule, view, now, "Prometheus unavailable")
        try:
            samples, baselines = await asyncio.gather(
                self.prometheus.query(rule.query, now), self._baselines_for(rule, now)
            )
        except PrometheusUnavailable as exc:
            unavailable.set()
            return self._failed(rule, view, now, str(exc))
        except PrometheusError as exc:
            log.error("rule %s: %s", rule.name, exc)
            return self._failed(rule, view, now, str(exc))
        except Exception as exc:  # whatever one rule's answer does, the other rules are evaluated
            log.exception("rule %s: evaluation failed", rule.name)
            return self._failed(rule, view, now, redact(f"internal error: {type(exc).__name__}: {exc}")[:500])

        dry_run = self.dry_run(rule)
        values: dict[str, float] = {}
        targets: list[TargetView] = []
        candidates: list[Candidate] = []
        for sample in samples:
            key = target_key(sample.labels)
            values[key] = sample.value
            baseline = baselines.get(key)
            result = check(rule.trigger, sample.value, baseline)
            since = self.holds.observe((rule.name, key), result.holds, now)
            state, reason = result.state, result.reason
            if since is not None:  # the condition holds, since then
                held = now - since
                if held >= rule.trigger.for_:
                    state, reason = TargetState.FIRING, f"{reason} (held {held:.0f}s)"
                    center = baseline.center if baseline is not None and baseline.samples else None
                    candidates.append(Candidate(rule, order, sample.labels, key, sample.value, center, reason, dry_run))
                else:
                    state, reason = TargetState.PENDING, f"{reason} (held {held:.0f}s of {rule.trigger.for_:.0f}s)"
            if state == TargetState.WAITING_BASELINE and previous.get(key) != TargetState.WAITING_BASELINE:
                log.info("rule %s target %s: %s; not acting", rule.name, key, reason)
            targets.append(TargetView(sample.labels, sample.value, baseline, state, reason, since))
        for key in [k for k in previous if k not in values]:
            self.holds.observe((rule.name, key), False, now)

        if due:
            for verdict in verify_due(self.store, rule, due, values, now, baselines):
                if verdict.improvement is not None:
                    self.improvements[rule.name] = verdict.improvement
                value = measurement(rule, verdict.value_after, verdict.effect)
                if value is not None:
                    self.tallies[rule.name].add("held_out" if verdict.held_out else "acted", value)
        if rule.verify is not None:
            backing = backing_off(self.store.recent_verdicts(rule.name, rule.verify.backoff_after), rule.verify)
            if backing and not view.backing_off:
                log.warning(
                    "rule %s: its last %d verified actions did not help; cooldown raised to %.0fs (x%g) until one does",
                    rule.name,
                    rule.verify.backoff_after,
                    cooldown_seconds(rule, True),
                    rule.verify.backoff_factor,
                )
            view.backing_off = backing
        view.evaluated_at, view.error, view.targets = now, None, targets
        return _Evaluation(rule, candidates)

    def _failed(self, rule: RuleConfig, view: RuleView, now: float, error: str) -> _Evaluation:
        # without a reading the condition is unknown: a hold must start over, never skip ahead
        self.holds.forget_rule(rule.name)
        view.evaluated_at, view.error, view.targets = now, error, []
        return _Evaluation(rule, [])

    async def _baselines_for(self, rule: RuleConfig, now: float) -> dict[str, Baseline]:
        if rule.baseline is None:
            return {}
        cached = self._baselines.get(rule.name)
        if cached is not None and 0 <= now - cached[0] < rule.baseline.refresh:
            return cached[1]
        baselines = await fetch_baselines(self.prometheus, rule.baseline, rule.baseline.query or rule.query, now)
        self._baselines[rule.name] = (now, baselines)
        return baselines

    async def _probe(self, now: float, unavailable: asyncio.Event) -> None:
        try:
            await self.prometheus.query("vector(1)", now)
        except PrometheusUnavailable:
            unavailable.set()
        except PrometheusError:
            pass

    # -- acting ----------------------------------------------------------------------------

    async def _apply(self, decisions: list[Decision], now: float) -> Counter[Outcome]:
        outcomes: Counter[Outcome] = Counter()
        to_send: list[tuple[Candidate, str, int | None]] = []
        for decision in decisions:
            candidate, rule = decision.candidate, decision.candidate.rule
            key = (rule.name, candidate.target)
            common: _Decided = {
                "rule": rule.name,
                "target": candidate.target,
                "reason": decision.reason,
                "dry_run": candidate.dry_run,
                "value": candidate.value,
                "baseline": candidate.baseline,
                "now": now,
            }
            until = now + cooldown_seconds(rule, self.views[rule.name].backing_off)
            if decision.outcome == Outcome.ACT and self._held_out(rule):
                # the control group: decided like an action, cooldown included, but not sent;
                # read again after verify.after like an action (spends no budget)
                assert rule.verify is not None
                try:
                    self.store.record_decision(
                        action_id=uuid.uuid4().hex,
                        outcome=Outcome.HELD_OUT,
                        cooldown_until=until,
                        verify_due_at=now + rule.verify.after,
                        **common,
                    )
                except FencedOut as exc:
                    log.warning("rule %s target %s: not holding out: %s", rule.name, candidate.target, exc)
                    break
                outcomes[Outcome.HELD_OUT] += 1
                self.outcomes[(rule.name, Outcome.HELD_OUT)] += 1
                self._logged_suppression.pop(key, None)
                log.info(
                    "rule %s target %s: held out (verify.holdout %g), not acted on: %s",
                    rule.name,
                    candidate.target,
                    rule.verify.holdout,
                    decision.reason,
                )
                continue
            if decision.outcome == Outcome.ACT:
                action_id = uuid.uuid4().hex
                try:
                    token = self.store.start_action(action_id=action_id, cooldown_until=until, **common)
                except FencedOut as exc:
                    # deposed between the lease check and this write: the new leader decides
                    log.warning("rule %s target %s: not acting: %s", rule.name, candidate.target, exc)
                    break
                self._logged_suppression.pop(key, None)
                to_send.append((candidate, action_id, token))
                continue
            outcomes[decision.outcome] += 1
            self.outcomes[(rule.name, decision.outcome)] += 1
            if decision.outcome == Outcome.DRY_RUN:
                self.store.record_decision(
                    action_id=uuid.uuid4().hex, outcome=Outcome.DRY_RUN, cooldown_until=until, **common
                )
                self._logged_suppression.pop(key, None)
                log.info("rule %s target %s: dry run, would act: %s", rule.name, candidate.target, decision.reason)
            elif self._logged_suppression.get(key) != decision.outcome:
                # a suppression repeats every poll while it lasts: log it once per run of the same outcome
                self._logged_suppression[key] = decision.outcome
                self.store.record_decision(action_id=uuid.uuid4().hex, outcome=decision.outcome, **common)
                log.info("rule %s target %s: %s: %s", rule.name, candidate.target, decision.outcome, decision.reason)

        limit = asyncio.Semaphore(ACTION_CONCURRENCY)

        async def send(candidate: Candidate, action_id: str, token: int | None) -> Outcome:
            async with limit:
                return await self._send(candidate, action_id, now, token)

        for outcome in await asyncio.gather(*(send(c, a, t) for c, a, t in to_send)):
            outcomes[outcome] += 1
        return outcomes

    async def _still_leading(self, token: int) -> str | None:
        """The guard of every attempt of an action recorded under `token` (actions.py)."""
        assert self.lease is not None
        try:
            return await asyncio.to_thread(self.lease.confirm, token)
        except Exception as exc:  # the database is unreachable: we cannot prove we lead
            return redact(f"cannot confirm the lease (fencing token {token}): {type(exc).__name__}: {exc}")[:300]

    async def _send(self, candidate: Candidate, action_id: str, decided_at: float, token: int | None) -> Outcome:
        rule = candidate.rule
        guard = None if self.lease is None or token is None else partial(self._still_leading, token)
        try:
            result = await self.sender.send(
                rule,
                action_id=action_id,
                labels=candidate.labels,
                value=candidate.value,
                baseline=candidate.baseline,
                guard=guard,
                fencing_token=token,
            )
        except Exception as exc:  # the row is written; it must be finished whatever went wrong
            log.exception("rule %s: action %s raised", rule.name, action_id)
            result = ActionResult(False, 0, redact(f"internal error: {type(exc).__name__}: {exc}")[:500])
        outcome = Outcome.SUCCESS if result.success else Outcome.FAILED
        verify_at = decided_at + rule.verify.after if result.success and rule.verify is not None else None
        deposed: str | None = None
        try:
            recorded = self.store.finish_action(
                action_id,
                outcome=outcome,
                reason=candidate.reason,
                attempts=result.attempts,
                detail=result.detail,
                now=self.clock(),
                verify_due_at=verify_at,
            )
        except FencedOut as exc:
            recorded, deposed = False, str(exc)
        if not recorded:
            # The new leader has resolved the row (failed, outcome unknown, not re-sent) and
            # that record stands: this log says the same, with what this instance saw.
            self.fenced[rule.name] += 1
            log.warning(
                "rule %s target %s: action %s (fencing token %s) %s after %d attempt(s): %s; "
                "this instance lost the lease meanwhile (%s): the new leader's record stands: "
                "failed, outcome unknown, not re-sent (Idempotency-Key %s)",
                rule.name,
                candidate.target,
                action_id,
                token,
                "stopped" if result.fenced else outcome,
                result.attempts,
                result.detail,
                deposed or "the row was already resolved",
                action_id,
            )
            return Outcome.FAILED
        if result.fenced:
            # our token is still current but the lease could not be confirmed (it lapsed, or the
            # database did not answer): recorded as failed here, as the new leader would
            self.fenced[rule.name] += 1
        self.outcomes[(rule.name, outcome)] += 1
        level = logging.INFO if result.success else logging.ERROR
        log.log(
            level,
            "rule %s target %s: action %s %s after %d attempt(s): %s",
            rule.name,
            candidate.target,
            action_id,
            outcome,
            result.attempts,
            result.detail,
        )
        return outcome

    def _held_out(self, rule: RuleConfig) -> bool:
        """Whether this trigger of the rule is drawn for its holdout."""
        return rule.verify is not None and rule.verify.holdout > 0 and self.rng.random() < rule.verify.holdout

    def _refresh_cooldowns(self) -> None:
        self.cooldown_until = {mode: self.store.cooldowns(mode) for mode in (False, True)}

    def cooldown_remaining(self, rule: RuleConfig, now: float) -> dict[str, float]:
        """Seconds of cooldown left per target of the rule, in the rule's mode."""
        mode = self.dry_run(rule)
        return {
            target: until - now
            for (name, target), until in self.cooldown_until[mode].items()
            if name == rule.name and until > now
        }
