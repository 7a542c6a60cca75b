"""A fake generic stock API for the `rest_json` connector.

    python -m demo.fakes.rest_json --port 8184 [--db demo.db] [--location-map A=wh-main]

`GET /api/stock?limit=N[&page=P]` answers {"items": [{"sku", "location": {"id"},
"available", "on_hand", "reserved"}]} and a `Link: <...>; rel="next"` header;
`GET /api/stock-cursor?limit=N[&cursor=C]` answers the same items plus
{"meta": {"next_cursor": C}}. The key goes in `X-Api-Key`; a wrong one gets 401
{"error": "invalid api key"}. It sends X-RateLimit-Limit/Remaining headers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"A": "wh-main"}
DEFAULT_TOKEN = "demo-rest-api-key"
# The exporter settings that read this fake (beside the common ones): where its items,
# SKU, location and quantity are, and the header the key goes in.
INTEGRATION_SETTINGS: dict[str, Any] = {
    "path": "/api/stock",
    "items_path": "items",
    "sku_path": "sku",
    "location_path": "location.id",
    "quantity_path": "available",
    "auth_header": "X-Api-Key",
    "auth_scheme": "",
}
RATE_LIMIT = 1000


def _items(state: FakeState) -> list[dict[str, Any]]:
    return [
        {
            "sku": row.sku,
            "location": {"id": row.location},
            "available": row.available,
            "on_hand": row.on_hand,
            "reserved": row.reserved,
        }
        for row in state.rows()
    ]


def _page(request: web.Request, key: str) -> tuple[FakeState, list[dict[str, Any]], int, int] | web.Response:
    state = request.app[STATE_KEY]
    if request.headers.get("X-Api-Key") != state.token:
        return json_response({"error": "invalid api key"}, status=401)
    try:
        limit = int(request.query.get("limit", "50"))
        start = int(request.query.get(key, "0") or 0)
    except ValueError:
        return json_response({"error": f"limit and {key} must be integers"}, status=400)
    if not 1 <= limit <= 500 or start < 0:
        return json_response({"error": "limit must be from 1 to 500"}, status=400)
    if start == 0:
        state.reload()
    items = state.cached("items", lambda: _items(state), fresh=start == 0)
    return state, items, start, state.page_size(limit)


def _headers(state: FakeState) -> dict[str, str]:
    remaining = max(0, RATE_LIMIT - state.vendor_requests)
    return {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(remaining)}


async def stock(request: web.Request) -> web.Response:
    found = _page(request, "page")
    if isinstance(found, web.Response):
        return found
    state, items, page, limit = found
    chunk = items[page * limit : (page + 1) * limit]
    headers = _headers(state)
    if (page + 1) * limit < len(items):
        headers["Link"] = f'<{request.path}?limit={limit}&page={page + 1}>; rel="next"'
    return json_response({"items": chunk}, headers=headers)


async def stock_cursor(request: web.Request) -> web.Response:
    found = _page(request, "cursor")
    if isinstance(found, web.Response):
        return found
    state, items, start, limit = found
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return json_response(
        {"items": chunk, "meta": {"next_cursor": str(end) if end < len(items) else None}}, headers=_headers(state)
    )


def error_response(state: FakeState, fault: str, request: web.Request) -> web.StreamResponse:
    if fault in ("401", "403"):
        return json_response({"error": "invalid api key" if fault == "401" else "forbidden"}, status=int(fault))
    if fault == "429":
        state.throttle_violations += 1
        return json_response(
            {"error": "slow down"}, status=429, headers={"Retry-After": f"{state.switches.retry_after:g}"}
        )
    status = int(fault) if fault.isdigit() else 500
    return json_response({"error": "internal error"}, status=status)


def build_app(state: FakeState) -> web.Application:
    return build_fake_app(
        state, [web.get("/api/stock", stock), web.get("/api/stock-cursor", stock_cursor)], error_response
    )


if __name__ == "__main__":
    main("rest_json", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
