"""The fakes speak their vendor's shapes: wrong requests get the vendor's error answer,
and `python -m demo.fakes.<kind> --db` serves the demo database's stock."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import aiohttp
import pytest
from integration_support import TOKENS, running_fake

from tests.conftest import ROOT

# quantities without its required `names` argument: Shopify's schema refuses it.
ITEMS = (
    "query { inventoryItems(first: 5) { nodes { sku inventoryLevels(first: 2) "
    "{ nodes { location { id } quantities { name quantity } } } } } }"
)


async def post(url: str, body, headers: dict | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=headers or {}) as resp:
            return resp.status, await resp.json(content_type=None)


async def test_shopify_rejects_wrong_requests():
    async with running_fake("shopify") as fake:
        good = {"X-Shopify-Access-Token": TOKENS["shopify"]}
        status, body = await post(
            f"{fake.url}/admin/api/2025-01/graphql.json", {"query": ITEMS}, {"X-Shopify-Access-Token": "nope"}
        )
        assert status == 401 and "Invalid API key or access token" in body["errors"]
        status, body = await post(f"{fake.url}/admin/api/2025-01/graphql.json", {"query": ITEMS}, good)
        assert status == 200 and body["errors"][0]["extensions"]["code"] == "missingRequiredArguments"
        status, body = await post(f"{fake.url}/admin/api/2025-13/graphql.json", {"query": ITEMS}, good)
        assert status == 404
        status, body = await post(f"{fake.url}/admin/api/2025-01/graphql.json", {"query": "{ shop { name } }"}, good)
        assert body["data"]["shop"]["name"] and body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000


async def test_square_rejects_wrong_requests():
    # More in test_square_spec.py, against Square's vendored OpenAPI definition.
    async with running_fake("square") as fake:
        url = f"{fake.url}/v2/inventory/counts/batch-retrieve"
        auth = {"Authorization": f"Bearer {TOKENS['square']}"}
        status, body = await post(url, {}, {**auth, "Square-Version": "2025-1-23"})
        assert status == 400 and body["errors"][0]["code"] == "INVALID_SQUARE_VERSION_FORMAT"
        versioned = {**auth, "Square-Version": "2025-01-23"}
        status, body = await post(url, {"location_ids": ["LNORTHSTORE01"], "page": 2}, versioned)
        assert status == 400 and body["errors"][0] == {
            "category": "INVALID_REQUEST_ERROR",
            "code": "UNKNOWN_BODY_PARAMETER",
            "detail": "Unknown field `page`.",
            "field": "page",
        }
        status, body = await post(url, {"limit": 5000}, versioned)
        assert status == 400 and body["errors"][0]["field"] == "limit"
        status, body = await post(url, {}, {"Authorization": "Bearer wrong", "Square-Version": "2025-01-23"})
        assert status == 401 and body["errors"][0]["category"] == "AUTHENTICATION_ERROR"
        status, body = await post(
            url, {"location_ids": ["LNORTHSTORE01"], "states": ["IN_STOCK"], "limit": 3}, versioned
        )
        assert status == 200 and len(body["counts"]) == 3 and body["cursor"]
        assert body["counts"][0]["quantity"] == str(int(body["counts"][0]["quantity"]))  # a decimal string


async def test_odoo_answers_errors_inside_http_200():
    async with running_fake("odoo") as fake:

        def call(password, fields):
            return {
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {
                    "service": "object",
                    "method": "execute_kw",
                    "args": ["inventory", 2, password, "stock.quant", "search_read", [[]], {"fields": fields}],
                },
            }

        status, body = await post(f"{fake.url}/jsonrpc", call("wrong", ["quantity"]))
        assert status == 200 and body["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
        status, body = await post(f"{fake.url}/jsonrpc", call(TOKENS["odoo"], ["qty"]))
        assert status == 200 and "Invalid field 'qty'" in body["error"]["data"]["message"]
        status, body = await post(f"{fake.url}/jsonrpc", call(TOKENS["odoo"], ["product_id", "quantity"]))
        assert status == 200 and body["result"][0]["product_id"][1].startswith("[SKU-")


async def test_control_api():
    async with running_fake("square") as fake:
        status, body = await post(f"{fake.url}/_control", {"bogus": 1})
        assert status == 400 and "unknown switch" in body["error"]
        status, body = await post(f"{fake.url}/_control", {"error": "500", "error_count": 1, "page_size": 4})
        assert status == 200 and body["switches"]["error"] == "500"


def test_cli_serves_the_demo_database(inventory_db):
    from socket import socket

    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db_path = inventory_db.removeprefix("sqlite:///")
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.fakes.shopify", "--port", str(port), "--db", db_path],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_control", timeout=2) as resp:
                    status = json.loads(resp.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(process.stdout.read().decode() if process.poll() is not None else "no answer")
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    # The default mapping gid://shopify/Location/1001 -> online: the 30 online rows of the seed.
    assert status["rows"] == 30
    assert status["location_map"] == {"gid://shopify/Location/1001": "online"}
