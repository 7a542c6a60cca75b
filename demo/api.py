"""The demo inventory API: an aiohttp service over the demo SQLite database.

    python -m demo.api --db .demo/inventory.db [--port 8080] [--exporter-url http://127.0.0.1:9877]

Business endpoints (what a shop's systems would call):
  GET  /health                   200 {"status": "ok"} or 503 while the workers are failing
  GET  /products?category=&limit=&offset=
  GET  /products/{sku}           the product with its stock per location
  GET  /stock?location=&low=1&max_available=N&limit=
  POST /orders                   {"channel", "location"?, "lines": [{"sku", "quantity"}], "hold"?}
                                 201 {"id", "status", "lines": [{"sku", "quantity", "allocated",
                                 "available", "reorder_point"}]}: each line's stock after the order
  GET  /orders/{id}
  POST /orders/{id}/fulfill      ship an order placed with "hold": true (online picking)
  POST /receipts                 {"location", "sku", "quantity"}
  POST /syncs                    {"integration", "records"?, "conflicts"?, "failed"?}: one sync run

Action webhooks the enhancer calls (docs/enhancer.md), each changing the database or the
API's own behaviour:
  POST /actions/resync, /actions/reconcile, /actions/purchase-orders,
       /actions/cache-warmup, /actions/restart-workers

Fault injection for the simulator and tests:
  POST /_control {"latency": s, "error_ratio": 0..1, "unhealthy": bool, "for": s,
                  "stall": "<integration>", "unstall": "<integration>", "reset": true}
  GET  /_control  the current faults

Instrumented with servicekit.api_metrics: GET /metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from servicekit.api_metrics import instrument

log = logging.getLogger("demo.api")

CHANNELS = ("pos", "online", "wholesale")
SALE_SOURCE = {"pos": "pos", "online": "shopify", "wholesale": "wms"}
DEFAULT_LOCATION = {"online": "online", "wholesale": "wh-main"}
MAX_LIMIT = 10000


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Faults:
    """Injected misbehaviour. Times are loop-monotonic; None means until cleared."""

    latency: float = 0.0
    latency_until: float | None = None
    error_ratio: float = 0.0
    unhealthy: bool = False
    errors_until: float | None = None
    stalled: set[str] = field(default_factory=set)

    def expire(self, now: float) -> None:
        if self.latency_until is not None and now >= self.latency_until:
            self.latency, self.latency_until = 0.0, None
            log.info("fault cleared by itself: latency")
        if self.errors_until is not None and now >= self.errors_until:
            self.error_ratio, self.unhealthy, self.errors_until = 0.0, False, None
            log.info("fault cleared by itself: error burst")

    def view(self, now: float) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "latency_remaining": None if self.latency_until is None else max(0.0, self.latency_until - now),
            "error_ratio": self.error_ratio,
            "unhealthy": self.unhealthy,
            "errors_remaining": None if self.errors_until is None else max(0.0, self.errors_until - now),
            "stalled": sorted(self.stalled),
        }


class Inventory:
    """The database side: every write is one short IMMEDIATE transaction with its audit rows.

    Queries are indexed point lookups or bounded lists, so they run on the event loop;
    WAL mode lets the exporter and the fakes read meanwhile.
    """

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self._order_seq = self._max_seq("orders", "id", "ORD-")
        self._po_seq = self._max_seq("purchase_orders", "id", "PO-")

    def _max_seq(self, table: str, column: str, prefix: str) -> int:
        row = self.conn.execute(
            f"SELECT MAX(CAST(SUBSTR({column}, {len(prefix) + 1}) AS INTEGER)) FROM {table} WHERE {column} LIKE ?",
            (prefix + "%",),
        ).fetchone()
        return int(row[0] or 0)

    def next_order_id(self) -> str:
        self._order_seq += 1
        return f"ORD-{self._order_seq:07d}"

    def next_po_id(self) -> str:
        self._po_seq += 1
        return f"PO-{self._po_seq:06d}"

    def close(self) -> None:
        self.conn.close()

    def transaction(self):
        return _Transaction(self.conn)

    def movement(self, sku: str, location: str, quantity: int, kind: str, source: str, actor: str, now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO stock_movements (sku, location_id, quantity, kind, source, occurred_at) VALUES (?,?,?,?,?,?)",
            (sku, location, quantity, kind, source, now),
        )
        movement_id = cur.lastrowid
        self.conn.execute(
            "INSERT INTO audit_log (movement_id, actor, action, recorded_at) VALUES (?,?,?,?)",
            (movement_id, actor, f"movement.{kind}", now),
        )
        return movement_id

    def stock_row(self, sku: str, location: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM stock_levels WHERE sku = ? AND location_id = ?", (sku, location)
        ).fetchone()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


INVENTORY_KEY = web.AppKey("inventory", Inventory)
FAULTS_KEY = web.AppKey("faults", Faults)
SETTINGS_KEY = web.AppKey("settings", dict)
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)
RANDOM_KEY = web.AppKey("random", random.Random)


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad("body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _int_param(request: web.Request, name: str, default: int, low: int = 0, high: int = MAX_LIMIT) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _bad(f"{name} must be between {low} and {high}")
    return value


# --- faults --------------------------------------------------------------------------

_UNFAULTED_PREFIXES = ("/metrics", "/_control", "/actions/")


@web.middleware
async def fault_middleware(request: web.Request, handler):
    """Injected latency and 5xx errors; monitoring, control and actions stay unaffected."""
    if request.path.startswith(_UNFAULTED_PREFIXES):
        return await handler(request)
    faults = request.app[FAULTS_KEY]
    faults.expire(asyncio.get_running_loop().time())
    if faults.latency > 0:
        await asyncio.sleep(faults.latency)
    if request.path != "/health" and faults.error_ratio > 0 and request.app[RANDOM_KEY].random() < faults.error_ratio:
        raise web.HTTPInternalServerError(
            text=json.dumps({"error": "worker crashed (injected fault)"}), content_type="application/json"
        )
    return await handler(request)


async def control_get(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS_KEY].view(asyncio.get_running_loop().time()))


async def control_post(request: web.Request) -> web.Response:
    body = await _json_body(request)
    faults = request.app[FAULTS_KEY]
    now = asyncio.get_running_loop().time()
    duration = body.get("for")
    if duration is not None and (not isinstance(duration, (int, float)) or duration <= 0):
        raise _bad("for must be a positive number of seconds")
    until = None if duration is None else now + float(duration)
    if body.get("reset"):
        faults.latency, faults.latency_until = 0.0, None
        faults.error_ratio, faults.unhealthy, faults.errors_until = 0.0, False, None
        faults.stalled.clear()
    if "latency" in body:
        latency = body["latency"]
        if not isinstance(latency, (int, float)) or not 0 <= latency <= 30:
            raise _bad("latency must be seconds between 0 and 30")
        faults.latency, faults.latency_until = float(latency), until if latency else None
    if "error_ratio" in body or "unhealthy" in body:
        ratio = body.get("error_ratio", faults.error_ratio)
        if not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise _bad("error_ratio must be between 0 and 1")
        faults.error_ratio = float(ratio)
        faults.unhealthy = bool(body.get("unhealthy", faults.unhealthy))
        faults.errors_until = until if (faults.error_ratio or faults.unhealthy) else None
    for key, change in (("stall", faults.stalled.add), ("unstall", faults.stalled.discard)):
        if key in body:
            if not isinstance(body[key], str) or not body[key]:
                raise _bad(f"{key} must be an integration name")
            change(body[key])
    log.info("faults now %s", json.dumps(faults.view(now)))
    return web.json_response(faults.view(now))


# --- business endpoints --------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    if faults.unhealthy:
        return web.json_response({"status": "failing", "reason": "workers are crashing"}, status=503)
    request.app[INVENTORY_KEY].conn.execute("SELECT 1").fetchone()
    return web.json_response({"status": "ok"})


def _product(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "category": row["category"],
        "unit_cost": float(row["unit_cost"] or 0),
        "currency": row["currency"],
        "active": bool(row["active"]),
    }


def _stock(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "location": row["location_id"],
        "on_hand": row["on_hand"],
        "reserved": row["reserved"],
        "available": row["on_hand"] - row["reserved"],
        "reorder_point": row["reorder_point"],
        "safety_stock": row["safety_stock"],
        "lead_time_days": row["lead_time_days"],
        "updated_at": row["updated_at"],
    }


async def list_products(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 100, 1, 1000)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    sql, params = "SELECT * FROM products", []
    if "category" in request.query:
        sql += " WHERE category = ?"
        params.append(request.query["category"])
    rows = (
        request.app[INVENTORY_KEY]
        .conn.execute(sql + " ORDER BY sku LIMIT ? OFFSET ?", (*params, limit, offset))
        .fetchall()
    )
    return web.json_response({"products": [_product(r) for r in rows], "limit": limit, "offset": offset})


async def get_product(request: web.Request) -> web.Response:
    sku = request.match_info["sku"]
    inventory = request.app[INVENTORY_KEY]
    row = inventory.conn.execute("SELECT * FROM products WHERE sku = ?", (sku,)).fetchone()
    if row is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown SKU {sku!r}"}), content_type="application/json")
    stock = inventory.conn.execute("SELECT * FROM stock_levels WHERE sku = ? ORDER BY location_id", (sku,)).fetchall()
    return web.json_response({**_product(row), "stock": [_stock(s) for s in stock]})


async def list_stock(request: web.Request) -> web.Response:
    location = request.query.get("location")
    if not location:
        raise _bad("location is required")
    limit = _int_param(request, "limit", 1000, 1, MAX_LIMIT)
    sql = "SELECT s.* FROM stock_levels s JOIN products p ON p.sku = s.sku WHERE s.location_id = ? AND p.active = 1"
    params: list[Any] = [location]
    if request.query.get("low") in ("1", "true"):
        sql += " AND s.reorder_point IS NOT NULL AND s.on_hand - s.reserved <= s.reorder_point"
    if "max_available" in request.query:
        sql += " AND s.on_hand - s.reserved <= ?"
        params.append(_int_param(request, "max_available", 0, -(10**9), 10**9))
    if "min_available" in request.query:
        sql += " AND s.on_hand - s.reserved >= ?"
        params.append(_int_param(request, "min_available", 0, -(10**9), 10**9))
    rows = request.app[INVENTORY_KEY].conn.execute(sql + " ORDER BY s.sku LIMIT ?", (*params, limit)).fetchall()
    return web.json_response({"location": location, "stock": [_stock(r) for r in rows]})


def _parse_lines(body: dict[str, Any]) -> list[tuple[str, int]]:
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines or len(lines) > 100:
        raise _bad("lines must be a list of 1 to 100 {sku, quantity}")
    parsed = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str):
            raise _bad(f"lines[{i}].sku must be a string")
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 100000:
            raise _bad(f"lines[{i}].quantity must be a positive integer")
        parsed.append((line["sku"], quantity))
    return parsed


def _order_view(inventory: Inventory, order_id: str) -> dict[str, Any] | None:
    order = inventory.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if order is None:
        return None
    lines = inventory.conn.execute(
        "SELECT sku, quantity, fulfilled_quantity FROM order_lines WHERE order_id = ?", (order_id,)
    ).fetchall()
    return {
        "id": order["id"],
        "channel": order["channel"],
        "location": order["location_id"],
        "status": order["status"],
        "created_at": order["created_at"],
        "promised_at": order["promised_at"],
        "fulfilled_at": order["fulfilled_at"],
        "lines": [
            {"sku": x["sku"], "quantity": x["quantity"], "fulfilled_quantity": x["fulfilled_quantity"]} for x in lines
        ],
    }


async def create_order(request: web.Request) -> web.Response:
    body = await _json_body(request)
    channel = body.get("channel")
    if channel not in CHANNELS:
        raise _bad(f"channel must be one of {', '.join(CHANNELS)}")
    location = body.get("location") or DEFAULT_LOCATION.get(channel)
    if not isinstance(location, str):
        raise _bad("location is required for pos orders")
    lines = _parse_lines(body)
    hold = bool(body.get("hold")) and channel != "pos"
    inventory = request.app[INVENTORY_KEY]
    moment = utcnow()
    now = iso(moment)
    results = []
    with inventory.transaction() as conn:
        for sku, _ in lines:
            if inventory.stock_row(sku, location) is None:
                raise web.HTTPUnprocessableEntity(
                    text=json.dumps({"error": f"SKU {sku!r} is not stocked at {location!r}"}),
                    content_type="application/json",
                )
        order_id = inventory.next_order_id()
        complete = True
        for sku, quantity in lines:
            row = inventory.stock_row(sku, location)
            take = max(0, min(quantity, row["on_hand"] - row["reserved"]))
            complete &= take == quantity
            if hold:
                conn.execute(
                    "UPDATE stock_levels SET reserved = reserved + ?, updated_at = ? WHERE sku = ? AND location_id = ?",
                    (take, now, sku, location),
                )
                fulfilled = 0
            else:
                if take:
                    conn.execute(
                        "UPDATE stock_levels SET on_hand = on_hand - ?, updated_at = ? "
                        "WHERE sku = ? AND location_id = ?",
                        (take, now, sku, location),
                    )
                    inventory.movement(sku, location, -take, "sale", SALE_SOURCE[channel], f"api:{channel}", now)
                fulfilled = take
            conn.execute(
                "INSERT INTO order_lines (order_id, sku, quantity, fulfilled_quantity) VALUES (?,?,?,?)",
                (order_id, sku, quantity, fulfilled),
            )
            results.append(
                {
                    "sku": sku,
                    "quantity": quantity,
                    "allocated": take,
                    "available": row["on_hand"] - row["reserved"] - take,
                    "reorder_point": row["reorder_point"],
                }
            )
        status = ("open" if hold else "fulfilled") if complete else "backordered"
        promised = None if channel == "pos" else iso(moment + timedelta(days=3 if channel == "online" else 7))
        conn.execute(
            "INSERT INTO orders (id, channel, location_id, status, created_at, promised_at, fulfilled_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (order_id, channel, location, status, now, promised, now if status == "fulfilled" else None),
        )
    return web.json_response({"id": order_id, "status": status, "lines": results}, status=201)


async def get_order(request: web.Request) -> web.Response:
    view = _order_view(request.app[INVENTORY_KEY], request.match_info["id"])
    if view is None:
        raise web.HTTPNotFound(text=json.dumps({"error": "unknown order"}), content_type="application/json")
    return web.json_response(view)


async def fulfill_order(request: web.Request) -> web.Response:
    inventory = request.app[INVENTORY_KEY]
    order_id = request.match_info["id"]
    now = iso(utcnow())
    with inventory.transaction() as conn:
        order = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        if order is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "unknown order"}), content_type="application/json")
        if order["status"] != "open":
            raise web.HTTPConflict(
                text=json.dumps({"error": f"order is {order['status']}, not open"}), content_type="application/json"
            )
        location = order["location_id"]
        for line in conn.execute(
            "SELECT rowid, sku, quantity FROM order_lines WHERE order_id = ?", (order_id,)
        ).fetchall():
            # An open order had its full quantity reserved when it was placed.
            conn.execute(
                "UPDATE stock_levels SET on_hand = on_hand - ?, reserved = MAX(0, reserved - ?), "
                "updated_at = ? WHERE sku = ? AND location_id = ?",
                (line["quantity"], line["quantity"], now, line["sku"], location),
            )
            conn.execute("UPDATE order_lines SET fulfilled_quantity = quantity WHERE rowid = ?", (line["rowid"],))
            inventory.movement(
                line["sku"],
                location,
                -line["quantity"],
                "sale",
                SALE_SOURCE[order["channel"]],
                f"api:{order['channel']}",
                now,
            )
        conn.execute("UPDATE orders SET status = 'fulfilled', fulfilled_at = ? WHERE id = ?", (now, order_id))
    return web.json_response(_order_view(inventory, order_id))


async def create_receipt(request: web.Request) -> web.Response:
    body = await _json_body(request)
    sku, location, quantity = body.get("sku"), body.get("location"), body.get("quantity")
    if not isinstance(sku, str) or not isinstance(location, str):
        raise _bad("sku and location are required")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 1_000_000:
        raise _bad("quantity must be a positive integer")
    inventory = request.app[INVENTORY_KEY]
    now = iso(utcnow())
    with inventory.transaction() as conn:
        if inventory.stock_row(sku, location) is None:
            raise web.HTTPUnprocessableEntity(
                text=json.dumps({"error": f"SKU {sku!r} is not stocked at {location!r}"}),
                content_type="application/json",
            )
        conn.execute(
            "UPDATE stock_levels SET on_hand = on_hand + ?, updated_at = ? WHERE sku = ? AND location_id = ?",
            (quantity, now, sku, location),
        )
        movement_id = inventory.movement(
            sku, location, quantity, "receipt", str(body.get("source") or "wms"), "api:receiving", now
        )
        row = inventory.stock_row(sku, location)
    return web.json_response({"movement_id": movement_id, "stock": _stock(row)}, status=201)


def _record_sync(
    inventory: Inventory, integration: str, *, records: int, conflicts: int, failed: bool, error: str | None = None
) -> dict[str, Any]:
    moment = utcnow()
    started = iso(moment - timedelta(seconds=2))
    status = "failed" if failed else "success"
    with inventory.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO integration_syncs (integration, started_at, finished_at, status, records, conflicts, error) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                integration,
                started,
                iso(moment),
                status,
                0 if failed else records,
                conflicts,
                (error or "sync failed") if failed else None,
            ),
        )
    return {"id": cur.lastrowid, "integration": integration, "status": status, "finished_at": iso(moment)}


async def create_sync(request: web.Request) -> web.Response:
    body = await _json_body(request)
    integration = body.get("integration")
    if not isinstance(integration, str) or not integration:
        raise _bad("integration is required")
    records, conflicts = body.get("records", 0), body.get("conflicts", 0)
    if not all(isinstance(v, int) and v >= 0 for v in (records, conflicts)):
        raise _bad("records and conflicts must be non-negative integers")
    inventory = request.app[INVENTORY_KEY]
    if integration in request.app[FAULTS_KEY].stalled:
        # A stalled sync: one run hangs in "running" and blocks every later run.
        running = inventory.conn.execute(
            "SELECT id FROM integration_syncs WHERE integration = ? AND status = 'running'", (integration,)
        ).fetchone()
        if running is None:
            with inventory.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO integration_syncs (integration, started_at, status) VALUES (?, ?, 'running')",
                    (integration, iso(utcnow())),
                )
            running_id = cur.lastrowid
            log.info("sync of %s is stalled (run %d hangs)", integration, running_id)
        else:
            running_id = running["id"]
        return web.json_response(
            {"id": running_id, "integration": integration, "status": "running", "stalled": True}, status=202
        )
    result = _record_sync(
        inventory,
        integration,
        records=records,
        conflicts=conflicts,
        failed=bool(body.get("failed")),
        error=body.get("error"),
    )
    return web.json_response(result, status=201)


# --- action webhooks -----------------------------------------------------------------


async def _fetch_exporter_view(request: web.Request, view: str, params: dict[str, str]) -> list[dict[str, Any]]:
    url = f"{request.app[SETTINGS_KEY]['exporter_url'].rstrip('/')}/api/v1/{view}"
    try:
        async with request.app[SESSION_KEY].get(url, params=params, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            if resp.status != 200:
                raise web.HTTPBadGateway(
                    text=json.dumps({"error": f"exporter {view}: HTTP {resp.status}"}), content_type="application/json"
                )
            payload = await resp.json()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise web.HTTPBadGateway(
            text=json.dumps({"error": f"exporter unreachable: {exc or type(exc).__name__}"}),
            content_type="application/json",
        ) from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise web.HTTPBadGateway(
            text=json.dumps({"error": f"exporter {view}: no data list"}), content_type="application/json"
        )
    return data


async def action_resync(request: web.Request) -> web.Response:
    body = await _json_body(request)
    integration = body.get("integration")
    if not isinstance(integration, str) or not integration:
        raise _bad("integration is required")
    inventory = request.app[INVENTORY_KEY]
    request.app[FAULTS_KEY].stalled.discard(integration)
    with inventory.transaction() as conn:
        abandoned = conn.execute(
            "UPDATE integration_syncs SET status = 'failed', finished_at = ?, "
            "error = 'abandoned: superseded by resync' "
            "WHERE integration = ? AND status = 'running'",
            (iso(utcnow()), integration),
        ).rowcount
    result = _record_sync(
        inventory, integration, records=request.app[RANDOM_KEY].randint(50, 400), conflicts=0, failed=False
    )
    log.info("action resync %s: sync %d succeeded, %d hung runs abandoned", integration, result["id"], abandoned)
    return web.json_response({"ok": True, "sync": result, "abandoned_runs": abandoned})


async def action_reconcile(request: web.Request) -> web.Response:
    body = await _json_body(request)
    integration, location = body.get("integration"), body.get("location")
    if not isinstance(integration, str) or not isinstance(location, str):
        raise _bad("integration and location are required")
    mismatches = await _fetch_exporter_view(request, "mismatches", {"integration": integration, "location": location})
    inventory = request.app[INVENTORY_KEY]
    now = iso(utcnow())
    adjusted, skipped = [], 0
    with inventory.transaction() as conn:
        for item in mismatches:
            sku, compared_db, remote = item.get("sku"), item.get("database"), item.get("remote")
            if (
                not isinstance(sku, str)
                or not isinstance(remote, (int, float))
                or not isinstance(compared_db, (int, float))
            ):
                skipped += 1
                continue
            row = inventory.stock_row(sku, location)
            # Only correct what has not moved since the exporter compared: a sale in
            # between would otherwise be counted twice.
            if row is None or row["on_hand"] - row["reserved"] != compared_db:
                skipped += 1
                continue
            delta = int(round(remote - compared_db))
            if delta == 0:
                continue
            conn.execute(
                "UPDATE stock_levels SET on_hand = on_hand + ?, updated_at = ? WHERE sku = ? AND location_id = ?",
                (delta, now, sku, location),
            )
            inventory.movement(
                sku, location, delta, "adjustment", "reconcile", f"enhancer:reconcile:{integration}", now
            )
            adjusted.append({"sku": sku, "delta": delta})
    log.info(
        "action reconcile %s@%s: %d SKUs adjusted to the remote count, %d skipped",
        integration,
        location,
        len(adjusted),
        skipped,
    )
    return web.json_response({"ok": True, "adjusted": adjusted, "skipped": skipped})


async def action_purchase_orders(request: web.Request) -> web.Response:
    body = await _json_body(request)
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise _bad("location is required")
    recommendations = await _fetch_exporter_view(request, "recommendations", {"location": location})
    inventory = request.app[INVENTORY_KEY]
    moment = utcnow()
    created, skipped = [], 0
    with inventory.transaction() as conn:
        pending = {
            r[0]
            for r in conn.execute(
                "SELECT sku FROM purchase_orders WHERE location_id = ? AND status IN ('draft', 'sent')", (location,)
            )
        }
        for item in recommendations:
            sku, quantity = item.get("sku"), item.get("quantity")
            if not isinstance(sku, str) or not isinstance(quantity, (int, float)) or quantity <= 0 or sku in pending:
                skipped += 1
                continue
            lead_days = item.get("lead_time_days")
            expected = moment + timedelta(days=float(lead_days)) if isinstance(lead_days, (int, float)) else None
            po_id = inventory.next_po_id()
            conn.execute(
                "INSERT INTO purchase_orders (id, sku, location_id, quantity, status, created_at, expected_at) "
                "VALUES (?,?,?,?, 'draft', ?, ?)",
                (po_id, sku, location, int(quantity), iso(moment), iso(expected) if expected else None),
            )
            pending.add(sku)
            created.append({"id": po_id, "sku": sku, "quantity": int(quantity)})
    log.info(
        "action purchase-orders %s: %d draft purchase orders written, %d skipped (already on order or invalid)",
        location,
        len(created),
        skipped,
    )
    return web.json_response({"ok": True, "created": created, "skipped": skipped})


async def action_cache_warmup(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    cleared = faults.latency
    faults.latency, faults.latency_until = 0.0, None
    # Warm the page cache the way a real warm-up would: touch the hot tables.
    request.app[INVENTORY_KEY].conn.execute("SELECT COUNT(*) FROM stock_levels").fetchone()
    log.info("action cache-warmup: injected latency %.2fs cleared", cleared)
    return web.json_response({"ok": True, "latency_cleared": cleared})


async def action_restart_workers(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    was = {"error_ratio": faults.error_ratio, "unhealthy": faults.unhealthy}
    await asyncio.sleep(0.2)  # workers take a moment to come back
    faults.error_ratio, faults.unhealthy, faults.errors_until = 0.0, False, None
    log.info("action restart-workers: error ratio %.2f and unhealthy=%s cleared", was["error_ratio"], was["unhealthy"])
    return web.json_response({"ok": True, "cleared": was})


# --- wiring --------------------------------------------------------------------------


def build_app(db_path: str, *, exporter_url: str = "http://127.0.0.1:9877", seed: int | None = None) -> web.Application:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    app = web.Application(middlewares=[fault_middleware])
    instrument(app, registry)
    app[INVENTORY_KEY] = Inventory(db_path)
    app[FAULTS_KEY] = Faults()
    app[SETTINGS_KEY] = {"exporter_url": exporter_url}
    app[RANDOM_KEY] = random.Random(seed)
    app.router.add_get("/health", health)
    app.router.add_get("/products", list_products)
    app.router.add_get("/products/{sku}", get_product)
    app.router.add_get("/stock", list_stock)
    app.router.add_post("/orders", create_order)
    app.router.add_get("/orders/{id}", get_order)
    app.router.add_post("/orders/{id}/fulfill", fulfill_order)
    app.router.add_post("/receipts", create_receipt)
    app.router.add_post("/syncs", create_sync)
    app.router.add_post("/actions/resync", action_resync)
    app.router.add_post("/actions/reconcile", action_reconcile)
    app.router.add_post("/actions/purchase-orders", action_purchase_orders)
    app.router.add_post("/actions/cache-warmup", action_cache_warmup)
    app.router.add_post("/actions/restart-workers", action_restart_workers)
    app.router.add_get("/_control", control_get)
    app.router.add_post("/_control", control_post)

    async def session_ctx(app: web.Application):
        app[SESSION_KEY] = aiohttp.ClientSession()
        yield
        await app[SESSION_KEY].close()
        app[INVENTORY_KEY].close()

    app.cleanup_ctx.append(session_ctx)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.api", description="The demo inventory API.")
    parser.add_argument("--db", default=".demo/inventory.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--exporter-url",
        default="http://127.0.0.1:9877",
        help="where /actions/reconcile and /actions/purchase-orders read mismatches and recommendations",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the injected-error dice")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    try:
        sqlite3.connect(f"file:{args.db}?mode=rw", uri=True).close()
    except sqlite3.Error as exc:
        print(f"--db {args.db}: cannot open: {exc} (run python -m demo.seed first)", file=sys.stderr)
        return 2
    app = build_app(args.db, exporter_url=args.exporter_url, seed=args.seed)
    log.info("inventory API on http://%s:%d (db %s)", args.host, args.port, args.db)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
