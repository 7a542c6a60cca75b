"""What every fake integration server shares: remote stock, switches, faults, control API.

Remote stock is a dict (sku, remote location) -> (on_hand, reserved), loaded from the
demo's SQLite database (stock_levels of the mapped locations, re-read when a listing
starts so the fake follows the simulator) or set by a test. Tests and the demo flip
switches through the control API:

    POST /_control {"latency": 0.2, "error": "500", "error_count": 2, "error_after": 0,
                    "drift": {"SKU-1@gid://shopify/Location/1001": -3}, "page_size": 5,
                    "throttle": {...kind-specific...}, "extra_rows": [{"sku", "location", "quantity"}],
                    "retry_after": 1, "stock": {"SKU@loc": [on_hand, reserved]}, "reset": true,
                    "vendor": {...kind-specific switches...}}
    GET  /_control  -> {"requests": n, "throttle_violations": n, "faults_served": n, ...}

`error` is one of 500, 503, garbage, truncated, hang, 401, 403, 429; it is served in the
vendor's own error shape (each fake's `error_response`) on every vendor request after
the first `error_after` ones, `error_count` times (null: until cleared with
{"error": null}).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger("demo.fakes")

FAULTS = ("500", "503", "garbage", "truncated", "hang", "401", "403", "429")
CONTROL_KEYS = {
    "latency",
    "error",
    "error_count",
    "error_after",
    "drift",
    "page_size",
    "throttle",
    "extra_rows",
    "retry_after",
    "stock",
    "reset",
    "token",
    "vendor",
}
# How often a listing may re-read the database (the demo DB changes every few seconds).
_RELOAD_SECONDS = 1.0


@dataclass
class Switches:
    latency: float = 0.0
    error: str | None = None
    error_count: int | None = None
    error_after: int = 0
    drift: dict[str, float] = field(default_factory=dict)
    page_size: int | None = None
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    retry_after: float = 1.0


@dataclass
class StockRow:
    sku: Any
    location: str
    on_hand: Any
    reserved: Any = 0

    @property
    def available(self) -> Any:
        try:
            return self.on_hand - self.reserved
        except TypeError:
            return self.on_hand  # a raw bad value from extra_rows goes out as is


class FakeState:
    """Remote stock, switches and counters of one fake server."""

    def __init__(
        self,
        kind: str,
        token: str,
        location_map: dict[str, str],
        stock: dict[tuple[str, str], tuple[float, float]] | None = None,
        db_path: str | None = None,
    ):
        self.kind = kind
        self.token = token
        self.initial_token = token
        self.location_map = dict(location_map)  # remote id -> database id
        self.db_path = db_path
        self.stock: dict[tuple[str, str], tuple[float, float]] = dict(stock or {})
        self.initial_stock = dict(self.stock)
        self.switches = Switches()
        self.requests = 0
        self.vendor_requests = 0
        self.throttle_violations = 0
        self.faults_served = 0
        self.requests_by_path: dict[str, int] = {}
        # The last vendor requests as they arrived, for tests that measure waits between
        # retries or check headers: {at (time.monotonic()), method, path, headers, status, bytes}.
        self.request_log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.release = asyncio.Event()
        self.cache: dict[str, Any] = {}
        self._loaded_at = 0.0
        # Kind-specific throttle settings and state; each fake interprets them.
        self.throttle: dict[str, Any] = {}
        # Other kind-specific switches (merged like throttle); each fake documents its own.
        self.vendor: dict[str, Any] = {}
        if db_path:
            self.reload(force=True)

    # --- stock -----------------------------------------------------------------
    def reload(self, force: bool = False) -> None:
        """Re-read stock_levels of the mapped locations from the demo database."""
        if not self.db_path or (not force and time.monotonic() - self._loaded_at < _RELOAD_SECONDS):
            return
        remote_of = {db: remote for remote, db in self.location_map.items()}
        marks = ",".join("?" for _ in remote_of)
        try:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
            try:
                rows = conn.execute(
                    f"SELECT sku, location_id, on_hand, COALESCE(reserved, 0) FROM stock_levels "
                    f"WHERE location_id IN ({marks})",
                    tuple(remote_of),
                ).fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("cannot read %s: %s (keeping the previous stock)", self.db_path, exc)
            return
        self.stock = {(str(sku), remote_of[loc]): (on_hand, reserved) for sku, loc, on_hand, reserved in rows}
        self.cache.clear()
        self._loaded_at = time.monotonic()

    def stock_rows(self) -> list[StockRow]:
        """Remote stock as the vendor would list it: sorted by SKU and location, drift applied."""
        stock = dict(self.stock)
        for key, delta in self.switches.drift.items():
            sku, _, location = key.rpartition("@")
            on_hand, reserved = stock.get((sku, location), (0, 0))
            stock[(sku, location)] = (on_hand + delta, reserved)
        return [StockRow(sku, loc, on_hand, reserved) for (sku, loc), (on_hand, reserved) in sorted(stock.items())]

    def extra_rows(self) -> list[StockRow]:
        """Dirty rows a test asked for (duplicates, unknown SKUs or locations, bad quantities)."""
        return [
            StockRow(extra.get("sku"), str(extra.get("location")), extra.get("quantity"), extra.get("reserved", 0))
            for extra in self.switches.extra_rows
        ]

    def rows(self) -> list[StockRow]:
        return self.stock_rows() + self.extra_rows()

    def cached(self, name: str, build: Callable[[], Any], fresh: bool = False) -> Any:
        """A listing derived from the stock, rebuilt when a listing starts or a switch changes."""
        if fresh or name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]

    def page_size(self, requested: int) -> int:
        return min(requested, self.switches.page_size) if self.switches.page_size else requested

    # --- control ---------------------------------------------------------------
    def control(self, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - CONTROL_KEYS)
        if unknown:
            raise ValueError(f"unknown switch {unknown[0]!r}; known: {', '.join(sorted(CONTROL_KEYS))}")
        self.cache.clear()
        if body.get("reset"):
            self.switches = Switches()
            self.stock = dict(self.initial_stock)
            self.token = self.initial_token
            self.requests = self.vendor_requests = self.throttle_violations = self.faults_served = 0
            self.requests_by_path.clear()
            self.request_log.clear()
            self.throttle = {}
            self.vendor = {}
            self.release.set()
            self.release = asyncio.Event()
            if self.db_path:
                self.reload(force=True)
        s = self.switches
        if "latency" in body:
            s.latency = float(body["latency"] or 0)
        if "error" in body:
            error = body["error"]
            if error is not None and str(error) not in FAULTS:
                raise ValueError(f"unknown error {error!r}; known: {', '.join(FAULTS)}")
            s.error = None if error is None else str(error)
            if error is None:
                self.release.set()
                self.release = asyncio.Event()
        if "error_count" in body:
            s.error_count = None if body["error_count"] is None else int(body["error_count"])
        if "error_after" in body:
            s.error_after = self.vendor_requests + int(body["error_after"] or 0)
        elif "error" in body:
            s.error_after = self.vendor_requests
        if "drift" in body:
            s.drift = {str(k): float(v) for k, v in (body["drift"] or {}).items()}
        if "page_size" in body:
            s.page_size = None if body["page_size"] is None else max(1, int(body["page_size"]))
        if "extra_rows" in body:
            s.extra_rows = list(body["extra_rows"] or [])
        if "retry_after" in body:
            s.retry_after = float(body["retry_after"])
        if "throttle" in body:
            self.throttle.update(body["throttle"] or {})
        if "vendor" in body:
            if not isinstance(body["vendor"] or {}, dict):
                raise ValueError("vendor: expected an object of kind-specific switches")
            self.vendor.update(body["vendor"] or {})
        if "stock" in body:
            stock = {}
            for key, value in (body["stock"] or {}).items():
                sku, _, location = key.rpartition("@")
                on_hand, reserved = value if isinstance(value, list) else (value, 0)
                stock[(sku, location)] = (on_hand, reserved)
            self.stock = stock
            self.db_path = None  # a test's stock is not overwritten by a reload
        if "token" in body:
            self.token = str(body["token"])

    def status(self) -> dict[str, Any]:
        s = self.switches
        return {
            "kind": self.kind,
            "requests": self.requests,
            "vendor_requests": self.vendor_requests,
            "throttle_violations": self.throttle_violations,
            "faults_served": self.faults_served,
            "requests_by_path": dict(self.requests_by_path),
            "rows": len(self.stock),
            "location_map": self.location_map,
            "switches": {
                "latency": s.latency,
                "error": s.error,
                "error_count": s.error_count,
                "drift": s.drift,
                "page_size": s.page_size,
                "extra_rows": s.extra_rows,
                "retry_after": s.retry_after,
            },
            "throttle": {k: v for k, v in self.throttle.items() if not k.startswith("_")},
            "vendor": dict(self.vendor),
        }

    def take_fault(self) -> str | None:
        s = self.switches
        if s.error is None or self.vendor_requests <= s.error_after:
            return None
        fault = s.error
        self.faults_served += 1
        if s.error_count is not None:
            s.error_count -= 1
            if s.error_count <= 0:
                s.error, s.error_count = None, None
        return fault


ErrorResponder = Callable[[FakeState, str, web.Request], web.StreamResponse]

STATE_KEY = web.AppKey("fake_state", FakeState)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers)


async def _control(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "GET":
        return json_response(state.status())
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object of switches")
        state.control(body)
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response(state.status())


def build_fake_app(state: FakeState, routes: list[web.RouteDef], error_response: ErrorResponder) -> web.Application:
    """An aiohttp app with the vendor routes, the fault middleware and /_control."""

    @web.middleware
    async def faults(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        state.requests += 1
        if request.path == "/_control":
            return await handler(request)
        state.vendor_requests += 1
        state.requests_by_path[request.path] = state.requests_by_path.get(request.path, 0) + 1
        logged: dict[str, Any] = {"at": time.monotonic(), "method": request.method, "path": request.path}
        logged.update(headers=dict(request.headers), status=None, bytes=None)
        state.request_log.append(logged)
        if state.switches.latency:
            await asyncio.sleep(state.switches.latency)
        fault = state.take_fault()
        if fault == "hang":
            release = state.release
            try:
                await asyncio.wait_for(release.wait(), timeout=300)
            except TimeoutError:
                pass
            return web.Response(status=504, text="released")
        if fault == "garbage":
            return web.Response(
                body=b'<html><body>502 Bad Gateway</body></html>{"data":', status=200, content_type="application/json"
            )
        if fault == "truncated":
            return await _truncated(request, await handler(request))
        if fault is not None:
            return _logged(logged, error_response(state, fault, request))
        return _logged(logged, await handler(request))

    app = web.Application(middlewares=[faults])
    app[STATE_KEY] = state
    app.router.add_routes(routes)
    app.router.add_route("GET", "/_control", _control)
    app.router.add_route("POST", "/_control", _control)

    async def release_hangs(app: web.Application) -> None:
        state.release.set()

    app.on_shutdown.append(release_hangs)
    return app


def _logged(entry: dict[str, Any], response: web.StreamResponse) -> web.StreamResponse:
    """Note the answer's status and size in the request log entry."""
    entry["status"] = response.status
    body = getattr(response, "body", None)
    entry["bytes"] = len(body) if isinstance(body, bytes) else None
    return response


