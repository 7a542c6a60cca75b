"""The Square fake and the connector are bound to Square's own OpenAPI definition
(tests/vendor/square/api.json, Square-Version 2025-01-23): what the connector sends and
what the fake answers, successes and errors, validate against it with an independent
OpenAPI 3.0 validator (openapi-schema-validator), and the fake rejects what the spec
rejects, in Square's error shape."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from integration_support import LOCATION_MAPS, TOKENS, make_collector, remote_stock, value
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

from demo.fakes import square as square_fake
from demo.fakes.common import FakeState
from exporter.integrations.square import SquareIntegration
from tests.conftest import ROOT

SPEC_DIR = Path(ROOT) / "tests" / "vendor" / "square"
SPEC: dict[str, Any] = json.loads((SPEC_DIR / "api.json").read_text(encoding="utf-8"))
COUNTS = "/v2/inventory/counts/batch-retrieve"
CATALOG = "/v2/catalog/batch-retrieve"
LOCATIONS = "/v2/locations"


def spec_version() -> str:
    """The Square-Version the vendored document is for, read here, not by the fake's code."""
    (header,) = [h for h in SPEC["x-fern-global-headers"] if h["header"] == "Square-Version"]
    found = re.fullmatch(r'literal<"([0-9-]+)">', header["type"])
    assert found, header
    return found.group(1)


def _validator(cls: Any, schema: dict[str, Any]) -> Any:
    # The operation's schema as the root, with the document's components beside it, so
    # "#/components/schemas/..." resolves as in the document.
    return cls({**schema, "components": SPEC["components"]})


def request_errors(path: str, method: str, body: Any) -> list[str]:
    schema = SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return [e.message for e in _validator(OAS30WriteValidator, schema).iter_errors(body)]


