"""The fake Odoo is bound to Odoo's published definitions (tests/vendor/odoo): its field
lists are the vendored declarations, and it answers JSON-2 with Odoo's statuses and
error object, /web/version as documented, and JSON-RPC on the old path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
from aiohttp import web
from integration_support import TOKENS

from demo.fakes import odoo as odoo_fake
from demo.fakes.common import FakeState

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "odoo"


def vendored_fields(model: str) -> set[str]:
    data = json.loads((VENDOR / "fields.json").read_text())
    return {f["name"] for f in data["models"][model]["fields"]}


def test_the_fake_searches_exactly_the_vendored_stored_fields():
    assert odoo_fake.QUANT_STORED == vendored_fields("stock.quant")
    assert odoo_fake.LOCATION_STORED == vendored_fields("stock.location")
    assert odoo_fake.PRODUCT_STORED == vendored_fields("product.product")


def test_the_documented_error_object_and_version_answer():
    doc = (VENDOR / "external_api_json2.rst").read_text()
    response = doc[doc.index("In case of **error**") :]
    keys = re.findall(r"^:(name|message|arguments|context|debug):", response, re.M)
    assert keys == ["name", "message", "arguments", "context", "debug"]
    assert '{"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}' in doc


async def _serve(version: str = "19.0"):
    state = FakeState("odoo", TOKENS["odoo"], {"8": "wh-main"}, stock={("A", "8"): (5, 1), ("B", "8/30"): (2, 0)})
    runner = web.AppRunner(odoo_fake.build_app(state, server_version=version), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def test_json2_answers_and_rejects_as_odoo_does():
    runner, url = await _serve()
    auth = {"Authorization": f"bearer {TOKENS['odoo']}", "X-Odoo-Database": "inventory"}
    doc_keys = {"name", "message", "arguments", "context", "debug"}
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{url}/web/version") as r:
                assert r.status == 200 and await r.json() == {
                    "version_info": [19, 0, 0, "final", 0, ""],
                    "version": "19.0",
                }
            quant = f"{url}/json/2/stock.quant/search_read"
            body = {"domain": [["location_id", "child_of", [8]]], "fields": ["product_id", "quantity"], "order": "id"}
            async with s.post(quant, json=body, headers=auth) as r:
                rows = await r.json()
                assert r.status == 200 and {row["product_id"][1] for row in rows} == {"[A] Product A", "[B] Product B"}
            async with s.post(quant, json={**body, "domain": [["location_id", "in", [8]]]}, headers=auth) as r:
                assert {row["product_id"][1] for row in await r.json()} == {"[A] Product A"}  # 8/30 is a child
            async with s.post(quant, json=body) as r:  # no bearer
                err = await r.json()
                assert r.status == 401 and set(err) == doc_keys
                assert err["name"] == "werkzeug.exceptions.Unauthorized" and err["arguments"] == ["Invalid apikey", 401]
            async with s.post(quant, json=body, headers={**auth, "Authorization": "bearer wrong"}) as r:
                assert r.status == 401
            async with s.post(quant, json=body, headers={**auth, "X-Odoo-Database": "nope"}) as r:
                assert r.status == 404
            async with s.post(f"{url}/json/2/stock.qaunt/search_read", json=body, headers=auth) as r:
                err = await r.json()
                assert r.status == 404 and err["message"] == "the model 'stock.qaunt' does not exist"
            async with s.post(f"{url}/json/2/stock.quant/unlink_all", json={}, headers=auth) as r:
                assert r.status == 404
            async with s.get(quant, headers=auth) as r:
                assert r.status == 405
            async with s.post(quant, json={**body, "fields": ["qty"]}, headers=auth) as r:
                err = await r.json()
                assert r.status == 500 and err["name"] == "builtins.ValueError" and "'qty'" in err["message"]
            async with s.post(quant, json={**body, "domain": [["loc_id", "=", 8]]}, headers=auth) as r:
                err = await r.json()
                assert r.status == 500 and "Invalid field stock.quant.loc_id" in err["message"]
            async with s.post(quant, data=b"[1, 2]", headers={**auth, "Content-Type": "application/json"}) as r:
                assert r.status == 400
            # The old path keeps working on 19.
            rpc = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "common", "method": "version"}}
            async with s.post(f"{url}/jsonrpc", json=rpc) as r:
                assert (await r.json())["result"]["server_version"] == "19.0"
    finally:
        await runner.cleanup()


async def test_odoo_17_has_neither_web_version_nor_json2():
    runner, url = await _serve("17.0")
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{url}/web/version") as r:
                assert r.status == 404
            async with s.post(f"{url}/json/2/stock.quant/search_read", json={}) as r:
                assert r.status == 404
    finally:
        await runner.cleanup()
