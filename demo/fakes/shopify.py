"""A fake Shopify GraphQL Admin API: inventory items, levels and cost throttling.

    python -m demo.fakes.shopify --port 8181 [--db demo.db] [--location-map gid://shopify/Location/1001=online]

Speaks `POST /admin/api/<version>/graphql.json` with `X-Shopify-Access-Token`. It is no
GraphQL engine: it recognises the queries the exporter sends (`shop { name }`,
`locations`, `inventoryItems` with `inventoryLevels` and `quantities(names: [...])`,
`inventoryItem(id:)` for more levels) and answers them in Shopify's shapes, with
`extensions.cost` on every answer.

Cost model (after Shopify's published rules: objects 1, scalars 0, connections 2 plus
their objects, requested cost from `first`, actual cost from what is returned): an
items page costs 2 + items x (1 + 2 + 3 x levels), a level being the level, its
location and its quantity. The leaky bucket holds `maximum_available` (default 2000)
and refills at `restore_rate` (default 100/s, the Standard plan). A query whose
requested cost exceeds what is available is answered THROTTLED and counted in
`throttle_violations`; over 1000 it is MAX_COST_EXCEEDED.

Switch "throttle": {"maximum_available": 2000, "restore_rate": 100, "currently_available": 0}.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"gid://shopify/Location/1001": "online"}
DEFAULT_TOKEN = "shpat_demo_0123456789abcdef"
SINGLE_QUERY_MAX_COST = 1000
_VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def _cursor(prefix: str, offset: int) -> str:
    return base64.b64encode(f"{prefix}:{offset}".encode()).decode()


def _offset(prefix: str, cursor: str | None) -> int | None:
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        return int(value) if kind == prefix else None
    except (ValueError, UnicodeDecodeError):
        return None


def _argument(query: str, field: str, arg: str, variables: dict[str, Any]) -> Any:
    """The value of `field(arg: ...)` in the query text: a literal or a $variable."""
    match = re.search(rf"\b{field}\s*\(([^)]*)\)", query)
    if not match:
        return None
    arg_match = re.search(rf"\b{arg}\s*:\s*(\$\w+|\d+|\"[^\"]*\"|null)", match.group(1))
    if not arg_match:
        return None
    token = arg_match.group(1)
    if token.startswith("$"):
        return variables.get(token[1:])
    if token == "null":
        return None
    if token.startswith('"'):
        return token[1:-1]
    return int(token)


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


def _graphql_error(message: str, code: str, status: int = 200, **extra: Any) -> web.Response:
    return json_response({"errors": [{"message": message, "extensions": {"code": code, **extra}}]}, status=status)


def _items(state: FakeState) -> list[tuple[str, Any, list[tuple[str, Any]]]]:
    """The remote stock as Shopify inventory items (id, sku, levels)."""
    items: list[tuple[str, Any, list[tuple[str, Any]]]] = []
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


def _level_nodes(levels: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"location": {"id": location}, "quantities": [{"name": "available", "quantity": _int(quantity)}]}
        for location, quantity in levels
    ]


def _int(quantity: Any) -> Any:
    # Shopify quantities are Int; a drifted float goes out as one (dirty test values as they are).
    if isinstance(quantity, float) and quantity.is_integer():
        return int(quantity)
    return quantity


async def graphql(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not _VERSION_RE.match(request.match_info["version"]):
        return json_response({"errors": "Not Found"}, status=404)
    if request.headers.get("X-Shopify-Access-Token") != state.token:
        return json_response({"errors": _INVALID_TOKEN}, status=401)
    try:
        body = await request.json()
    except ValueError:
        return json_response({"errors": {"query": "Required parameter missing or invalid"}}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return json_response({"errors": {"query": "Required parameter missing or invalid"}}, status=400)
    query, variables = body["query"], body.get("variables") or {}
    if not isinstance(variables, dict):
        return _graphql_error("Variables must be an object", "argumentLiteralsIncompatible")

    if re.search(r"\binventoryItems\s*\(", query):
        return _cost_checked(state, *_items_page(state, query, variables))
    if re.search(r"\binventoryItem\s*\(", query):
        return _cost_checked(state, *_item_levels(state, query, variables))
    if re.search(r"\bshop\s*\{", query):
        return _cost_checked(state, 1, lambda: ({"shop": {"name": "Demo Store"}}, 1))
    if re.search(r"\blocations\s*\(", query):
        first = _argument(query, "locations", "first", variables) or 50
        nodes = [{"id": loc, "name": name} for loc, name in state.location_map.items()][:first]
        return _cost_checked(state, 2 + first, lambda: ({"locations": {"nodes": nodes}}, 2 + len(nodes)))
    return _graphql_error("Field doesn't exist on type 'QueryRoot'", "undefinedField")


def _levels_argument_error(query: str, variables: dict[str, Any]) -> web.Response | None:
    names = re.search(r"quantities\s*\(\s*names\s*:\s*(\[[^\]]*\]|\$\w+)", query)
    if not names:
        return _graphql_error("Field 'quantities' is missing required arguments: names", "missingRequiredArguments")
    text = names.group(1)
    values = variables.get(text[1:]) if text.startswith("$") else re.findall(r'"([^"]*)"', text)
    if not values or "available" not in values:
        return _graphql_error(
            'quantities(names:) must include "available" for this fake', "argumentLiteralsIncompatible"
        )
    return None


def _items_page(state: FakeState, query: str, variables: dict[str, Any]):
    first = _argument(query, "inventoryItems", "first", variables)
    levels_first = _argument(query, "inventoryLevels", "first", variables)
    after = _argument(query, "inventoryItems", "after", variables)
    for name, value in (("first", first), ("inventoryLevels.first", levels_first)):
        if not isinstance(value, int) or not 1 <= value <= 250:
            return 0, None, _graphql_error(f"{name} must be an integer from 1 to 250", "argumentLiteralsIncompatible")
    error = _levels_argument_error(query, variables)
    if error is not None:
        return 0, None, error
    offset = _offset("i", after)
    if offset is None:
        return 0, None, _graphql_error("Invalid cursor provided", "invalidCursor")
    requested = 2 + first * (3 + 3 * levels_first)

    def run() -> tuple[dict[str, Any], int]:
        if offset == 0:
            state.reload()
            state.cache.pop("items_by_id", None)
        items = state.cached("items", lambda: _items(state), fresh=offset == 0)
        page = items[offset : offset + state.page_size(first)]
        nodes, actual = [], 2
        for item_id, sku, levels in page:
            shown = levels[:levels_first]
            nodes.append(
                {
                    "id": item_id,
                    "sku": sku,
                    "inventoryLevels": {
                        "pageInfo": {
                            "hasNextPage": len(levels) > levels_first,
                            "endCursor": _cursor("l", len(shown)) if shown else None,
                        },
                        "nodes": _level_nodes(shown),
                    },
                }
            )
            actual += 3 + 3 * len(shown)
        end = offset + len(page)
        data = {
            "inventoryItems": {
                "pageInfo": {"hasNextPage": end < len(items), "endCursor": _cursor("i", end) if page else None},
                "nodes": nodes,
            }
        }
        return data, actual

    return requested, run


def _item_levels(state: FakeState, query: str, variables: dict[str, Any]):
    item_id = _argument(query, "inventoryItem", "id", variables)
    levels_first = _argument(query, "inventoryLevels", "first", variables)
    after = _argument(query, "inventoryLevels", "after", variables)
    if not isinstance(levels_first, int) or not 1 <= levels_first <= 250:
        return 0, None, _graphql_error("first must be an integer from 1 to 250", "argumentLiteralsIncompatible")
    error = _levels_argument_error(query, variables)
    if error is not None:
        return 0, None, error
    offset = _offset("l", after)
    if offset is None:
        return 0, None, _graphql_error("Invalid cursor provided", "invalidCursor")
    requested = 3 + 3 * levels_first

    def run() -> tuple[dict[str, Any], int]:
        by_id = state.cached(
            "items_by_id", lambda: {i: (sku, lv) for i, sku, lv in state.cached("items", lambda: _items(state))}
        )
        found = by_id.get(item_id)
        if found is None:
            return {"inventoryItem": None}, 1
        levels = found[1]
        shown = levels[offset : offset + levels_first]
        end = offset + len(shown)
        return {
            "inventoryItem": {
                "inventoryLevels": {
                    "pageInfo": {"hasNextPage": end < len(levels), "endCursor": _cursor("l", end)},
                    "nodes": _level_nodes(shown),
                }
            }
        }, 3 + 3 * len(shown)

    return requested, run


def _cost_checked(state: FakeState, requested: int, run: Any, error: web.Response | None = None) -> web.Response:
    if error is not None:
        return error
    if requested > SINGLE_QUERY_MAX_COST:
        return json_response(
            {
                "errors": [
                    {
                        "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                        f"({SINGLE_QUERY_MAX_COST}).",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": SINGLE_QUERY_MAX_COST,
                        },
                    }
                ]
            }
        )
    bucket = _bucket(state)
    if bucket["currently_available"] < requested:
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
                        "requestedQueryCost": requested,
                        "actualQueryCost": None,
                        "throttleStatus": _throttle_status(bucket),
                    }
                },
            }
        )
    bucket["currently_available"] -= requested
    data, actual = run()
    # Shopify charges the requested cost up front and refunds what was not used.
    bucket["currently_available"] += max(0, requested - actual)
    return json_response(
        {
            "data": data,
            "extensions": {
                "cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": actual,
                    "throttleStatus": _throttle_status(bucket),
                }
            },
        }
    )


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
    return build_fake_app(state, [web.post("/admin/api/{version}/graphql.json", graphql)], error_response)


if __name__ == "__main__":
    main("shopify", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
