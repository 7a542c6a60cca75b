"""A fake Square API: locations, inventory counts and catalog variations.

    python -m demo.fakes.square --port 8182 [--db demo.db] [--location-map LNORTHSTORE01=store-north,...]

Speaks `GET /v2/locations`, `POST /v2/inventory/counts/batch-retrieve` and
`POST /v2/catalog/batch-retrieve` with `Authorization: Bearer <token>`, bound to Square's
own OpenAPI definition vendored in tests/vendor/square/api.json (Square-Version
2025-01-23; README.md there says where it comes from): request bodies are validated
against the operation's request schema and rejected as Square documents it, 400 with
`{"errors": [{category, code, detail, field}]}` and the spec's error codes (EXPECTED_*,
INVALID_ENUM_VALUE, VALUE_TOO_HIGH, MISSING_REQUIRED_PARAMETER, UNKNOWN_BODY_PARAMETER...).

`Square-Version` is optional, as at Square (without it the application's pinned version,
here the spec's, is used); a malformed one is 400 INVALID_SQUARE_VERSION_FORMAT. Answers
carry the version served in a `Square-Version` header. Counts are keyed by a catalog
object id derived from the SKU; quantities are exact decimal strings (no exponent, at most
5 decimals). Rate limit switch: "throttle": {"requests_per_second": 5, "burst": 5}; over
it, and for the `429` fault, the answer is 429 RATE_LIMIT_ERROR/RATE_LIMITED without
Retry-After (Square sends none and asks for exponential backoff with jitter), counted in
`throttle_violations`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"LNORTHSTORE01": "store-north", "LSOUTHSTORE02": "store-south"}
DEFAULT_TOKEN = "EAAAl_demo_square_access_token"
SPEC_PATH = Path(__file__).resolve().parents[2] / "tests" / "vendor" / "square" / "api.json"
LOCATIONS_PATH = "/v2/locations"
COUNTS_PATH = "/v2/inventory/counts/batch-retrieve"
CATALOG_PATH = "/v2/catalog/batch-retrieve"
CALCULATED_AT = "2026-11-22T14:05:00.000Z"
# InventoryCount.quantity: "a decimal string. Can support up to 5 digits after the decimal point."
QUANTITY_DECIMALS = 5


@functools.cache
def spec() -> dict[str, Any]:
    """Square's OpenAPI document (the vendored subset)."""
    with SPEC_PATH.open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def spec_version() -> str:
    """The Square-Version the vendored document describes (its x-fern-global-headers)."""
    for header in spec().get("x-fern-global-headers", []):
        if header.get("header") == "Square-Version":
            found = re.fullmatch(r'literal<"(\d{4}-\d{2}-\d{2})">', str(header.get("type", "")))
            if found:
                return found.group(1)
    raise LookupError(f"{SPEC_PATH}: no Square-Version in x-fern-global-headers")


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        prefix, _, name = str(schema["$ref"]).rpartition("/")
        if prefix != "#/components/schemas":
            raise LookupError(f"unsupported $ref {schema['$ref']}")
        schema = spec()["components"]["schemas"][name]
    return schema


def request_schema(path: str, method: str) -> dict[str, Any]:
    operation = spec()["paths"][path][method.lower()]
    return _resolve(operation["requestBody"]["content"]["application/json"]["schema"])


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_EXPECTED = {
    "string": "EXPECTED_STRING",
    "integer": "EXPECTED_INTEGER",
    "number": "EXPECTED_FLOAT",
    "boolean": "EXPECTED_BOOLEAN",
    "array": "EXPECTED_ARRAY",
    "object": "EXPECTED_OBJECT",
}