async def _truncated(request: web.Request, full: web.StreamResponse) -> web.StreamResponse:
    """Announce the whole body, send half of it, and drop the connection."""
    body = getattr(full, "body", None) or b'{"data": {"padding": "' + b"x" * 200 + b'"}}'
    if not isinstance(body, bytes):
        body = bytes(body)
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    if request.transport is not None:
        request.transport.close()
    return response


def parse_location_map(text: str | None, default: dict[str, str]) -> dict[str, str]:
    """'remote=db,remote=db' -> {remote: db}; the kind's default when not given."""
    if not text:
        return dict(default)
    mapping = {}
    for part in text.split(","):
        remote, sep, local = part.rpartition("=")
        if not sep or not remote or not local:
            raise SystemExit(f"--location-map: expected remote=database pairs, got {part!r}")
        mapping[remote] = local
    return mapping


def main(
    kind: str,
    build_app: Callable[[FakeState], web.Application],
    default_map: dict[str, str],
    default_token: str,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m demo.fakes.{kind}", description=f"Fake {kind} API for the inventory-monitor demo and tests."
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", help="demo SQLite database to take the remote stock from (stock_levels)")
    parser.add_argument(
        "--location-map",
        help=f"remote=database location pairs, comma-separated "
        f"(default {','.join(f'{k}={v}' for k, v in default_map.items())})",
    )
    parser.add_argument("--token", default=default_token, help="the credential the fake accepts (default: the demo's)")
    args = parser.parse_args(argv)
    if args.db and not Path(args.db).exists():
        raise SystemExit(f"--db {args.db}: no such file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def make_app() -> web.Application:
        state = FakeState(kind, args.token, parse_location_map(args.location_map, default_map), db_path=args.db)
        log.info("fake %s: %d SKU-locations, locations %s", kind, len(state.stock), state.location_map)
        return build_app(state)

    web.run_app(
        make_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        shutdown_timeout=2,
        handler_cancellation=True,
        print=None,
    )
