"""HTTP interface: /metrics, the read-only JSON API, health and readiness."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web
from prometheus_client import CollectorRegistry

from enhancer.engine import Engine
from servicekit.prometheus import target_key
from servicekit.snapshot import Format, encode, metrics_response

MAX_PAGE = 500


def build_app(engine: Engine, registry: CollectorRegistry) -> web.Application:
    app = web.Application()

    async def metrics(request: web.Request) -> web.Response:
        # Rendered per scrape: the families are read here, in the loop, as one consistent
        # view of the engine (cooldowns left, maintenance, leadership are as of now); only
        # the body asked for is encoded and gzipped, in a worker thread.
        fmt = Format.negotiate(request.headers)
        families = list(registry.collect())
        return metrics_response(await asyncio.to_thread(encode, families, fmt), fmt)

    async def rules(_request: web.Request) -> web.Response:
        now = engine.clock()
        data = []
        for rule in engine.config.rules:
            view = engine.views[rule.name]
            cooldowns = engine.cooldown_remaining(rule, now)
            data.append(
                {
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
                    "cooldown_remaining_seconds": max(cooldowns.values(), default=0.0),
                    "targets": [
                        {
                            "labels": target.labels,
                            "value": _number(target.value),
                            "state": target.state,
                            "reason": target.reason,
                            "pending_since": target.pending_since,
                            "baseline": None
                            if target.baseline is None
                            else {
                                "median": _number(target.baseline.center),
                                "deviation": _number(target.baseline.deviation),
                                "samples": target.baseline.samples,
                                "trusted": target.baseline.trusted,
                            },
                            "cooldown_remaining_seconds": cooldowns.get(target_key(target.labels), 0.0),
                        }
                        for target in view.targets
                    ],
                }
            )
        # the window in force, if any: while it lasts nothing is sent
        return web.json_response({"status": "success", "data": data, "maintenance": engine.maintenance_window()})

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

    async def healthy(_request: web.Request) -> web.Response:
        return web.Response(text="Healthy.\n")

    async def ready(_request: web.Request) -> web.Response:
        if engine.last_cycle is None:
            return web.Response(status=503, text="Not ready: no poll cycle has completed yet.\n")
        return web.Response(text="Ready.\n")

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/rules", rules)
    app.router.add_get("/api/v1/actions", actions)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    return app


def _number(value: float | None) -> float | None:
    # JSON has no NaN
    return None if value is None or not math.isfinite(value) else value
