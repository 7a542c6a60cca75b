"""The exporter's HTTP endpoints: /metrics, /-/healthy, /-/ready, /, /api/v1/<view>."""

from __future__ import annotations

import html
import time

from aiohttp import web

from exporter import __version__
from exporter.runner import Runner
from servicekit.server import DEFAULT_TELEMETRY_PATH
from servicekit.snapshot import Format, metrics_response
from servicekit.webconfig import WebConfig

RUNNER_KEY = web.AppKey("runner", Runner)
TELEMETRY_PATH_KEY = web.AppKey("telemetry_path", str)
# Paths the exporter serves besides the metrics; --web.telemetry-path may not take one.
RESERVED_PATHS = frozenset({"/", "/-/healthy", "/-/ready"})

# Views served as JSON under /api/v1/<name>; collectors provide them through
# api_views(). Each view's items may be filtered by equality on these keys.
API_VIEWS = {
    "mismatches": ("integration", "location"),
    "recommendations": ("location", "sku"),
}
_MAX_LIMIT = 10000


async def metrics(request: web.Request) -> web.Response:
    # pre-rendered by the runner: a scrape only picks bytes
    fmt = Format.negotiate(request.headers)
    return metrics_response(request.app[RUNNER_KEY].snapshot.body(fmt), fmt)


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    if runner.ready.is_set():
        return web.Response(text="Ready.\n")
    not_started, waiting = runner.pending()
    steps = (("start of", not_started), ("first run of", waiting))
    reasons = [f"{what} {', '.join(names)}" for what, names in steps if names]
    return web.Response(status=503, text=f"Not ready: waiting for {'; '.join(reasons) or 'the first snapshot'}.\n")


async def api_view(request: web.Request) -> web.Response:
    name = request.match_info["view"]
    if name not in API_VIEWS:
        raise web.HTTPNotFound(text=f"unknown view {name!r}\n")
    filters = API_VIEWS[name]
    unknown = sorted(set(request.query) - set(filters) - {"limit"})
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(filters)}, limit\n")
    limit_text = request.query.get("limit", str(_MAX_LIMIT))
    if not limit_text.isdigit() or not 0 < int(limit_text) <= _MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"limit must be an integer from 1 to {_MAX_LIMIT}\n")
    data = request.app[RUNNER_KEY].api_view(name)
    if data is None:
        raise web.HTTPServiceUnavailable(text=f"no collector has produced {name!r} yet\n")
    for key in filters:
        if key in request.query:
            data = [item for item in data if str(item.get(key)) == request.query[key]]
    return web.json_response({"status": "success", "data": data[: int(limit_text)]})


def _age(seconds_ago: float) -> str:
    return f"{seconds_ago:.0f}s ago" if seconds_ago < 120 else f"{seconds_ago / 60:.0f}m ago"


async def landing(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    now = time.time()
    rows = []
    for name, state in runner.states.items():
        if not state.runs:
            status, when = "pending", "never"
        else:
            status = "ok" if state.success else "failed"
            when = _age(now - state.last_run_timestamp)
        rows.append(
            f"<tr class='{status}'><td>{html.escape(name)}</td><td>{status}</td>"
            f"<td>{state.duration_seconds:.3f}s</td><td>{when}</td>"
            f"<td>{html.escape(state.last_error)}</td></tr>"
        )
    # Statements failing alone inside a collector that still runs (business: a missing table).
    failing = [
        f"<tr class='failed'><td>{html.escape(c.name)}</td><td>{html.escape(query)}</td>"
        f"<td>{html.escape(error)}</td></tr>"
        for c in runner.collectors
        for query, error in sorted(c.failing_statements().items())
    ]
    statements = (
        (
            "<h2>Failing statements</h2>\n<table><tr><th>collector</th><th>query</th><th>error</th></tr>"
            f"{''.join(failing)}</table>"
        )
        if failing
        else ""
    )
    telemetry_path = html.escape(request.app[TELEMETRY_PATH_KEY])
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>inventory-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
.failed{{color:#b00}}.pending{{color:#888}}</style></head>
<body><h1>inventory-exporter {html.escape(__version__)}</h1>
<p><a href="{telemetry_path}">Metrics</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a>
 · <a href="/api/v1/mismatches">Mismatches</a> · <a href="/api/v1/recommendations">Recommendations</a></p>
<h2>Collectors</h2>
<table><tr><th>collector</th><th>status</th><th>duration</th><th>last run</th><th>last error</th></tr>
{"".join(rows)}
</table>
{statements}</body></html>
"""
    return web.Response(text=page, content_type="text/html")


def build_app(
    runner: Runner, web_config: WebConfig | None = None, telemetry_path: str = DEFAULT_TELEMETRY_PATH
) -> web.Application:
    app = web.Application(middlewares=[web_config.middleware()] if web_config else [])
    app[RUNNER_KEY] = runner
    app[TELEMETRY_PATH_KEY] = telemetry_path
    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/api/v1/{view}", api_view)
    app.router.add_get("/", landing)
    return app
