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
from enhancer.engine import Engine
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
            "Signal change after the rule's last verified action; > 0 is better.",
            labels=["rule"],
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
            if view.evaluated_at is not None:
                query_ok.add_metric([rule.name], 0.0 if view.error else 1.0)
            for state in TargetState:
                targets.add_metric([rule.name, state], sum(1 for t in view.targets if t.state == state))
            backoff.add_metric([rule.name], 1.0 if view.backing_off else 0.0)
        yield from (actions, baseline, cooldown, improvement, query_ok, targets, backoff)

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
