"""A fake Shopify GraphQL Admin API: inventory items, levels, cost throttling, bulk operations.

    python -m demo.fakes.shopify --port 8181 [--db demo.db] [--location-map gid://shopify/Location/1001=online]

Speaks `POST /admin/api/<version>/graphql.json` with `X-Shopify-Access-Token`. Every
document is parsed, validated and executed by graphql-core against Shopify's own schema
(vendored under tests/vendor/shopify/, see shopify_graphql.py), so a misspelt field, a
missing argument or a wrong variable type gets Shopify's error answer
({"errors": [{"message", "locations", "extensions": {"code"}}]}). Data behind the schema:
`shop`, `inventoryItems` / `inventoryItem(id:)` with `inventoryLevels` (`location`,
`item`, `quantities(names:)`), `locations`, `productVariantsCount`, `bulkOperation(id:)`,
`currentBulkOperation`, `node(id:)` for bulk operations, and the mutations
`bulkOperationRunQuery` / `bulkOperationCancel`; any other field resolves to null.

Versions: answers carry `X-Shopify-API-Version`, the version served: the requested one
when supported, the oldest supported one for an older request (Shopify falls forward),
404 for a malformed one. The vendor switch `api_version` serves another version.

Cost: priced from the document by Shopify's published rules (shopify_graphql.py), charged
up front, the unused part refunded; every answer has `extensions.cost` with
`throttleStatus`. The leaky bucket holds `maximum_available` (default 2000) and refills at
`restore_rate` (default 100/s, the Standard plan). Requested cost over what is available:
THROTTLED (counted in `throttle_violations`); over 1000: MAX_COST_EXCEEDED.

Bulk operations: `bulkOperationRunQuery` checks the query by Shopify's bulk rules, then
the operation is CREATED, RUNNING (objectCount grows) and COMPLETED with a `url` to its
JSONL result on this server (`/_bulk/<id>/result.jsonl?signature=...`, like Shopify's
signed storage URLs it needs no token). One query operation runs at a time before
2026-01, five from 2026-01 (the served version's limit); more is OPERATION_IN_PROGRESS.

Switches: "throttle": {"maximum_available": 2000, "restore_rate": 100, "currently_available": 0};
"vendor": {"api_version": "2026-04", "bulk_start_seconds": 0.2, "bulk_objects_per_second": 50000,
"bulk_status": "FAILED" | "CANCELED" | "EXPIRED", "bulk_error_code": "TIMEOUT",
"bulk_partial": true (a FAILED operation keeps a partialDataUrl with the first half),
"bulk_running": n (operations of another process already running for the shop)}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from graphql import GraphQLError, execute_sync

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main
from demo.fakes.shopify_graphql import (
    SCHEMA_VERSION,
    bulk_query_problems,
    check_document,
    error_entry,
    load_schema,
    operation_of,
    query_cost,
)

DEFAULT_LOCATION_MAP = {"gid://shopify/Location/1001": "online"}
DEFAULT_TOKEN = "shpat_demo_0123456789abcdef"
SINGLE_QUERY_MAX_COST = 1000
# Stable versions Shopify supports on 2026-11-27 (each for at least 12 months). The
# fake validates every version against the one vendored schema (SCHEMA_VERSION).
SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10")
_VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
# Largest page Shopify serves for one connection.
MAX_PAGE = 250
# Rows of the catalogue executed per chunk when writing a bulk result.
_BULK_CHUNK = 500
# Dirty test quantities (extra_rows: "lots", 2.5) cannot pass through the schema's Int:
# they travel as these placeholders and are put back into the answer afterwards.
_DIRTY_BASE = -(2**31)


def served_version(state: FakeState, requested: str) -> str:
    forced = state.vendor.get("api_version")
    if forced:
        return str(forced)
    if requested == "unstable" or requested in SUPPORTED_VERSIONS:
        return requested
    if requested < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]  # past its support window: Shopify falls forward
    return SUPPORTED_VERSIONS[-1]


def bulk_limit(version: str) -> int:
    """Concurrent bulk query operations per app and shop for a version."""
    return 5 if version == "unstable" or version >= "2026-01" else 1


def _cursor(prefix: str, offset: int) -> str:
    return base64.b64encode(f"{prefix}:{offset}".encode()).decode()


def _offset(prefix: str, cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind == prefix:
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise GraphQLError("Invalid cursor provided", extensions={"code": "invalidCursor"})


# --- bucket ---------------------------------------------------------------------------


def _bucket(state: FakeState) -> dict[str, Any]:
    t = state.throttle
    t.setdefault("maximum_available", 2000.0)
    t.setdefault("restore_rate", 100.0)
    now = time.monotonic()
    if "currently_available" not in t:
        t["currently_available"] = float(t["maximum_available"])
    elif "_at" in t:
        t["currently_available"] = min(
            float(t["maximum_available"]), float(t["currently_available"]) + float(t["restore_rate"]) * (now - t["_at"])
        )
    t["_at"] = now
    return t


def _throttle_status(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "maximumAvailable": float(t["maximum_available"]),
        "currentlyAvailable": int(t["currently_available"]),
        "restoreRate": float(t["restore_rate"]),
    }


# --- the shop's data ------------------------------------------------------------------

Item = tuple[str, Any, list[tuple[str, Any]]]


def _items(state: FakeState) -> list[Item]:
    """The remote stock as Shopify inventory items (id, sku, levels)."""
    items: list[Item] = []
    index: dict[Any, int] = {}
    for row in state.stock_rows():
        if row.sku in index:
            items[index[row.sku]][2].append((row.location, row.available))
        else:
            index[row.sku] = len(items)
            items.append((f"gid://shopify/InventoryItem/{len(items) + 1}", row.sku, [(row.location, row.available)]))
    # Dirty rows are items of their own, so a duplicate SKU really is listed twice.
    for row in state.extra_rows():
        items.append((f"gid://shopify/InventoryItem/{len(items) + 1}", row.sku, [(row.location, row.available)]))
    return items


class _Dirty:
    """Quantities the schema's Int cannot carry, parked as placeholders during execution."""

    def __init__(self) -> None:
        self.values: dict[int, Any] = {}

    def quantity(self, value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return self.park(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return self.park(value)

    def park(self, value: Any) -> int:
        key = _DIRTY_BASE + len(self.values)
        self.values[key] = value
        return key

    def restore(self, data: Any) -> Any:
        if not self.values:
            return data
        if isinstance(data, dict):
            return {k: self.restore(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.restore(v) for v in data]
        if isinstance(data, int) and not isinstance(data, bool) and data in self.values:
            return self.values[data]
        return data


def _window(args: dict[str, Any], total: int, prefix: str, bulk: bool) -> tuple[int, int]:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        if bulk:
            return 0, total
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise GraphQLError(
                f"The '{name}' argument must be between 0 and {MAX_PAGE}", extensions={"code": "BAD_REQUEST"}
            )
    start = _offset(prefix, args.get("after"))
    if first is not None:
        return start, min(total, start + first)
    end = _offset(prefix, args.get("before")) if args.get("before") else total
    return max(0, end - int(last or 0)), end


def _connection(nodes: list[Any], start: int, end: int, total: int, prefix: str) -> dict[str, Any]:
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": _cursor(prefix, start + i + 1)} for i, n in enumerate(nodes)],
        "pageInfo": {
            "hasNextPage": end < total,
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(prefix, start + 1) if nodes else None,
            "endCursor": _cursor(prefix, end) if nodes else None,
        },
    }


class _Shop:
    """Root values for one request: dicts, with callables where a field takes arguments
    (graphql-core's default resolver calls them with the field's arguments)."""

    def __init__(
        self,
        state: FakeState,
        request: web.Request | None,
        version: str,
        bulk: bool = False,
        items: list[Item] | None = None,
    ):
        self.state = state
        self.snapshot = items
        self.request = request
        self.version = version
        self.bulk = bulk
        self.dirty = _Dirty()
        self.window: tuple[int, int] | None = None  # the bulk writer's chunk of items

    def items(self) -> list[Item]:
        if self.snapshot is not None:
            return self.snapshot
        state = self.state
        return state.cached("items", lambda: _items(state))  # type: ignore[no-any-return]

    def item_value(self, item: Item) -> dict[str, Any]:
        item_id, sku, levels = item
        value: dict[str, Any] = {"__typename": "InventoryItem", "id": item_id, "sku": sku, "tracked": True}

        def inventory_levels(info: Any, **args: Any) -> dict[str, Any]:
            start, end = _window(args, len(levels), "l", self.bulk)
            nodes = [self.level_value(value, item_id, loc, qty) for loc, qty in levels[start:end]]
            return _connection(nodes, start, end, len(levels), "l")

        value["inventoryLevels"] = inventory_levels
        return value

    def level_value(self, item: dict[str, Any], item_id: str, location: str, quantity: Any) -> dict[str, Any]:
        number = item_id.rsplit("/", 1)[-1]
        location_number = location.rsplit("/", 1)[-1]
        name = self.state.location_map.get(location, location)

        def quantities(info: Any, names: list[str]) -> list[dict[str, Any]]:
            out = []
            for quantity_name in names:
                # The fake knows `available`; on_hand equals it (nothing committed), the rest is 0.
                amount = self.dirty.quantity(quantity) if quantity_name in ("available", "on_hand") else 0
                out.append(
                    {"name": quantity_name, "quantity": amount, "id": f"gid://shopify/InventoryQuantity/{number}"}
                )
            return out

        return {
            "__typename": "InventoryLevel",
            "id": f"gid://shopify/InventoryLevel/{location_number}?inventory_item_id={number}",
            "isActive": True,
            "location": {"__typename": "Location", "id": location, "name": name, "isActive": True},
            "item": item,
            "quantities": quantities,
        }

    def root(self) -> dict[str, Any]:
        def inventory_items(info: Any, **args: Any) -> dict[str, Any]:
            items = self.items()
            if self.window is not None:
                start, end = self.window
            else:
                if args.get("after") is None and args.get("before") is None:
                    # A listing starts: follow the demo database, rebuild the items.
                    self.state.reload()
                    self.state.cache.pop("items", None)
                    self.state.cache.pop("items_by_id", None)
                    items = self.items()
                start, end = _window(args, len(items), "i", self.bulk)
                end = min(end, start + self.state.page_size(end - start)) if end > start else end
            nodes = [self.item_value(item) for item in items[start:end]]
            return _connection(nodes, start, end, len(items), "i")

        def inventory_item(info: Any, id: str) -> dict[str, Any] | None:
            by_id = self.state.cached("items_by_id", lambda: {item[0]: item for item in self.items()})
            found = by_id.get(id)
            return None if found is None else self.item_value(found)

        def locations(info: Any, **args: Any) -> dict[str, Any]:
            known = [{"id": loc, "name": name, "isActive": True} for loc, name in self.state.location_map.items()]
            start, end = _window(args, len(known), "o", self.bulk)
            return _connection(known[start:end], start, end, len(known), "o")

        def product_variants_count(info: Any, query: str | None = None, limit: int | None = 10000) -> dict[str, Any]:
            count = len(self.items())
            if limit is not None and count > limit:
                return {"count": limit, "precision": "AT_LEAST"}
            return {"count": count, "precision": "EXACT"}

        bulk = _bulk_of(self.state)

        def bulk_operation(info: Any, id: str) -> dict[str, Any] | None:
            op = bulk.operations.get(id)
            return None if op is None else op.value(self)

        def current_bulk_operation(info: Any, type: str = "QUERY") -> dict[str, Any] | None:
            ops = [op for op in bulk.operations.values() if type == "QUERY"]
            return ops[-1].value(self) if ops else None

        def node(info: Any, id: str) -> dict[str, Any] | None:
            return bulk_operation(info, id)

        def run_query(info: Any, query: str, groupObjects: bool = False) -> dict[str, Any]:  # noqa: N803
            return bulk.run(self, query)

        def cancel(info: Any, id: str) -> dict[str, Any]:
            return bulk.cancel(self, id)

        return {
            "shop": {"__typename": "Shop", "id": "gid://shopify/Shop/1", "name": "Demo Store"},
            "inventoryItems": inventory_items,
            "inventoryItem": inventory_item,
            "locations": locations,
            "productVariantsCount": product_variants_count,
            "bulkOperation": bulk_operation,
            "currentBulkOperation": current_bulk_operation,
            "node": node,
            "bulkOperationRunQuery": run_query,
            "bulkOperationCancel": cancel,
        }


# --- bulk operations ------------------------------------------------------------------


@dataclass
class BulkOperation:
    id: str
    query: str
    created: float
    created_at: str
    objects: int  # what the whole run will have processed
    root_objects: int
    canceled: bool = False
    result: str | None = None  # file path, once written
    partial: str | None = None
    size: int = 0
    signature: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    final: str | None = None
    # The result file being written in a thread: (path, size) when done.
    writer: asyncio.Future[tuple[str, int]] | None = None

    def status(self, vendor: dict[str, Any]) -> str:
        if self.final:
            return self.final
        if self.canceled:
            return "CANCELED"
        elapsed = time.monotonic() - self.created
        start = float(vendor.get("bulk_start_seconds", 0.2))
        rate = float(vendor.get("bulk_objects_per_second", 50000))
        if elapsed < start:
            return "CREATED"
        if elapsed < start + self.objects / rate or (self.writer is not None and not self.writer.done()):
            return "RUNNING"
        return "DONE"

    def progress(self, vendor: dict[str, Any]) -> int:
        start = float(vendor.get("bulk_start_seconds", 0.2))
        rate = float(vendor.get("bulk_objects_per_second", 50000))
        return max(0, min(self.objects, int((time.monotonic() - self.created - start) * rate)))

    def value(self, shop: _Shop) -> dict[str, Any]:
        vendor = shop.state.vendor
        status = self.status(vendor)
        if status == "DONE":
            self.finish(shop)
            status = self.final or "COMPLETED"
        done = status in ("COMPLETED", "FAILED", "EXPIRED")
        base = shop.request.url.origin() if shop.request is not None else ""
        url = partial = None
        if status == "COMPLETED" and self.result:
            url = f"{base}/_bulk/{self.number}/result.jsonl?signature={self.signature}"
        if status == "FAILED" and self.partial:
            partial = f"{base}/_bulk/{self.number}/partial.jsonl?signature={self.signature}"
        return {
            "__typename": "BulkOperation",
            "id": self.id,
            "status": status,
            "type": "QUERY",
            "errorCode": str(vendor.get("bulk_error_code", "INTERNAL_SERVER_ERROR")) if status == "FAILED" else None,
            "createdAt": self.created_at,
            "completedAt": self.created_at if done else None,
            "objectCount": str(self.objects if done else self.progress(vendor)),
            "rootObjectCount": str(self.root_objects if done else 0),
            "fileSize": str(self.size) if url else None,
            "url": url,
            "partialDataUrl": partial,
            "query": self.query,
        }

    @property
    def number(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def finish(self, shop: _Shop) -> None:
        vendor = shop.state.vendor
        final = str(vendor.get("bulk_status") or "COMPLETED")
        if final not in ("COMPLETED", "FAILED", "CANCELED", "EXPIRED"):
            final = "COMPLETED"
        if final in ("COMPLETED", "FAILED") and self.writer is not None:
            self.result, self.size = self.writer.result()
            if final == "FAILED":
                if vendor.get("bulk_partial"):
                    self.partial = _first_half(self.result)
                os.unlink(self.result)
                self.result = None
        self.final = final


class BulkRuns:
    def __init__(self) -> None:
        self.operations: dict[str, BulkOperation] = {}
        self.next_id = 7933223797042
        self.downloads = 0

    def running(self, state: FakeState) -> list[str]:
        ours = [op.id for op in self.operations.values() if op.status(state.vendor) in ("CREATED", "RUNNING")]
        others = [f"gid://shopify/BulkOperation/{1000 + i}" for i in range(int(state.vendor.get("bulk_running", 0)))]
        return others + ours

    def run(self, shop: _Shop, query: str) -> dict[str, Any]:
        problems = bulk_query_problems(query)
        if problems:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["query"], "message": m, "code": "INVALID"} for m in problems],
            }
        running = self.running(shop.state)
        if len(running) >= bulk_limit(shop.version):
            return {
                "bulkOperation": None,
                "userErrors": [
                    {
                        "field": None,
                        "message": "A bulk query operation for this app and shop is already in progress: "
                        f"{', '.join(running)}.",
                        "code": "OPERATION_IN_PROGRESS",
                    }
                ],
            }
        shop.state.reload()
        shop.state.cache.pop("items", None)
        items = shop.items()
        roots = len(items)
        objects = roots + sum(len(levels) for _, _, levels in items)
        self.next_id += 32768
        op = BulkOperation(
            id=f"gid://shopify/BulkOperation/{self.next_id}",
            query=query,
            created=time.monotonic(),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            objects=objects,
            root_objects=roots,
        )
        # Shopify runs the query in the background: so does the fake, in a thread, over
        # a snapshot of the catalogue taken now.
        op.writer = asyncio.ensure_future(
            asyncio.to_thread(write_bulk_result, shop.state, query, shop.version, list(items))
        )
        self.operations[op.id] = op
        return {"bulkOperation": op.value(shop), "userErrors": []}

    def cancel(self, shop: _Shop, op_id: str) -> dict[str, Any]:
        op = self.operations.get(op_id)
        if op is None:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
            }
        if op.status(shop.state.vendor) in ("CREATED", "RUNNING"):
            op.canceled = True
        return {"bulkOperation": op.value(shop), "userErrors": []}

    def path(self, number: str, kind: str, signature: str) -> str | None:
        op = self.operations.get(f"gid://shopify/BulkOperation/{number}")
        if op is None or not secrets.compare_digest(op.signature, signature):
            return None
        return op.result if kind == "result" else op.partial if kind == "partial" else None

    def cleanup(self) -> None:
        for op in self.operations.values():
            if op.writer is not None and op.writer.done() and not op.writer.cancelled() and op.result is None:
                if op.writer.exception() is None:
                    op.result = op.writer.result()[0]
            for path in (op.result, op.partial):
                if path and os.path.exists(path):
                    os.unlink(path)


