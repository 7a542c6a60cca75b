"""HTTP interface: /metrics, the read-only JSON API, health and readiness."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from enhancer.baselines import Baseline
from enhancer.config import RuleConfig
from enhancer.engine import Engine, TargetView
from servicekit.prometheus import target_key
from servicekit.server import DEFAULT_TELEMETRY_PATH
from servicekit.snapshot import Format, encode, metrics_response

MAX_PAGE = 500


Handler = Callable[[web.Request], Awaitable[web.Response]]


# Paths the enhancer serves besides its metrics; --web.telemetry-path may not take one.
RESERVED_PATHS = frozenset({"/-/healthy", "/-/ready", "/api/v1/rules", "/api/v1/actions", "/api/v1/status"})


def build_app(
    engine: Engine, registry: CollectorRegistry, telemetry_path: str = DEFAULT_TELEMETRY_PATH
) -> web.Application:
    app = web.Application()
    app.router.add_get(telemetry_path, _metrics(registry))
    app.router.add_get("/api/v1/rules", _rules(engine))
    app.router.add_get("/api/v1/actions", _actions(engine))
    app.router.add_get("/api/v1/status", _status(engine))
    app.router.add_get("/-/healthy", _healthy)
    app.router.add_get("/-/ready", _ready(engine))
    return app


def _metrics(registry: CollectorRegistry) -> Handler:
    async def metrics(request: web.Request) -> web.Response:
        # Rendered per scrape: the families are read here, in the loop, as one consistent
        # view of the engine (cooldowns left, maintenance, leadership are as of now); only
        # the body asked for is encoded and gzipped, in a worker thread.
        fmt = Format.negotiate(request.headers)
        families = list(registry.collect())
        return metrics_response(await asyncio.to_thread(encode, families, fmt), fmt)

    return metrics


def _rules(engine: Engine) -> Handler:
    async def rules(_request: web.Request) -> web.Response:
        now = engine.clock()
        data = [_rule_json(engine, rule, now) for rule in engine.config.rules]
        # the window in force, if any: while it lasts nothing is sent
        return web.json_response({"status": "success", "data": data, "maintenance": engine.maintenance_window()})

    return rules


def _rule_json(engine: Engine, rule: RuleConfig, now: float) -> dict[str, object]:
    view = engine.views[rule.name]
    cooldowns = engine.cooldown_remaining(rule, now)
    return {
        "name": rule.name,
        "description": rule.description,
        "query": rule.query,
        "priority": rule.priority,
        "exclusive_group": rule.exclusive_group,
        "dry_run": engine.dry_run(rule),
        "cooldown_seconds": rule.cooldown,
        "backing_off": view.backing_off,
        "evaluated_at": view.evaluated_at,
        "error": view.error,
        "baseline": _number(view.baseline),
        "improvement_ratio": _number(engine.improvements.get(rule.name)),
        "effect": _effect_json(engine, rule),
        "cooldown_remaining_seconds": max(cooldowns.values(), default=0.0),
        "targets": [_target_json(target, cooldowns) for target in view.targets],
    }


def _effect_json(engine: Engine, rule: RuleConfig) -> dict[str, object] | None:
    """The rule's effect estimate; null for a rule without verify. Its `effect`, `lower` and
    `upper` are null, and `note` says why, until there is enough data."""
    estimate = engine.effects.get(rule.name)
    if rule.verify is None or estimate is None:
        return None
    data = estimate.as_json()
    for key in ("effect", "lower", "upper"):
        value = data[key]
        data[key] = _number(value) if isinstance(value, float) else None
    data["holdout"] = rule.verify.holdout
    data["better"] = rule.verify.better
    return data


def _target_json(target: TargetView, cooldowns: dict[str, float]) -> dict[str, object]:
    return {
        "labels": target.labels,
        "value": _number(target.value),
        "state": target.state,
        "reason": target.reason,
        "pending_since": target.pending_since,
        "baseline": _baseline_json(target.baseline),
        "cooldown_remaining_seconds": cooldowns.get(target_key(target.labels), 0.0),
    }


def _baseline_json(baseline: Baseline | None) -> dict[str, object] | None:
    if baseline is None:
        return None
    return {
        "median": _number(baseline.center),
        "deviation": _number(baseline.deviation),
        "samples": baseline.samples,
        "trusted": baseline.trusted,
    }


def _actions(engine: Engine) -> Handler:
    async def actions(request: web.Request) -> web.Response:
        try:
            limit = min(max(int(request.query.get("limit", "50")), 1), MAX_PAGE)
            before = int(request.query["before"]) if "before" in request.query else None
        except ValueError:
            return web.json_response({"status": "error", "error": "limit and before must be integers"}, status=400)
        rows = engine.store.list_actions(
            limit=limit, before=before, rule=request.query.get("rule"), outcome=request.query.get("outcome")
        )
        data = [row.as_json() for row in rows]
        next_before = rows[-1].seq if len(rows) == limit else None
        return web.json_response({"status": "success", "data": data, "next_before": next_before})

    return actions


async def _healthy(_request: web.Request) -> web.Response:
    # Liveness: the process and its event loop answer. Never Prometheus, the database or
    # leadership: restarting an enhancer because one of those is away helps nothing.
    return web.Response(text="Healthy.\n")


def _ready(engine: Engine) -> Handler:
    """Readiness: serving, the state open (before the server starts), the lease tried and the
    first poll cycle started. A standby is ready: it serves its metrics and API, and a
    Service or a rollout must not wait for it to lead. Prometheus being down does not make
    the enhancer unready either (inventory_enhancer_prometheus_up says so)."""

    async def ready(_request: web.Request) -> web.Response:
        pending = engine.pending()
        if pending:
            detail = "; ".join(f"{check}: {why}" for check, why in pending.items())
            return web.Response(status=503, text=f"Not ready: {detail}.\n")
        return web.Response(text=f"Ready ({engine.role}).\n")

    return ready


def _status(engine: Engine) -> Handler:
    async def status(_request: web.Request) -> web.Response:
        pending = engine.pending()
        lease = engine.lease
        cycle = engine.last_cycle
        data: dict[str, object] = {
            "ready": not pending,
            "pending": pending,
            "role": engine.role,
            "first_poll_started_at": engine.first_poll_started_at,
            "last_poll_at": cycle.at if cycle is not None else None,
            "prometheus_up": engine.prometheus_up,
            "lease": None
            if lease is None
            else {
                "holder": lease.holder,
                "leader": lease.is_leader,
                "token": lease.token,
                "current_holder": lease.known_holder,
                "current_token": lease.known_token,
                "ttl_seconds": lease.ttl,
                "acquisitions": lease.acquisitions,
            },
        }
        return web.json_response({"status": "success", "data": data})

    return status


def _number(value: float | None) -> float | None:
    # JSON has no NaN
    return None if value is None or not math.isfinite(value) else value
