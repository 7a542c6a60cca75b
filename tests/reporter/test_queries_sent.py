"""The requests one report sends to Prometheus: each distinct query once.

Counted on the wire (aiohttp's request tracing) against the real Prometheus of the
reporter tests, for a weekly report with every section (capacity included).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import parse_qsl

import aiohttp
import pytest

from reporter.config import parse_config
from reporter.figures.catalogue import CHARTS, SPECS
from reporter.periods import period_containing
from reporter.pipeline import produce
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

pytestmark = pytest.mark.prometheus


async def test_a_report_sends_each_query_once(prometheus, tmp_path):
    config = parse_config(base_config(prometheus.url, tmp_path / "archive"))
    period = period_containing("weekly", datetime.fromtimestamp(d.B, UTC).date(), config.tz, config.week_start)
    sent: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    async def on_request_start(
        _session: aiohttp.ClientSession, _context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent[params.url.path, tuple(sorted(parse_qsl(params.url.query_string)))] += 1

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        await produce(config, period, ["json"], tmp_path / "archive", send=False, session=session)

    repeated = {request: count for request, count in sent.items() if count > 1}
    assert not repeated, f"sent more than once: {repeated}"
    # and nothing was left out: every figure's query and fallback for both periods, two
    # range queries per chart, less the one the periods share (the stock value at this
    # week's start is the one at the last week's end)
    instant = sum(2 * ((spec.query is not None) + (spec.fallback is not None)) for spec in SPECS)
    assert sum(1 for path, _ in sent if path == "/api/v1/query") == instant - 1
    assert sum(1 for path, _ in sent if path == "/api/v1/query_range") == 2 * len(CHARTS)
