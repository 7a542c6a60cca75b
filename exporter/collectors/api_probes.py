"""HTTP probes of the inventory API's endpoints, blackbox-style: status, latency, body."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorBase
from exporter.config import ApiProbe, ApiProbesConfig

log = logging.getLogger("exporter.api_probes")

# Enough of the body to find an expected substring without reading a huge page.
_MAX_BODY_BYTES = 1 << 20


class ApiProbeCollector(CollectorBase):
    name = "api_probes"

    def __init__(self, probes: list[ApiProbe], settings: ApiProbesConfig):
        self.probes = probes
        self.interval = settings.interval
        self.default_timeout = settings.timeout
        # The collector's own timeout covers the slowest probe plus a margin.
        self.timeout = max(p.timeout or settings.timeout for p in probes) + 1.0
        self._session: aiohttp.ClientSession | None = None

    async def collect(self) -> list[Metric]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "inventory-exporter"})
        results = await asyncio.gather(*(self._probe(p) for p in self.probes))
        up = GaugeMetricFamily("inventory_api_up", "1 if the last probe of the endpoint succeeded.", labels=["target"])
        duration = GaugeMetricFamily(
            "inventory_api_probe_duration_seconds", "Duration of the last probe.", labels=["target"], unit="seconds"
        )
        status = GaugeMetricFamily(
            "inventory_api_probe_http_status_code", "HTTP status of the last probe (0 if none).", labels=["target"]
        )
        for probe, (ok, seconds, code) in zip(self.probes, results):
            up.add_metric([probe.target], 1 if ok else 0)
            duration.add_metric([probe.target], seconds)
            status.add_metric([probe.target], code)
        return [up, duration, status]

    async def _probe(self, probe: ApiProbe) -> tuple[bool, float, int]:
        timeout = aiohttp.ClientTimeout(total=probe.timeout or self.default_timeout)
        started = time.perf_counter()
        code = 0
        try:
            async with self._session.request(probe.method, probe.url, timeout=timeout, allow_redirects=True) as resp:
                code = resp.status
                body = await resp.content.read(_MAX_BODY_BYTES) if probe.expect_body is not None else b""
            ok = code in probe.expected_status
            if ok and probe.expect_body is not None and probe.expect_body.encode() not in body:
                ok = False
                log.warning("probe %s: body does not contain the expected text", probe.target)
            elif not ok:
                log.warning("probe %s: HTTP %d not in %s", probe.target, code, probe.expected_status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            ok = False
            log.warning(
                "probe %s failed: %s",
                probe.target,
                type(exc).__name__ if isinstance(exc, asyncio.TimeoutError) else exc,
            )
        return ok, time.perf_counter() - started, code

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
