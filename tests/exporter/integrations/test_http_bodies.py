"""Answers of realistic size read whole, streamed results line by line, and remotes behind
a private CA or requiring a client certificate (exporter/integrations/http.py)."""

from __future__ import annotations

import json
import sqlite3
import ssl
from typing import Any

import pytest
from aiohttp import web
from integration_support import samples, value

from exporter.config import load_config
from exporter.db import Database
from exporter.integrations import CONNECTORS
from exporter.integrations.collector import IntegrationCollector
from exporter.integrations.http import HttpClient, RemoteError, RequestStats
from servicekit.config import ConfigError
from tests.tls_certs import CA

# The size the issue reported: a WMS listing 30,794 SKU-locations in one 3.8 MB answer.
SKUS = 15_397
LOCATIONS = ("A", "B")
DRIFTED = {(f"SKU-{i:06d}", "A"): 3 for i in range(0, SKUS, 1_000)}  # 16 SKU-locations


def _stock(i: int) -> int:
    return (i * 7919) % 500


def _listing() -> bytes:
    items = []
    for i in range(SKUS):
        sku = f"SKU-{i:06d}"
        for location in LOCATIONS:
            available = _stock(i) + DRIFTED.get((sku, location), 0)
            items.append(
                {
                    "sku": sku,
                    "location": {"id": location, "name": f"Warehouse {location}", "zone": "picking"},
                    "available": available,
                    "description": f"Item {sku}, pallet-level stock as reported by the WMS",
                }
            )
    return json.dumps({"items": items}).encode()


