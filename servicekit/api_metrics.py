"""Request metrics for any aiohttp inventory API: one middleware and one /metrics handler.

    from servicekit.api_metrics import instrument
    app = web.Application()
    ...add routes...
    instrument(app)          # adds the middleware and GET /metrics

Series (docs/metrics.md, job "inventory-api"):
  inventory_api_requests_total{handler,method,code}
  inventory_api_request_duration_seconds{handler,method}   histogram
  inventory_api_requests_in_flight{handler}

`handler` is the matched route's canonical path (`/products/{sku}`), never the raw
path, so a crawler requesting a million SKUs adds no series; requests that match no
route count as handler="other", and methods outside the standard set as method="other".
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_HANDLER = "other"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

API_METRICS_KEY = web.AppKey("api_metrics", object)


def handler_name(request: web.Request) -> str:
    """The route template that matched, or "other"; computed after routing."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None:  # 404/405 system routes have no resource
        return UNMATCHED_HANDLER
    return resource.canonical


class ApiMetrics:
    """The three metric families and the middleware that feeds them.

    A private registry by default, so two instrumented apps in one process (tests)
    never clash, and /metrics shows only the API's series plus what the caller adds.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "inventory_api_requests",
            "Requests answered by the inventory API, by route template, method and status code.",
            ["handler", "method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "inventory_api_request_duration_seconds",
            "Time from the request reaching the API to its response, by route template and method.",
            ["handler", "method"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inventory_api_requests_in_flight",
            "Requests being handled right now, by route template.",
            ["handler"],
            registry=self.registry,
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = handler_name(request)
        method = request.method if request.method in _KNOWN_METHODS else "other"
        in_flight = self.in_flight.labels(name)
        in_flight.inc()
        started = time.perf_counter()
        code = 500
        try:
            response: web.StreamResponse = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:  # raised responses (404, 503...) are answers, not crashes
            code = exc.status
            raise
        except BaseException:
            # Unhandled errors become 500 in aiohttp; a cancelled request (client went away)
            # is counted as 500 too, since the server did not answer it.
            code = 500
            raise
        finally:
            self.duration.labels(name, method).observe(time.perf_counter() - started)
            self.requests.labels(name, method, str(code)).inc()
            in_flight.dec()

    async def metrics_handler(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})


def instrument(
    app: web.Application, registry: CollectorRegistry | None = None, metrics_path: str | None = "/metrics"
) -> ApiMetrics:
    """Add the middleware to `app` and (unless metrics_path is None) a GET handler for /metrics.

    Call before the app starts. Pass `registry=prometheus_client.REGISTRY` to expose the
    process_* and python_* metrics of the default registry as well.
    """
    metrics = ApiMetrics(registry)
    # Outermost, so the timing and the status code cover the app's other middlewares too.
    app.middlewares.insert(0, metrics.middleware)
    if metrics_path:
        app.router.add_get(metrics_path, metrics.metrics_handler)
    app[API_METRICS_KEY] = metrics
    return metrics
