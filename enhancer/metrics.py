"""The enhancer's own metrics, built fresh from the engine on every scrape.

Labels are bounded by the config (rule names, fixed outcome and state sets); targets
never become labels: they are in the JSON API and the logs.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from enhancer import __version__
from enhancer.engine import READY_CHECKS, Engine
from enhancer.governance import OUTCOMES
from enhancer.triggers import TargetState


class EnhancerCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        now = engine.clock()
        build = GaugeMetricFamily(
            "inventory_enhancer_build_info", "Version of the enhancer; always 1.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build

        leader = GaugeMetricFamily(
            "inventory_enhancer_is_leader",
            "1 if this instance holds the leader lease and acts (always 1 without a "
            "lease: SQLite state is single-instance); 0 on a standby.",
        )
        leader.add_metric([], 1.0 if engine.is_leader else 0.0)
        yield leader
        if engine.lease is not None:
            token = GaugeMetricFamily(
                "inventory_enhancer_lease_fencing_token",
                "Fencing token of the current lease term as this instance last saw it "
                "(its own while it leads); it rises at every takeover.",
            )
            token.add_metric([], float(engine.lease.known_token))
            yield token
            terms = CounterMetricFamily(
                "inventory_enhancer_lease_acquisitions", "Times this instance became the leader."
            )
            terms.add_metric([], float(engine.lease.acquisitions))
            yield terms
            fenced = CounterMetricFamily(
                "inventory_enhancer_actions_fenced",
                "Actions this instance stopped sending (before an attempt or a retry), or whose result "
                "it could not record, because it no longer held the leader lease; the new leader's "
                "record (failed, outcome unknown, not re-sent) stands.",
                labels=["rule"],
            )
            for rule in engine.config.rules:
                fenced.add_metric([rule.name], float(engine.fenced[rule.name]))
            yield fenced

        pending = engine.pending()
        ready = GaugeMetricFamily(
            "inventory_enhancer_ready",
            "1 once the enhancer is ready (/-/ready answers 200): its state is open, the lease has been "
            "tried and the first poll cycle has started; a standby is ready.",
        )
        ready.add_metric([], 0.0 if pending else 1.0)
        yield ready
        waiting = GaugeMetricFamily(
            "inventory_enhancer_ready_pending",
            "1 for each start-up check readiness still waits for (lease: the first lease acquisition; "
            "first_poll: the first poll cycle), 0 once done.",
            labels=["check"],
        )
        for check in READY_CHECKS:
            waiting.add_metric([check], 1.0 if check in pending else 0.0)
        yield waiting

        maintenance = GaugeMetricFamily(
            "inventory_enhancer_maintenance_active",
            "1 while a configured maintenance window is in force: rules are evaluated, no action is sent.",
        )
        maintenance.add_metric([], 0.0 if engine.maintenance_window(now) is None else 1.0)
        yield maintenance

        up = GaugeMetricFamily("inventory_enhancer_prometheus_up", "1 if the last poll of Prometheus succeeded.")
        up.add_metric([], 1.0 if engine.prometheus_up else 0.0)
        yield up

        actions = CounterMetricFamily(
            "inventory_enhancer_actions", "Decisions on triggered rule targets, by outcome.", labels=["rule", "outcome"]
        )
        baseline = GaugeMetricFamily(
            "inventory_enhancer_baseline",
            "Current baseline of the rule's signal (highest among its targets).",
            labels=["rule"],
        )
        cooldown = GaugeMetricFamily(
            "inventory_enhancer_cooldown_remaining_seconds",
            "Longest cooldown left among the rule's targets.",
            labels=["rule"],
        )
        improvement = GaugeMetricFamily(
            "inventory_enhancer_action_improvement_ratio",
            "Relative change of the signal from the trigger reading to the reading after the rule's "
            "last verified action; > 0 is better. Not an effect: an outlier falls back by itself.",
            labels=["rule"],
        )
        effect = GaugeMetricFamily(
            "inventory_enhancer_rule_effect",
            "Estimated effect of the rule's actions on its signal against the counterfactual "
            "(the baseline's prediction, or held-out triggers), in the signal's unit, > 0 is better; "
            "absent until enough actions are verified.",
            labels=["rule"],
        )
        effect_lower = GaugeMetricFamily(
            "inventory_enhancer_rule_effect_lower",
            "Lower end of the 95% confidence interval of inventory_enhancer_rule_effect.",
            labels=["rule"],
        )
        effect_upper = GaugeMetricFamily(
            "inventory_enhancer_rule_effect_upper",
            "Upper end of the 95% confidence interval of inventory_enhancer_rule_effect.",
            labels=["rule"],
        )
        effect_actions = GaugeMetricFamily(
            "inventory_enhancer_rule_effect_actions",
            "Verified actions of the rule (in the state's retention) that its effect estimate uses.",
            labels=["rule"],
        )
        effect_controls = GaugeMetricFamily(
            "inventory_enhancer_rule_effect_controls",
            "Held-out triggers of the rule (in the state's retention) that its effect estimate uses.",
            labels=["rule"],
        )
        verified = CounterMetricFamily(
            "inventory_enhancer_verified_actions",
            "Actions (group acted) and held-out triggers (group held_out) verified with a measurement "
            "for the effect, since the enhancer started.",
            labels=["rule", "group"],
        )
        verified_effect = CounterMetricFamily(
            "inventory_enhancer_verified_effect",
            "Sum of the verified measurements (effects against the counterfactual), by sign: "
            "direction better sums those > 0, worse the size of those < 0.",
            labels=["rule", "group", "direction"],
        )
        verified_squares = CounterMetricFamily(
            "inventory_enhancer_verified_effect_squares",
            "Sum of the squares of the verified measurements, for a period's confidence interval.",
            labels=["rule", "group"],
        )
        query_ok = GaugeMetricFamily(
            "inventory_enhancer_rule_query_success", "1 if the rule's last query succeeded.", labels=["rule"]
        )
        targets = GaugeMetricFamily(
            "inventory_enhancer_rule_targets",
            "Targets of the rule by state (waiting_baseline: history too short to act).",
            labels=["rule", "state"],
        )
        backoff = GaugeMetricFamily(
            "inventory_enhancer_rule_backoff",
            "1 while the rule's cooldown is raised because its actions did not help.",
            labels=["rule"],
        )
        for rule in engine.config.rules:
            view = engine.views[rule.name]
            for outcome in OUTCOMES:
                actions.add_metric([rule.name, outcome], engine.outcomes[(rule.name, outcome)])
            if view.baseline is not None:
                baseline.add_metric([rule.name], view.baseline)
            remaining = engine.cooldown_remaining(rule, now)
            cooldown.add_metric([rule.name], max(remaining.values(), default=0.0))
            if rule.name in engine.improvements:
                improvement.add_metric([rule.name], engine.improvements[rule.name])
            estimate = engine.effects.get(rule.name)
            if rule.verify is not None and estimate is not None:
                if estimate.effect is not None and estimate.lower is not None and estimate.upper is not None:
                    effect.add_metric([rule.name], estimate.effect)
                    effect_lower.add_metric([rule.name], estimate.lower)
                    effect_upper.add_metric([rule.name], estimate.upper)
                effect_actions.add_metric([rule.name], estimate.actions)
                effect_controls.add_metric([rule.name], estimate.controls)
            if rule.verify is not None:
                tally = engine.tallies[rule.name]
                for group in ("acted", "held_out") if rule.verify.holdout > 0 else ("acted",):
                    verified.add_metric([rule.name, group], tally.count.get(group, 0))
                    verified_effect.add_metric([rule.name, group, "better"], tally.better.get(group, 0.0))
                    verified_effect.add_metric([rule.name, group, "worse"], tally.worse.get(group, 0.0))
                    verified_squares.add_metric([rule.name, group], tally.squares.get(group, 0.0))
            if view.evaluated_at is not None:
                query_ok.add_metric([rule.name], 0.0 if view.error else 1.0)
            for state in TargetState:
                targets.add_metric([rule.name, state], sum(1 for t in view.targets if t.state == state))
            backoff.add_metric([rule.name], 1.0 if view.backing_off else 0.0)
        yield from (actions, baseline, cooldown, improvement, query_ok, targets, backoff)
        yield from (effect, effect_lower, effect_upper, effect_actions, effect_controls)
        yield from (verified, verified_effect, verified_squares)

        cycle = engine.last_cycle
        if cycle is not None:
            duration = GaugeMetricFamily(
                "inventory_enhancer_poll_duration_seconds", "Wall time of the last poll cycle."
            )
            duration.add_metric([], cycle.wall_seconds)
            yield duration
            last = GaugeMetricFamily(
                "inventory_enhancer_last_poll_timestamp_seconds", "Evaluation time of the last poll cycle."
            )
            last.add_metric([], cycle.at)
            yield last


def build_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EnhancerCollector(engine))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
