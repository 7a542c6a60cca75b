"""A fake Square API: locations, inventory counts and catalog variations.

    python -m demo.fakes.square --port 8182 [--db demo.db] [--location-map LNORTHSTORE01=store-north,...]

Speaks `GET /v2/locations`, `POST /v2/inventory/counts/batch-retrieve` and
`POST /v2/catalog/batch-retrieve` with `Authorization: Bearer <token>` and a
`Square-Version` header, validates request bodies the way Square does (unknown fields,
states, limit) and answers errors as `{"errors": [{category, code, detail, field}]}`.
Counts are keyed by a catalog object id derived from the SKU; quantities are decimal
strings. Rate limit switch: "throttle": {"requests_per_second": 5, "burst": 5}; over it
the answer is 429 RATE_LIMIT_ERROR/RATE_LIMITED with Retry-After, counted in
`throttle_violations`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"LNORTHSTORE01": "store-north", "LSOUTHSTORE02": "store-south"}
DEFAULT_TOKEN = "EAAAl_demo_square_access_token"
COUNT_FIELDS = {"catalog_object_ids", "location_ids", "updated_after", "cursor", "states", "limit"}
CATALOG_FIELDS = {"object_ids", "include_related_objects", "catalog_version", "include_category_path_to_root"}
STATES = {
    "CUSTOM",
    "IN_STOCK",
    "SOLD",
    "RETURNED_BY_CUSTOMER",
    "RESERVED_FOR_SALE",
    "SOLD_ONLINE",
    "ORDERED_FROM_VENDOR",
    "RECEIVED_FROM_VENDOR",
    "IN_TRANSIT_TO",
    "NONE",
    "WASTE",
    "UNLINKED_RETURN",
    "COMPOSED",
    "DECOMPOSED",
    "SUPPORTED_BY_NEWER_VERSION",
    "IN_TRANSIT",
}
CALCULATED_AT = "2026-11-22T14:05:00.000Z"


def variation_id(sku: Any) -> str:
    """A stable, Square-looking catalog object id for a SKU."""
    return base64.b32encode(hashlib.sha1(str(sku).encode()).digest()).decode()[:24]


def error(
    status: int, category: str, code: str, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    entry = {"category": category, "code": code, "detail": detail}
    if field:
        entry["field"] = field
    return json_response({"errors": [entry]}, status=status, headers=headers)


def _check_headers(state: FakeState, request: web.Request) -> web.Response | None:
    if request.headers.get("Authorization") != f"Bearer {state.token}":
        return error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
    version = request.headers.get("Square-Version")
    if version is None:
        # Square would fall back to the app's version; the fake insists, to prove we pin it.
        return error(
            400,
            "INVALID_REQUEST_ERROR",
            "MISSING_REQUIRED_PARAMETER",
            "Missing required header: Square-Version",
            "Square-Version",
        )
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
        return error(
            400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", f"Invalid Square-Version {version!r}", "Square-Version"
        )
    return _rate_limit(state)


def _rate_limit(state: FakeState) -> web.Response | None:
    rate = state.throttle.get("requests_per_second")
    if not rate:
        return None
    burst = float(state.throttle.get("burst", rate))
    now = time.monotonic()
    tokens = min(burst, state.throttle.get("_tokens", burst) + (now - state.throttle.get("_at", now)) * float(rate))
    state.throttle["_at"] = now
    if tokens < 1:
        state.throttle["_tokens"] = tokens
        state.throttle_violations += 1
        wait = max(state.switches.retry_after, (1 - tokens) / float(rate))
        return error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited", headers={"Retry-After": f"{wait:g}"})
    state.throttle["_tokens"] = tokens - 1
    return None


async def _json_body(request: web.Request, allowed: set[str]) -> dict[str, Any] | web.Response:
    if not request.content_type == "application/json":
        return error(400, "INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE", "Content-Type must be application/json")
    try:
        body = await request.json()
    except ValueError:
        return error(400, "INVALID_REQUEST_ERROR", "INVALID_REQUEST_ERROR", "Request body is not valid JSON")
    if not isinstance(body, dict):
        return error(400, "INVALID_REQUEST_ERROR", "EXPECTED_OBJECT", "Expected a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        return error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", f"Unknown field `{unknown[0]}`", unknown[0])
    return body


async def locations(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    problem = _check_headers(state, request)
    if problem is not None:
        return problem
    return json_response(
        {
            "locations": [
                {"id": remote, "name": local, "status": "ACTIVE", "type": "PHYSICAL", "currency": "USD"}
                for remote, local in state.location_map.items()
            ]
        }
    )


async def batch_retrieve_counts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    problem = _check_headers(state, request)
    if problem is not None:
        return problem
    body = await _json_body(request, COUNT_FIELDS)
    if isinstance(body, web.Response):
        return body
    limit = body.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        return error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "`limit` must be from 1 to 1000", "limit")
    states = body.get("states")
    if states is not None and (not isinstance(states, list) or not set(states) <= STATES):
        return error(400, "INVALID_REQUEST_ERROR", "INVALID_ENUM_VALUE", "Invalid value in `states`", "states")
    location_ids = body.get("location_ids")
    if location_ids is not None and (
        not isinstance(location_ids, list) or not all(isinstance(x, str) for x in location_ids)
    ):
        return error(400, "INVALID_REQUEST_ERROR", "EXPECTED_ARRAY", "`location_ids` must be strings", "location_ids")
    offset = 0
    if body.get("cursor"):
        try:
            offset = int(base64.b64decode(str(body["cursor"]), validate=True).decode().removeprefix("c:"))
        except ValueError:
            return error(400, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "Invalid cursor", "cursor")
    if offset == 0:
        state.reload()

    def listing() -> list[dict[str, Any]]:
        wanted = set(location_ids) if location_ids else None
        counts = []
        for row in state.stock_rows():
            if wanted is not None and row.location not in wanted:
                continue
            counts.append(_count(row.sku, row.location, row.available))
        # Dirty rows bypass the location filter: they are what a broken sync leaves behind.
        counts += [_count(row.sku, row.location, row.available) for row in state.extra_rows()]
        if states is not None and "IN_STOCK" not in states:
            return []
        return counts

    counts = state.cached(f"counts:{sorted(location_ids or [])}:{states}", listing, fresh=offset == 0)
    page = counts[offset : offset + state.page_size(limit)]
    response: dict[str, Any] = {"counts": page}
    end = offset + len(page)
    if end < len(counts):
        response["cursor"] = base64.b64encode(f"c:{end}".encode()).decode()
    return json_response(response)


def _count(sku: Any, location: str, quantity: Any) -> dict[str, Any]:
    if isinstance(quantity, (int, float)) and not isinstance(quantity, bool):
        quantity = f"{quantity:g}" if float(quantity).is_integer() else repr(float(quantity))
    return {
        "catalog_object_id": variation_id(sku),
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": location,
        "quantity": quantity,
        "calculated_at": CALCULATED_AT,
    }


async def batch_retrieve_catalog(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    problem = _check_headers(state, request)
    if problem is not None:
        return problem
    body = await _json_body(request, CATALOG_FIELDS)
    if isinstance(body, web.Response):
        return body
    ids = body.get("object_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
        return error(
            400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "Field must be set: `object_ids`", "object_ids"
        )
    by_id = state.cached("variations", lambda: {variation_id(row.sku): row.sku for row in state.rows()})
    objects = []
    for object_id in ids:
        if object_id in by_id:
            sku = by_id[object_id]
            objects.append(
                {
                    "type": "ITEM_VARIATION",
                    "id": object_id,
                    "updated_at": CALCULATED_AT,
                    "version": 1,
                    "is_deleted": False,
                    "present_at_all_locations": True,
                    "item_variation_data": {
                        "item_id": f"ITEM{object_id[:20]}",
                        "name": "Regular",
                        "sku": sku,
                        "pricing_type": "FIXED_PRICING",
                    },
                }
            )
    return json_response({"objects": objects})


def error_response(state: FakeState, fault: str, request: web.Request) -> web.StreamResponse:
    if fault == "401":
        return error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
    if fault == "403":
        return error(
            403,
            "AUTHENTICATION_ERROR",
            "INSUFFICIENT_SCOPES",
            "The merchant has not given your application sufficient permissions: INVENTORY_READ",
        )
    if fault == "429":
        state.throttle_violations += 1
        return error(
            429,
            "RATE_LIMIT_ERROR",
            "RATE_LIMITED",
            "Rate limited",
            headers={"Retry-After": f"{state.switches.retry_after:g}"},
        )
    status = int(fault) if fault.isdigit() else 500
    code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
    return error(status, "API_ERROR", code, "An internal error has occurred.")


def build_app(state: FakeState) -> web.Application:
    return build_fake_app(
        state,
        [
            web.get("/v2/locations", locations),
            web.post("/v2/inventory/counts/batch-retrieve", batch_retrieve_counts),
            web.post("/v2/catalog/batch-retrieve", batch_retrieve_catalog),
        ],
        error_response,
    )


if __name__ == "__main__":
    main("square", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