def response_errors(path: str, method: str, body: Any) -> list[str]:
    # Square documents one response per operation (200); its errors answer uses the same
    # schema, whose `errors` is a list of Error.
    schema = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return [e.message for e in _validator(OAS30ReadValidator, schema).iter_errors(body)]


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in ref_or_schema:
        ref_or_schema = SPEC["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    return ref_or_schema


def undeclared(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Object members the schema does not declare (JSON Schema allows them; we want
    neither the connector nor the fake to invent fields)."""
    schema = _schema(schema)
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in undeclared(schema.get("items", {}), item, f"{where}[{i}]")]
    if isinstance(value, dict) and "properties" in schema:
        found = [f"{where}.{k}" for k in value if k not in schema["properties"]]
        for k, item in value.items():
            if k in schema["properties"]:
                found += undeclared(schema["properties"][k], item, f"{where}.{k}")
        return found
    return []


@asynccontextmanager
async def recording_fake(stock: dict | None = None) -> AsyncIterator[tuple[FakeState, str, list[dict[str, Any]]]]:
    """The Square fake with every exchange recorded: method, path, headers, request body,
    status, response headers and body."""
    state = FakeState("square", TOKENS["square"], LOCATION_MAPS["square"], stock=stock or remote_stock("square"))
    app = square_fake.build_app(state)
    exchanges: list[dict[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        response = await handler(request)
        exchanges.append(
            {
                "method": request.method.lower(),
                "path": request.path,
                "headers": dict(request.headers),
                "body": json.loads(raw) if raw else None,
                "status": response.status,
                "response_headers": dict(response.headers),
                "response": json.loads(response.body) if isinstance(response, web.Response) else None,
            }
        )
        return response

    app.middlewares.insert(0, record)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield state, f"http://{host}:{port}", exchanges
    finally:
        await runner.cleanup()


async def call(url: str, method: str, body: Any = None, **headers: str) -> tuple[int, dict[str, str], Any]:
    sent = {"Authorization": f"Bearer {TOKENS['square']}", "Square-Version": spec_version(), **headers}
    sent = {k.replace("_", "-"): v for k, v in sent.items() if v is not None}
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        async with session.request(method, url, headers=sent, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.json(content_type=None)


def test_the_connector_pins_the_vendored_version():
    assert SquareIntegration.model_fields["square_version"].default == spec_version() == "2025-01-23"
    readme = (SPEC_DIR / "README.md").read_text(encoding="utf-8")
    assert "47d5585284701495c8a99f4fdc8c613d229554e4" in readme and "Apache License 2.0" in readme
    assert "Apache License" in (SPEC_DIR / "LICENSE.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("sku_from", ["catalog", "catalog_object_id"])
async def test_connector_requests_and_fake_answers_validate(inventory_db, sku_from):
    async with recording_fake() as (state, url, exchanges):
        collector = make_collector("square", url, inventory_db, page_size=7, sku_from=sku_from)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    if sku_from == "catalog":
        assert value(families, "inventory_integration_accuracy_ratio") == 1.0
    # 2 locations x 30 SKUs in pages of 7: 9 count pages, each looked up in the catalog.
    pages = -(-60 // 7)
    expected = {
        ("get", LOCATIONS): 1,
        ("post", COUNTS): pages,
        ("post", CATALOG): pages if sku_from == "catalog" else 0,
    }
    seen = {key: sum(1 for x in exchanges if (x["method"], x["path"]) == key) for key in expected}
    assert seen == expected
    for x in exchanges:
        what = f"{x['method']} {x['path']}"
        assert x["headers"]["Square-Version"] == spec_version(), what
        assert x["status"] == 200, (what, x["response"])
        if x["method"] == "post":
            assert request_errors(x["path"], "post", x["body"]) == [], (what, x["body"])
            schema = SPEC["paths"][x["path"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
            assert undeclared(schema, x["body"]) == [], what
        assert response_errors(x["path"], x["method"], x["response"]) == [], what
        schema = SPEC["paths"][x["path"]][x["method"]]["responses"]["200"]["content"]["application/json"]["schema"]
        assert undeclared(schema, x["response"]) == [], what
        assert x["response_headers"]["Square-Version"] == spec_version()
    assert value(families, "inventory_integration_api_version_info", requested="2025-01-23", served="2025-01-23") == 1


# Bodies the spec rejects, and the error Square documents for each (field, code).
INVALID_COUNTS = [
    ({"limit": 5000}, "limit", "VALUE_TOO_HIGH"),
    ({"limit": 0}, "limit", "VALUE_TOO_LOW"),
    ({"limit": "10"}, "limit", "EXPECTED_INTEGER"),
    ({"limit": 2.5}, "limit", "EXPECTED_INTEGER"),
    ({"states": ["IN_STOCK", "ON_HAND"]}, "states[1]", "INVALID_ENUM_VALUE"),
    ({"states": "IN_STOCK"}, "states", "EXPECTED_ARRAY"),
    ({"location_ids": [7]}, "location_ids[0]", "EXPECTED_STRING"),
    ({"cursor": 12}, "cursor", "EXPECTED_STRING"),
]
INVALID_CATALOG = [
    ({}, "object_ids", "MISSING_REQUIRED_PARAMETER"),
    ({"object_ids": "ABC"}, "object_ids", "EXPECTED_ARRAY"),
    ({"object_ids": ["ABC"], "include_deleted_objects": "yes"}, "include_deleted_objects", "EXPECTED_BOOLEAN"),
    ({"object_ids": ["ABC"], "catalog_version": True}, "catalog_version", "EXPECTED_INTEGER"),
]


@pytest.mark.parametrize(
    ("path", "body", "field", "code"),
    [(COUNTS, *case) for case in INVALID_COUNTS] + [(CATALOG, *case) for case in INVALID_CATALOG],
)
async def test_fake_rejects_what_the_spec_rejects(path, body, field, code):
    assert request_errors(path, "post", body), "the case must be invalid by the spec itself"
    error_codes = SPEC["components"]["schemas"]["ErrorCode"]["enum"]
    assert code in error_codes
    async with recording_fake() as (_, url, _):
        status, _, answer = await call(url + path, "POST", body)
    assert status == 400
    assert answer["errors"][0]["category"] == "INVALID_REQUEST_ERROR"
    assert (answer["errors"][0]["field"], answer["errors"][0]["code"]) == (field, code)
    assert answer["errors"][0]["detail"]
    assert response_errors(path, "post", answer) == []


VALID_COUNTS = [
    {},
    {"limit": 1000, "states": ["IN_STOCK", "SOLD", "IN_TRANSIT"], "location_ids": ["LNORTHSTORE01"]},
    {"catalog_object_ids": [square_fake.variation_id("SKU-001")], "updated_after": "2016-11-16T00:00:00.000Z"},
    {"limit": None, "cursor": None, "states": None},
]
VALID_CATALOG = [
    {"object_ids": [square_fake.variation_id("SKU-001")]},
    {
        "object_ids": ["NOSUCHOBJECT"],
        "include_related_objects": True,
        "include_deleted_objects": True,
        "catalog_version": 1,
        "include_category_path_to_root": False,
    },
]


@pytest.mark.parametrize("path, body", [(COUNTS, b) for b in VALID_COUNTS] + [(CATALOG, b) for b in VALID_CATALOG])
async def test_fake_accepts_what_the_spec_accepts(path, body):
    assert request_errors(path, "post", body) == []
    async with recording_fake() as (_, url, _):
        status, _, answer = await call(url + path, "POST", body)
    assert status == 200, answer
    assert response_errors(path, "post", answer) == []


async def test_unknown_fields_are_rejected_as_unknown_body_parameter():
    # JSON Schema allows undeclared members; Square's spec has a code for them.
    assert "UNKNOWN_BODY_PARAMETER" in SPEC["components"]["schemas"]["ErrorCode"]["enum"]
    async with recording_fake() as (_, url, _):
        status, _, answer = await call(url + COUNTS, "POST", {"limit": 5, "page": 2})
        assert status == 400 and answer["errors"] == [
            {
                "category": "INVALID_REQUEST_ERROR",
                "code": "UNKNOWN_BODY_PARAMETER",
                "detail": "Unknown field `page`.",
                "field": "page",
            }
        ]
        status, _, answer = await call(url + CATALOG, "POST", [1, 2])
        assert status == 400 and answer["errors"][0]["code"] == "EXPECTED_JSON_BODY"
        assert response_errors(CATALOG, "post", answer) == []


@pytest.mark.parametrize("version", ["2025-1-23", "latest", "2025-01-23T00:00:00Z", "20250123", "2025-02-30", ""])
async def test_malformed_square_version_is_invalid_square_version_format(version):
    async with recording_fake() as (_, url, _):
        status, _, answer = await call(url + LOCATIONS, "GET", Square_Version=version)
    assert status == 400
    assert answer["errors"][0]["category"] == "INVALID_REQUEST_ERROR"
    assert answer["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"
    assert response_errors(LOCATIONS, "get", answer) == []


async def test_square_version_is_optional_and_answered():
    async with recording_fake() as (_, url, _):
        # Without the header Square serves the application's pinned version (the fake's: the spec's).
        status, headers, answer = await call(url + LOCATIONS, "GET", Square_Version=None)
        assert status == 200 and headers["Square-Version"] == spec_version()
        assert [loc["id"] for loc in answer["locations"]] == list(LOCATION_MAPS["square"])
        status, headers, _ = await call(url + LOCATIONS, "GET", Square_Version="2024-12-18")
        assert status == 200 and headers["Square-Version"] == "2024-12-18"


@pytest.mark.parametrize(
    ("fault", "status", "category", "code"),
    [
        ("401", 401, "AUTHENTICATION_ERROR", "UNAUTHORIZED"),
        ("403", 403, "AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES"),
        ("429", 429, "RATE_LIMIT_ERROR", "RATE_LIMITED"),
        ("500", 500, "API_ERROR", "INTERNAL_SERVER_ERROR"),
        ("503", 503, "API_ERROR", "SERVICE_UNAVAILABLE"),
    ],
)
async def test_fault_answers_are_square_errors(fault, status, category, code):
    async with recording_fake() as (state, url, _):
        state.control({"error": fault, "error_count": 1})
        got, headers, answer = await call(url + COUNTS, "POST", {"limit": 5})
    assert got == status
    assert answer["errors"][0]["category"] == category and answer["errors"][0]["code"] == code
    assert response_errors(COUNTS, "post", answer) == []
    assert "Retry-After" not in headers  # Square documents backoff, not Retry-After


async def test_wrong_token_and_bad_cursor_are_square_errors():
    async with recording_fake() as (_, url, _):
        status, _, answer = await call(url + COUNTS, "POST", {}, Authorization="Bearer nope")
        assert status == 401 and answer["errors"][0]["code"] == "UNAUTHORIZED"
        assert response_errors(COUNTS, "post", answer) == []
        status, _, answer = await call(url + COUNTS, "POST", {"cursor": "not a cursor"})
        assert status == 400 and (answer["errors"][0]["code"], answer["errors"][0]["field"]) == (
            "INVALID_CURSOR",
            "cursor",
        )
        assert response_errors(COUNTS, "post", answer) == []