@pytest.fixture
def big_inventory(sqlite_db) -> str:
    conn = sqlite3.connect(sqlite_db)
    conn.executemany("INSERT INTO locations VALUES (?, ?, 'warehouse')", [("wh-a", "A"), ("wh-b", "B")])
    conn.executemany(
        "INSERT INTO products (sku, name) VALUES (?, ?)", [(f"SKU-{i:06d}", f"Item {i}") for i in range(SKUS)]
    )
    conn.executemany(
        "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) VALUES (?, ?, ?, 0, '2026-11-27')",
        [(f"SKU-{i:06d}", loc, _stock(i)) for i in range(SKUS) for loc in ("wh-a", "wh-b")],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{sqlite_db}"


async def _serve_chunked(request: web.Request, body: bytes, piece: int = 16_384) -> web.StreamResponse:
    """As a WMS behind a proxy answers: chunked transfer encoding, many small writes."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(body), piece):
        await response.write(body[start : start + piece])
    await response.write_eof()
    return response


async def _serve_whole(request: web.Request, body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _handler(serve: Any, body: bytes) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await serve(request, body)

    return handle


def _rest_settings(url: str, **extra: Any):
    data = {
        "name": "wms",
        "kind": "rest_json",
        "url": url,
        "path": "/api/stock",
        "items_path": "items",
        "sku_path": "sku",
        "location_path": "location.id",
        "quantity_path": "available",
        "paging": "none",
        "locations": {"A": "wh-a", "B": "wh-b"},
        "timeout": 60,
        "request_timeout": 30,
        "retries": 0,
        **extra,
    }
    return CONNECTORS["rest_json"].Settings.model_validate(data)


async def test_a_5_mb_chunked_answer_is_read_whole_and_compared(aiohttp_server, big_inventory):
    body = _listing()
    assert len(body) > 5_000_000
    app = web.Application()
    app.router.add_get("/api/stock", _handler(_serve_chunked, body))
    server = await aiohttp_server(app)
    collector = IntegrationCollector(
        _rest_settings(f"http://127.0.0.1:{server.port}"), CONNECTORS["rest_json"], Database(big_inventory, timeout=30)
    )
    try:
        families = await collector.collect()
    finally:
        await collector.close()
    assert value(families, "inventory_integration_fetch_success", integration="wms") == 1

    def by_location(name: str) -> dict[str, float]:
        return {dict(labels)["location"]: v for labels, v in samples(families, name).items()}

    assert by_location("inventory_integration_compared_skus") == {"wh-a": SKUS, "wh-b": SKUS}
    assert by_location("inventory_integration_stock_mismatch_skus") == {"wh-a": len(DRIFTED), "wh-b": 0}


async def test_an_answer_over_body_size_limit_is_refused_with_the_limit_named(aiohttp_server, big_inventory):
    body = _listing()
    app = web.Application()
    app.router.add_get("/api/stock", _handler(_serve_chunked, body))
    app.router.add_get("/sized", _handler(_serve_whole, body))
    server = await aiohttp_server(app)
    stats = RequestStats()
    client = HttpClient(
        "wms",
        f"http://127.0.0.1:{server.port}",
        stats,
        request_timeout=30,
        retries=0,
        backoff=0.01,
        body_size_limit=1 << 20,
    )
    try:
        for path in ("/api/stock", "/sized"):  # streamed without a length, and announced by Content-Length
            with pytest.raises(RemoteError) as caught:
                await client.request_json("GET", path)
            assert caught.value.kind == "bad_response"
            assert "body_size_limit 1048576" in str(caught.value)
        client.body_size_limit = len(body)  # exactly the size: accepted
        assert len((await client.request_json("GET", "/sized")).data["items"]) == SKUS * len(LOCATIONS)
    finally:
        await client.close()
    # Config spelling as Prometheus's: 10MB is 10 MiB there, and here.
    assert _rest_settings("http://x", body_size_limit="10MB").body_size_limit == 10 << 20


@pytest.fixture
async def jsonl_server(aiohttp_server):
    state: dict[str, Any] = {"fail_first": 0, "requests": []}
    lines = [json.dumps({"id": f"gid://shopify/InventoryItem/{i}", "sku": f"SKU-{i}"}).encode() for i in range(200_000)]
    body = b"\n".join(lines[:100_000]) + b"\r\n" + b"\n".join(lines[100_000:])  # CRLF once, no final newline

    async def result(request: web.Request) -> web.StreamResponse:
        state["requests"].append(dict(request.headers))
        if state["fail_first"]:
            state["fail_first"] -= 1
            return web.Response(status=503)
        return await _serve_chunked(request, body, piece=4_093)

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        request.transport.close()  # the storage connection drops mid-file
        return response

    app = web.Application()
    app.router.add_get("/result.jsonl", result)
    app.router.add_get("/truncated.jsonl", truncated)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}", state, lines


async def test_stream_lines_yields_every_line_once_across_chunks_and_retries_the_opening(jsonl_server):
    base, state, lines = jsonl_server
    state["fail_first"] = 1
    stats = RequestStats()
    client = HttpClient("shop", "https://shop.example", stats, request_timeout=5, retries=2, backoff=0.01)
    client.secret = None
    try:
        got = [line async for line in client.stream_lines(f"{base}/result.jsonl")]
    finally:
        await client.close()
    assert got == lines
    assert len(state["requests"]) == 2  # the 503 was retried before any line
    assert all("Authorization" not in headers for headers in state["requests"])
    assert stats.by_code == {"503": 1, "200": 1}


async def test_a_download_cut_short_is_an_error_not_a_short_result(jsonl_server):
    base, _, lines = jsonl_server
    client = HttpClient("shop", "https://shop.example", RequestStats(), request_timeout=5, retries=0, backoff=0.01)
    got = []
    try:
        with pytest.raises(RemoteError) as caught:
            async for line in client.stream_lines(f"{base}/truncated.jsonl"):
                got.append(line)
    finally:
        await client.close()
    assert caught.value.kind == "bad_response"
    assert "truncated" in str(caught.value)
    assert 0 < len(got) < len(lines)


# --- TLS: a private CA and a client certificate --------------------------------------


@pytest.fixture
async def tls_remote(aiohttp_server, tmp_path):
    """A WMS on https://127.0.0.1 with a certificate of a private CA; `state` toggles mTLS."""
    ca = CA(tmp_path, "wms-ca")
    server_cert, server_key = ca.issue(tmp_path / "server", "localhost", server=True)
    client_cert, client_key = ca.issue(tmp_path / "client", "inventory-exporter", server=False)
    other_ca = CA(tmp_path, "other-ca")
    stranger_cert, stranger_key = other_ca.issue(tmp_path / "stranger", "someone", server=False)
    body = json.dumps({"items": [{"sku": "SKU-000001", "location": {"id": "A"}, "available": _stock(1)}]}).encode()

    def context(require_client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(server_cert, server_key)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ca.cert_path)
        return ctx

    async def start(require_client_cert: bool) -> str:
        app = web.Application()
        app.router.add_get("/api/stock", _handler(_serve_whole, body))
        server = await aiohttp_server(app, ssl=context(require_client_cert))
        return f"https://127.0.0.1:{server.port}"

    return start, {
        "ca": str(ca.cert_path),
        "cert": str(client_cert),
        "key": str(client_key),
        "stranger_cert": str(stranger_cert),
        "stranger_key": str(stranger_key),
    }


async def _fetch(url: str, tls: dict[str, Any] | None) -> RemoteError | int:
    settings = _rest_settings(url, **({"tls_config": tls} if tls is not None else {}))
    client = HttpClient("wms", url, RequestStats(), request_timeout=5, retries=0, backoff=0.01, tls=settings.tls_config)
    try:
        return len((await client.request_json("GET", "/api/stock")).data["items"])
    except RemoteError as exc:
        return exc
    finally:
        await client.close()


async def test_a_private_ca_is_trusted_only_through_ca_file(tls_remote):
    start, files = tls_remote
    url = await start(require_client_cert=False)
    refused = await _fetch(url, None)
    assert isinstance(refused, RemoteError) and refused.kind == "connection"
    assert "certificate verify failed" in str(refused)
    assert await _fetch(url, {"ca_file": files["ca"]}) == 1
    # A certificate for another name: refused, unless server_name says which name to expect.
    renamed = await _fetch(url, {"ca_file": files["ca"], "server_name": "wms.internal"})
    assert isinstance(renamed, RemoteError) and "wms.internal" in str(renamed)
    assert await _fetch(url, {"ca_file": files["ca"], "server_name": "localhost"}) == 1
    assert await _fetch(url, {"insecure_skip_verify": True}) == 1


async def test_a_remote_requiring_a_client_certificate(tls_remote):
    start, files = tls_remote
    url = await start(require_client_cert=True)
    without = await _fetch(url, {"ca_file": files["ca"]})
    assert isinstance(without, RemoteError) and without.kind == "connection"
    stranger = await _fetch(
        url, {"ca_file": files["ca"], "cert_file": files["stranger_cert"], "key_file": files["stranger_key"]}
    )
    assert isinstance(stranger, RemoteError)
    assert await _fetch(url, {"ca_file": files["ca"], "cert_file": files["cert"], "key_file": files["key"]}) == 1


def test_tls_config_problems_name_their_key(tmp_path, tls_remote, monkeypatch):
    _, files = tls_remote
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = {
        "integrations.0.tls_config.ca_file": {"ca_file": str(tmp_path / "missing.pem")},
        "integrations.0.tls_config.ca_file:": {"ca_file": str(not_pem)},
        "integrations.0.tls_config.key_file": {"cert_file": files["cert"]},
        "integrations.0.tls_config.cert_file": {"cert_file": files["cert"], "key_file": files["stranger_key"]},
        "integrations.0.tls_config.server": {"server": "x"},
    }
    for where, tls in cases.items():
        path = tmp_path / "exporter.yml"
        path.write_text(
            json.dumps(
                {
                    "integrations": [
                        {
                            "name": "wms",
                            "kind": "rest_json",
                            "url": "https://wms.internal",
                            "sku_path": "sku",
                            "location_path": "location",
                            "quantity_path": "available",
                            "locations": {"A": "wh-a"},
                            "tls_config": tls,
                        }
                    ]
                }
            )
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: {where.rstrip(':')}"), message
        assert "\n" not in message
