"""Answers Prometheus never sends are the query's error, never a crash; labels are capped."""

from __future__ import annotations

import math

import aiohttp
import pytest
from aiohttp import web

from servicekit.prometheus import MAX_LABEL_CHARS, PrometheusClient, PrometheusError


def vector(*items) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": list(items)}}


MALFORMED = [
    (vector({"metric": ["a", "b"], "value": [1, "1"]}), "result[0].metric is a list of 2, not an object"),
    (vector({"metric": {"a": "x"}, "value": [1, "many"]}), "result[0].value is not a number: 'many'"),
    (vector({"metric": {"a": "x"}, "value": [1, None]}), "is not a number"),
    (vector({"metric": {"a": "x"}, "value": [1, True]}), "is not a number"),
    (vector({"metric": {"a": "x"}}), "result[0].value is None, not [time, value]"),
    (vector({"value": [1, "1"]}), "result[0].metric is None, not an object"),
    (vector({"metric": {"a": 5}, "value": [1, "1"]}), "label 'a' is 5"),
    (vector("oops"), "result[0] is 'oops', not an object"),
    ({"status": "success", "data": {"resultType": "vector", "result": {"a": 1}}}, "result is an object of 1"),
    ({"status": "success", "data": {"resultType": "vector"}}, "result is None, not a list"),
    ({"status": "success", "data": ["x"]}, "data is a list of 1, not an object"),
    ({"status": "success", "data": {"resultType": "scalar", "result": [1]}}, "result is a list of 1"),
    ({"status": "success", "data": {"resultType": 7, "result": []}}, "resultType 7"),
]

MALFORMED_RANGES = [
    ({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": [], "values": []}]}}, "metric is"),
    ({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": 3}]}}, "not a list"),
    (
        {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}},
        "values[0] is not a number",
    ),
    ({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [1]}]}}, "values[0]"),
]


@pytest.fixture
async def fake_prometheus(aiohttp_server):
    """Answers every query with `answer[0]`."""
    answer: list[object] = [None]

    async def handle(_request: web.Request) -> web.Response:
        return web.json_response(answer[0])

    app = web.Application()
    app.router.add_get("/api/v1/query", handle)
    app.router.add_get("/api/v1/query_range", handle)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        yield answer, PrometheusClient(str(server.make_url("")), session, retries=0)


@pytest.mark.parametrize("body, problem", MALFORMED)
async def test_a_malformed_instant_answer_is_a_bad_response(fake_prometheus, body, problem):
    answer, client = fake_prometheus
    answer[0] = body
    with pytest.raises(PrometheusError) as caught:
        await client.query("up", 1000.0)
    assert caught.value.error_type == "bad_response", caught.value
    assert problem in str(caught.value)
    assert client.up is True  # the server answered: the rule's error, not an outage


@pytest.mark.parametrize("body, problem", MALFORMED_RANGES)
async def test_a_malformed_range_answer_is_a_bad_response(fake_prometheus, body, problem):
    answer, client = fake_prometheus
    answer[0] = body
    with pytest.raises(PrometheusError, match="bad_response") as caught:
        await client.query_range("up", 0.0, 60.0, 15.0)
    assert problem in str(caught.value)


async def test_well_formed_answers_still_parse(fake_prometheus):
    answer, client = fake_prometheus
    answer[0] = vector(
        {"metric": {"__name__": "m", "a": "x"}, "value": [1, "2.5"]}, {"metric": {}, "value": [1, "+Inf"]}
    )
    samples = await client.query("m", 1.0)
    assert [s.labels for s in samples] == [{"a": "x"}, {}]
    assert samples[0].value == 2.5 and math.isnan(samples[1].value)
    answer[0] = {"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}}
    assert (await client.query("3", 1.0))[0].value == 3.0


async def test_huge_label_values_and_names_are_cut_and_stay_distinct(fake_prometheus):
    answer, client = fake_prometheus
    huge = "x" * 100_000
    answer[0] = vector(
        {"metric": {"sku": huge + "1", "n" * 5000: "v"}, "value": [1, "1"]},
        {"metric": {"sku": huge + "2"}, "value": [1, "1"]},
        {"metric": {"sku": "x" * MAX_LABEL_CHARS}, "value": [1, "1"]},
    )
    first, second, exact = await client.query("m", 1.0)
    assert all(len(name) < MAX_LABEL_CHARS + 100 for name in first.labels)
    assert len(first.labels["sku"]) < MAX_LABEL_CHARS + 100
    assert first.labels["sku"].startswith("x" * MAX_LABEL_CHARS + "...[98977 more characters, sha256 ")
    assert first.labels["sku"] != second.labels["sku"]  # two series stay two targets
    assert exact.labels["sku"] == "x" * MAX_LABEL_CHARS  # at the cap: untouched


async def test_a_huge_error_text_is_cut(fake_prometheus):
    answer, client = fake_prometheus
    answer[0] = {"status": "error", "errorType": "bad_data", "error": "e" * 100_000}
    with pytest.raises(PrometheusError) as caught:
        await client.query("up", 1.0)
    assert len(str(caught.value)) < 700
