"""Every document the Shopify connector can send validates against Shopify's published
schema of the pinned version (vendored in tests/vendor/shopify/), and the check has teeth:
a misspelt field is refused, by graphql-core's validation and by the fake."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from integration_support import TOKENS, running_fake

from exporter.integrations import shopify
from exporter.integrations.shopify import ShopifyIntegration

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "shopify"


@cache
def schema(version: str) -> GraphQLSchema:
    # assume_valid: Shopify's schema deprecates fields in implementations the interface
    # does not deprecate, which graphql-core's schema checks refuse; documents are still
    # validated in full.
    return build_schema((VENDOR / version / "schema.graphql").read_text(encoding="utf-8"), assume_valid=True)


def test_the_default_version_is_the_vendored_one():
    vendored = sorted(p.name for p in VENDOR.iterdir() if (p / "schema.graphql").exists())
    assert vendored == ["2026-07"]
    assert ShopifyIntegration.model_fields["api_version"].default == vendored[-1]
    header = (VENDOR / vendored[-1] / "schema.graphql").read_text(encoding="utf-8").splitlines()[0]
    assert header == f"# Shopify Admin GraphQL {vendored[-1]}"


def test_the_connector_lists_its_documents():
    # Every module-level *_QUERY / *_MUTATION string is in DOCUMENTS or BULK_DOCUMENTS, so
    # a new query cannot skip this test.
    strings = {
        name: value
        for name, value in vars(shopify).items()
        if name.endswith(("_QUERY", "_MUTATION")) and isinstance(value, str)
    }
    listed = set(shopify.DOCUMENTS.values()) | set(shopify.BULK_DOCUMENTS.values())
    assert len(strings) >= 7
    assert set(strings.values()) == listed


@pytest.mark.parametrize("name", sorted(shopify.DOCUMENTS) + sorted(shopify.BULK_DOCUMENTS))
def test_every_document_validates_against_the_pinned_schema(name):
    document = {**shopify.DOCUMENTS, **shopify.BULK_DOCUMENTS}[name]
    errors = validate(schema(shopify.DEFAULT_API_VERSION), parse(document))
    assert errors == [], [e.message for e in errors]


def test_the_bulk_query_follows_shopifys_bulk_rules():
    from demo.fakes.shopify_graphql import bulk_query_problems

    assert bulk_query_problems(shopify.BULK_INVENTORY_QUERY) == []
    # The rule checker is not a rubber stamp: `nodes` instead of edges/node is refused,
    # with the message Shopify's store gives (vendored README: the validators fixture).
    [problem] = bulk_query_problems("{ inventoryItems { nodes { id sku } } }")
    assert "Selecting via 'nodes' is not supported. Invalid connection fields: 'inventoryItems'." in problem


@pytest.mark.parametrize(
    ("document", "wrong", "message"),
    [
        (shopify.ITEMS_QUERY, ("sku\n", "skuu\n"), "Cannot query field 'skuu' on type 'InventoryItem'"),
        (shopify.PROBE_QUERY, ("name", "nmae"), "Cannot query field 'nmae' on type 'Shop'"),
        (shopify.BULK_POLL_QUERY, ("partialDataUrl", "partialUrl"), "Cannot query field 'partialUrl'"),
        (shopify.ITEMS_QUERY, ('(names: ["available"])', ""), "is required, but it was not provided"),
    ],
)
def test_a_misspelt_document_is_refused(document, wrong, message):
    broken = document.replace(*wrong, 1)
    assert broken != document
    errors = validate(schema(shopify.DEFAULT_API_VERSION), parse(broken))
    assert any(message in e.message for e in errors), [e.message for e in errors]


async def test_the_fake_refuses_a_misspelt_field_in_shopifys_shape():
    import aiohttp

    broken = shopify.ITEMS_QUERY.replace("sku\n", "skuu\n", 1)
    async with running_fake("shopify") as fake, aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.url}/admin/api/{shopify.DEFAULT_API_VERSION}/graphql.json",
            json={"query": broken, "variables": {"first": 5, "levels": 2}},
            headers={"X-Shopify-Access-Token": TOKENS["shopify"]},
        ) as resp:
            status, body = resp.status, await resp.json()
            served = resp.headers.get("X-Shopify-API-Version")
    assert status == 200 and "data" not in body
    [error] = body["errors"]
    # graphql-ruby's wording and codes, as Shopify answers.
    assert error["message"] == "Field 'skuu' doesn't exist on type 'InventoryItem'"
    assert error["extensions"] == {"code": "undefinedField", "typeName": "InventoryItem", "fieldName": "skuu"}
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "skuu" in text)
    assert error["locations"] == [{"line": line, "column": broken.splitlines()[line - 1].index("skuu") + 1}]
    assert served == shopify.DEFAULT_API_VERSION