def violation(schema: dict[str, Any], value: Any, field: str = "") -> tuple[str, str, str] | None:
    """The first way `value` breaks an OpenAPI 3.0 request schema, as Square reports it:
    (code, detail, field), or None. Stricter than JSON Schema in one way, as Square is:
    a body field the schema does not declare is UNKNOWN_BODY_PARAMETER."""
    schema = _resolve(schema)
    kind = schema.get("type")
    where = f"`{field}`" if field else "the request body"
    if value is None:
        return (
            None if schema.get("nullable") or kind is None else (_EXPECTED[kind], f"Expected {where} to be set.", field)
        )
    if kind is not None:
        ok = isinstance(value, _JSON_TYPES[kind]) and not (isinstance(value, bool) and kind in ("integer", "number"))
        if not ok:
            return _EXPECTED[kind], f"Expected {where} to be {'an' if kind[0] in 'aeiou' else 'a'} {kind}.", field
    if "enum" in schema and value not in schema["enum"]:
        return "INVALID_ENUM_VALUE", f"Expected {where} to be one of {', '.join(map(str, schema['enum']))}.", field
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return "VALUE_TOO_LOW", f"{where} must be greater than or equal to {schema['minimum']}.", field
        if "maximum" in schema and value > schema["maximum"]:
            return "VALUE_TOO_HIGH", f"{where} must be less than or equal to {schema['maximum']}.", field
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return "VALUE_TOO_LONG", f"{where} must be at most {schema['maxLength']} characters.", field
        if "minLength" in schema and len(value) < schema["minLength"]:
            return "VALUE_TOO_SHORT", f"{where} must be at least {schema['minLength']} characters.", field
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return "ARRAY_LENGTH_TOO_LONG", f"{where} must have at most {schema['maxItems']} items.", field
        if "minItems" in schema and len(value) < schema["minItems"]:
            return "ARRAY_LENGTH_TOO_SHORT", f"{where} must have at least {schema['minItems']} items.", field
        for i, item in enumerate(value):
            problem = violation(schema.get("items", {}), item, f"{field}[{i}]")
            if problem:
                return problem
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                inner = f"{field}.{name}" if field else name
                return "MISSING_REQUIRED_PARAMETER", f"Field must be set: `{inner}`.", inner
        for name, item in value.items():
            inner = f"{field}.{name}" if field else name
            if name not in properties:
                return "UNKNOWN_BODY_PARAMETER", f"Unknown field `{inner}`.", inner
            problem = violation(properties[name], item, inner)
            if problem:
                return problem
    return None


def decimal_string(quantity: Any) -> Any:
    """A number as Square writes InventoryCount.quantity: an exact decimal string, no
    exponent, at most 5 decimals, no trailing zeros ("1234567", "2.5"). Anything else
    (a test's deliberately bad value) goes out as it is."""
    if isinstance(quantity, bool) or not isinstance(quantity, (int, float, Decimal)):
        return quantity
    try:
        # str() of a float is its shortest round-trip form: 0.1 stays 0.1, not 0.1000000000000000055.
        exact = Decimal(str(quantity)) if isinstance(quantity, float) else Decimal(quantity)
        text = format(exact.quantize(Decimal(1).scaleb(-QUANTITY_DECIMALS)), "f")
    except InvalidOperation:
        return str(quantity)  # inf, nan
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def variation_id(sku: Any) -> str:
    """A stable, Square-looking catalog object id for a SKU."""
    return base64.b32encode(hashlib.sha1(str(sku).encode()).digest()).decode()[:24]


def error(status: int, category: str, code: str, detail: str, field: str | None = None) -> web.Response:
    """Square's error answer: {"errors": [Error]} (no Retry-After, even for 429)."""
    entry = {"category": category, "code": code, "detail": detail}
    if field:
        entry["field"] = field
    return json_response({"errors": [entry]}, status=status)


def rate_limited() -> web.Response:
    return error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited - a general error occurred.")