_BULK: weakref.WeakKeyDictionary[FakeState, BulkRuns] = weakref.WeakKeyDictionary()


def _bulk_of(state: FakeState) -> BulkRuns:
    if state not in _BULK:
        _BULK[state] = BulkRuns()
    return _BULK[state]


def bulk_runs(state: FakeState) -> BulkRuns:
    """The bulk operations a fake has run (tests look at them)."""
    return _bulk_of(state)


def write_bulk_result(state: FakeState, query: str, version: str, items: list[Item]) -> tuple[str, int]:
    """Run `query` over the whole catalogue, chunk by chunk, into a JSONL file as Shopify
    writes it: one line per node of every connection, a nested connection's nodes on lines
    of their own with `__parentId`, after their parent. Returns (path, size)."""
    document, errors = check_document(query)
    assert document is not None, errors
    fd, path = tempfile.mkstemp(prefix="fake-shopify-bulk-", suffix=".jsonl")
    size = 0
    with os.fdopen(fd, "wb") as out:
        shop = _Shop(state, None, version, bulk=True, items=items)
        total = len(shop.items())
        for start in range(0, max(total, 1), _BULK_CHUNK):
            shop.window = (start, min(total, start + _BULK_CHUNK))
            shop.dirty = _Dirty()
            result = execute_sync(load_schema(), document, root_value=shop.root())
            if result.errors:
                raise RuntimeError(f"bulk query failed in the fake: {result.errors[0].message}")
            data = shop.dirty.restore(result.data)
            for line in _jsonl(data):
                out.write(line)
                size += len(line)
    return path, size


