"""`expect_body` searches the whole body up to its cap, however the server sends it."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from aiohttp import web

from exporter.collectors.api_probes import ApiProbeCollector
from exporter.config import ApiProbe, ApiProbesConfig
from tests.exporter.test_business import of, samples
from tests.tls_certs import CA

MARKER = b'"status": "all-locations-synced"'


def _body(size: int, marker_at: int) -> bytes:
    filler = b'{"sku": "SKU-000000", "on_hand": 12},\n'
    body = bytearray((filler * (size // len(filler) + 1))[:size])
    body[marker_at : marker_at + len(MARKER)] = MARKER
    return bytes(body)


@pytest.fixture
async def large_page(aiohttp_server):
    """Serves 6 MB in small writes, so the body arrives in many chunks and reads."""
    state: dict[str, bytes] = {}

    async def page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        body = state["body"]
        for start in range(0, len(body), 7_919):  # a prime: marker straddles chunk edges
            await response.write(body[start : start + 7_919])
            if start % (512 * 1024) < 7_919:
                await asyncio.sleep(0)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/stock", page)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}/stock", state


async def _probe_up(url: str, **settings: Any) -> int:
    probe = ApiProbe(target="stock", url=url, expect_body=MARKER.decode(), **settings)
    collector = ApiProbeCollector([probe], ApiProbesConfig())
    try:
        return of(samples(await collector.collect()), "inventory_api_up")[("stock",)]
    finally:
        await collector.close()


@pytest.mark.parametrize("where", [0, 3_000_000, 6_000_000 - len(MARKER)])
async def test_expected_text_found_anywhere_in_a_6_mb_body(large_page, where):
    url, state = large_page
    state["body"] = _body(6_000_000, where)
    assert MARKER in state["body"]
    assert await _probe_up(url) == 1


async def test_text_split_across_chunk_edges_is_found(large_page):
    url, state = large_page
    # Every position modulo the server's write size and the reader's chunk size.
    for where in (7_919 - 5, 2 * 7_919 - 1, 65_536 - 3, 65_536 * 7 - 17):
        state["body"] = _body(1_000_000, where)
        assert await _probe_up(url) == 1, where


async def test_absent_text_and_text_past_the_cap_fail(large_page):
    url, state = large_page
    state["body"] = _body(6_000_000, 0).replace(MARKER, b"x" * len(MARKER))
    assert MARKER not in state["body"]
    assert await _probe_up(url) == 0
    state["body"] = _body(3_000_000, 2_000_000)
    assert await _probe_up(url, body_size_limit=1_000_000) == 0  # beyond the cap: not searched
    state["body"] = _body(3_000_000, 1_000_000 - len(MARKER))
    assert await _probe_up(url, body_size_limit=1_000_000) == 1  # the last bytes inside the cap are searched
    assert await _probe_up(url, body_size_limit=1_000_000 - 1) == 0


async def test_a_probe_trusts_a_private_ca_through_tls_config(aiohttp_server, tmp_path):
    ca = CA(tmp_path, "api-ca")
    cert, key = ca.issue(tmp_path / "api", "localhost", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=MARKER)

    app = web.Application()
    app.router.add_get("/health", health)
    server = await aiohttp_server(app, ssl=context)
    url = f"https://127.0.0.1:{server.port}/health"
    assert await _probe_up(url) == 0  # unknown CA
    assert await _probe_up(url, tls_config={"ca_file": str(ca.cert_path)}) == 1