def _valid_version(version: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
        return False
    try:
        dt.date.fromisoformat(version)
    except ValueError:
        return False
    return True


def _check_headers(state: FakeState, request: web.Request) -> web.Response | str:
    """The Square-Version to serve, or the error answer to send instead."""
    if request.headers.get("Authorization") != f"Bearer {state.token}":
        return error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
    version = request.headers.get("Square-Version")
    if version is not None and not _valid_version(version.strip()):
        return error(
            400,
            "INVALID_REQUEST_ERROR",
            "INVALID_SQUARE_VERSION_FORMAT",
            f"Invalid Square-Version format: {version!r}; expected YYYY-MM-DD.",
            "Square-Version",
        )
    problem = _rate_limit(state)
    if problem is not None:
        return problem
    # Without the header Square uses the version pinned to the application: here the spec's.
    return version.strip() if version is not None else spec_version()


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
        return rate_limited()
    state.throttle["_tokens"] = tokens - 1
    return None


async def _json_body(request: web.Request, path: str) -> dict[str, Any] | web.Response:
    """The request body, valid against the operation's request schema, or Square's 400."""
    if request.content_type != "application/json":
        return error(400, "INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE", "Content-Type must be application/json.")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error(400, "INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "The request body is not a JSON object.")
    problem = violation(request_schema(path, "post"), body)
    if problem is not None:
        code, detail, field = problem
        return error(400, "INVALID_REQUEST_ERROR", code, detail, field or None)
    return body


def _answer(data: dict[str, Any], version: str) -> web.Response:
    return json_response(data, headers={"Square-Version": version})


async def locations(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    version = _check_headers(state, request)
    if isinstance(version, web.Response):
        return version
    listed = [
        {"id": remote, "name": local, "status": "ACTIVE", "type": "PHYSICAL", "currency": "USD"}
        for remote, local in state.location_map.items()
    ]
    return _answer({"locations": listed}, version)


async def batch_retrieve_counts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    version = _check_headers(state, request)
    if isinstance(version, web.Response):
        return version
    body = await _json_body(request, COUNTS_PATH)
    if isinstance(body, web.Response):
        return body
    limit = body.get("limit") or 100
    states = body.get("states")
    location_ids = body.get("location_ids")
    offset = 0
    if body.get("cursor"):
        try:
            offset = int(base64.b64decode(str(body["cursor"]), validate=True).decode().removeprefix("c:"))
        except ValueError:
            return error(400, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    if offset == 0:
        state.reload()

    def listing() -> list[dict[str, Any]]:
        if states is not None and "IN_STOCK" not in states:
            return []
        wanted = set(location_ids) if location_ids else None
        counts = [
            _count(row.sku, row.location, row.available)
            for row in state.stock_rows()
            if wanted is None or row.location in wanted
        ]
        # Dirty rows bypass the location filter: they are what a broken sync leaves behind.
        return counts + [_count(row.sku, row.location, row.available) for row in state.extra_rows()]

    counts = state.cached(f"counts:{sorted(location_ids or [])}:{states}", listing, fresh=offset == 0)
    page = counts[offset : offset + state.page_size(limit)]
    response: dict[str, Any] = {"counts": page}
    end = offset + len(page)
    if end < len(counts):
        response["cursor"] = base64.b64encode(f"c:{end}".encode()).decode()
    return _answer(response, version)


def _count(sku: Any, location: str, quantity: Any) -> dict[str, Any]:
    return {
        "catalog_object_id": variation_id(sku),
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": location,
        "quantity": decimal_string(quantity),
        "calculated_at": CALCULATED_AT,
    }


async def batch_retrieve_catalog(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    version = _check_headers(state, request)
    if isinstance(version, web.Response):
        return version
    body = await _json_body(request, CATALOG_PATH)
    if isinstance(body, web.Response):
        return body
    by_id = state.cached("variations", lambda: {variation_id(row.sku): row.sku for row in state.rows()})
    objects = []
    for object_id in body["object_ids"]:
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
    return _answer({"objects": objects}, version)


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
        return rate_limited()
    status = int(fault) if fault.isdigit() else 500
    code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
    return error(status, "API_ERROR", code, "An internal error has occurred.")


def build_app(state: FakeState) -> web.Application:
    spec()  # fail at start, not on the first request, if the vendored definition is missing
    return build_fake_app(
        state,
        [
            web.get(LOCATIONS_PATH, locations),
            web.post(COUNTS_PATH, batch_retrieve_counts),
            web.post(CATALOG_PATH, batch_retrieve_catalog),
        ],
        error_response,
    )


if __name__ == "__main__":
    main("square", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