def _jsonl(data: Any) -> Iterator[bytes]:
    for value in (data or {}).values():
        if isinstance(value, dict) and "edges" in value:
            yield from _connection_lines(value, None)


def _connection_lines(connection: dict[str, Any], parent: str | None) -> Iterator[bytes]:
    for edge in connection.get("edges") or []:
        node = dict(edge.get("node") or {})
        nested = {k: v for k, v in node.items() if isinstance(v, dict) and "edges" in v}
        for key in nested:
            del node[key]
        if parent is not None:
            node["__parentId"] = parent
        yield json.dumps(node, separators=(",", ":")).encode() + b"\n"
        for child in nested.values():
            yield from _connection_lines(child, node.get("id"))


def _first_half(path: str) -> str:
    fd, partial = tempfile.mkstemp(prefix="fake-shopify-partial-", suffix=".jsonl")
    with open(path, "rb") as source:
        lines = source.readlines()
    with os.fdopen(fd, "wb") as out:
        out.writelines(lines[: len(lines) // 2])
    return partial


# --- HTTP -----------------------------------------------------------------------------


def _graphql_error(message: str, code: str, status: int = 200, **extra: Any) -> web.Response:
    return json_response({"errors": [{"message": message, "extensions": {"code": code, **extra}}]}, status=status)


async def graphql(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    requested = request.match_info["version"]
    if not _VERSION_RE.match(requested):
        return json_response({"errors": "Not Found"}, status=404)
    version = served_version(state, requested)
    headers = {"X-Shopify-API-Version": version}
    if request.headers.get("X-Shopify-Access-Token") != state.token:
        return json_response({"errors": _INVALID_TOKEN}, status=401, headers=headers)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return json_response(
            {"errors": {"query": "Required parameter missing or invalid"}}, status=400, headers=headers
        )
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return _with_headers(_graphql_error("Variables must be an object", "argumentLiteralsIncompatible"), headers)
    document, errors = check_document(body["query"])
    if document is None:
        return json_response({"errors": errors}, headers=headers)
    operation = operation_of(document, body.get("operationName"))
    if operation is None:
        return json_response(
            {"errors": [{"message": "An operation name is required", "extensions": {"code": "operationNotFound"}}]},
            headers=headers,
        )
    try:
        requested_cost = query_cost(document, operation, variables)
    except (TypeError, ValueError):
        requested_cost = SINGLE_QUERY_MAX_COST
    if requested_cost > SINGLE_QUERY_MAX_COST:
        return json_response(
            {
                "errors": [
                    {
                        "message": f"Query cost is {requested_cost}, which exceeds the single query max cost limit "
                        f"({SINGLE_QUERY_MAX_COST}).",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested_cost,
                            "maxCost": SINGLE_QUERY_MAX_COST,
                        },
                    }
                ]
            },
            headers=headers,
        )
    bucket = _bucket(state)
    if bucket["currently_available"] < requested_cost:
        state.throttle_violations += 1
        return json_response(
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {
                    "cost": {
                        "requestedQueryCost": requested_cost,
                        "actualQueryCost": None,
                        "throttleStatus": _throttle_status(bucket),
                    }
                },
            },
            headers=headers,
        )
    bucket["currently_available"] -= requested_cost
    shop = _Shop(state, request, version)
    result = execute_sync(
        load_schema(),
        document,
        root_value=shop.root(),
        variable_values=variables,
        operation_name=body.get("operationName"),
    )
    actual = query_cost(document, operation, variables, result.data) if result.data is not None else 0
    # Shopify charges the requested cost up front and refunds what was not used.
    bucket["currently_available"] += max(0, requested_cost - actual)
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [error_entry(e) for e in result.errors]
    answer["data"] = shop.dirty.restore(result.data)
    answer["extensions"] = {
        "cost": {
            "requestedQueryCost": requested_cost,
            "actualQueryCost": actual,
            "throttleStatus": _throttle_status(bucket),
        }
    }
    return json_response(answer, headers=headers)


def _with_headers(response: web.Response, headers: dict[str, str]) -> web.Response:
    response.headers.update(headers)
    return response


async def bulk_download(request: web.Request) -> web.StreamResponse:
    """A bulk result, as a signed storage URL serves it: no token, the signature is the key."""
    state = request.app[STATE_KEY]
    runs = _bulk_of(state)
    path = runs.path(request.match_info["number"], request.match_info["kind"], request.query.get("signature", ""))
    if path is None or not os.path.exists(path):
        return web.Response(status=403, text="AccessDenied: Request has expired or the signature does not match")
    runs.downloads += 1
    return web.FileResponse(path, headers={"Content-Type": "application/jsonl"})


def error_response(state: FakeState, fault: str, request: web.Request) -> web.StreamResponse:
    if fault == "401":
        return json_response({"errors": _INVALID_TOKEN}, status=401)
    if fault == "403":
        return json_response(
            {"errors": "[API] This action requires merchant approval for read_inventory scope."}, status=403
        )
    if fault == "429":
        return json_response(
            {
                "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                "uninterrupted service."
            },
            status=429,
            headers={"Retry-After": f"{state.switches.retry_after:g}"},
        )
    status = int(fault) if fault.isdigit() else 500
    return json_response({"errors": "Internal Server Error"}, status=status)


def build_app(state: FakeState) -> web.Application:
    load_schema()  # a few seconds, before the first request rather than during it
    app = build_fake_app(
        state,
        [
            web.post("/admin/api/{version}/graphql.json", graphql),
            web.get("/_bulk/{number}/{kind}.jsonl", bulk_download),
        ],
        error_response,
    )

    async def cleanup(app: web.Application) -> None:
        _bulk_of(state).cleanup()

    app.on_cleanup.append(cleanup)
    return app


__all__ = ["SCHEMA_VERSION", "SUPPORTED_VERSIONS", "build_app", "bulk_runs", "served_version"]

if __name__ == "__main__":
    main("shopify", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
