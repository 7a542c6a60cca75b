"""servicekit/api_metrics.py: the request metrics any aiohttp inventory API can use."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from servicekit.api_metrics import DURATION_BUCKETS, instrument


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def gate():
    return asyncio.Event()


@pytest.fixture
async def client(aiohttp_client, gate):
    async def item(request: web.Request) -> web.Response:
        return web.json_response({"sku": request.match_info["sku"]})

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    async def slow(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="done")

    async def created(request: web.Request) -> web.Response:
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_get("/products/{sku}", item)
    app.router.add_get("/missing", missing)
    app.router.add_get("/boom", boom)
    app.router.add_get("/slow", slow)
    app.router.add_post("/orders", created)
    instrument(app)
    return await aiohttp_client(app)


async def _metrics(client) -> dict:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return _samples(await resp.text())


async def test_handler_is_the_route_template_not_the_raw_path(client):
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        assert (await client.get(f"/products/{sku}")).status == 200
    samples = await _metrics(client)
    assert _value(samples, "inventory_api_requests_total", handler="/products/{sku}", method="GET", code="200") == 3
    assert not any("SKU-1" in str(key) for key in samples), "a raw path leaked into a label"
    assert _value(samples, "inventory_api_request_duration_seconds_count", handler="/products/{sku}", method="GET") == 3


async def test_unmatched_routes_share_one_handler_label(client):
    for path in ("/nope", "/also/nope", "/products"):
        assert (await client.get(path)).status == 404
    assert (await client.delete("/orders")).status == 405  # route exists, method does not
    samples = await _metrics(client)
    assert _value(samples, "inventory_api_requests_total", handler="other", method="GET", code="404") == 3
    assert _value(samples, "inventory_api_requests_total", handler="other", method="DELETE", code="405") == 1
    handlers = {dict(labels).get("handler") for (name, labels) in samples if name == "inventory_api_requests_total"}
    assert "/nope" not in handlers and "/also/nope" not in handlers


async def test_status_codes_of_raised_responses_and_crashes(client):
    assert (await client.get("/missing")).status == 404
    assert (await client.get("/boom")).status == 500
    assert (await client.post("/orders")).status == 201
    samples = await _metrics(client)
    assert _value(samples, "inventory_api_requests_total", handler="/missing", method="GET", code="404") == 1
    assert _value(samples, "inventory_api_requests_total", handler="/boom", method="GET", code="500") == 1
    assert _value(samples, "inventory_api_requests_total", handler="/orders", method="POST", code="201") == 1


async def test_unknown_methods_are_bounded(client):
    assert (await client.request("PROPFIND", "/products/x")).status == 405
    samples = await _metrics(client)
    assert _value(samples, "inventory_api_requests_total", handler="other", method="other", code="405") == 1


async def test_in_flight_counts_requests_being_served(client, gate):
    pending = [asyncio.ensure_future(client.get("/slow")) for _ in range(3)]
    for _ in range(100):
        samples = await _metrics(client)
        if _value(samples, "inventory_api_requests_in_flight", handler="/slow") == 3:
            break
        await asyncio.sleep(0.01)
    assert _value(samples, "inventory_api_requests_in_flight", handler="/slow") == 3
    gate.set()
    for response in await asyncio.gather(*pending):
        assert response.status == 200
    samples = await _metrics(client)
    assert _value(samples, "inventory_api_requests_in_flight", handler="/slow") == 0
    assert _value(samples, "inventory_api_requests_total", handler="/slow", method="GET", code="200") == 3


async def test_histogram_has_the_agreed_buckets(client):
    await client.get("/products/A")
    samples = await _metrics(client)
    buckets = sorted(
        float(dict(labels)["le"])
        for (name, labels) in samples
        if name == "inventory_api_request_duration_seconds_bucket" and dict(labels)["handler"] == "/products/{sku}"
    )
    assert buckets == sorted([*DURATION_BUCKETS, float("inf")])
    assert DURATION_BUCKETS == (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


async def test_slow_request_lands_in_the_right_bucket(aiohttp_client):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.06)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow", slow)
    instrument(app)
    client = await aiohttp_client(app)
    await client.get("/slow")
    samples = await _metrics(client)
    labels = {"handler": "/slow", "method": "GET"}
    assert _value(samples, "inventory_api_request_duration_seconds_bucket", le="0.05", **labels) == 0
    assert _value(samples, "inventory_api_request_duration_seconds_bucket", le="0.1", **labels) == 1
    assert _value(samples, "inventory_api_request_duration_seconds_sum", **labels) >= 0.06


async def test_two_instrumented_apps_do_not_share_counters(aiohttp_client):
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    clients = []
    for _ in range(2):
        app = web.Application()
        app.router.add_get("/x", ok)
        instrument(app)
        clients.append(await aiohttp_client(app))
    await clients[0].get("/x")
    await clients[0].get("/x")
    await clients[1].get("/x")
    first, second = await _metrics(clients[0]), await _metrics(clients[1])
    assert _value(first, "inventory_api_requests_total", handler="/x", method="GET", code="200") == 2
    assert _value(second, "inventory_api_requests_total", handler="/x", method="GET", code="200") == 1
