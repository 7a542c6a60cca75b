"""HTTP probes of the inventory API's endpoints, blackbox-style: status, latency, body."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

import aiohttp
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorBase
from exporter.config import ApiProbe, ApiProbesConfig

log = logging.getLogger("exporter.api_probes")

# Bodies are searched as they arrive, up to each probe's body_size_limit (blackbox_exporter's
# name), so a large page costs time, not memory.
_CHUNK_BYTES = 64 << 10


class ApiProbeCollector(CollectorBase):
    name = "api_probes"

    def __init__(self, probes: list[ApiProbe], settings: ApiProbesConfig):
        self.probes = probes
        self.interval = settings.interval
        self.default_timeout = settings.timeout
        # The collector's own timeout covers the slowest probe plus a margin.
        self.timeout = max(p.timeout or settings.timeout for p in probes) + 1.0
        self._session: aiohttp.ClientSession | None = None
        # Built once: loading a CA file per probe run would cost more than the probe.
        self._ssl: dict[str, ssl.SSLContext | bool] = {
            p.target: p.tls_config.ssl_context() if p.tls_config else True for p in probes
        }

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
        session = self._session
        assert session is not None  # collect() opened it
        try:
            async with session.request(
                probe.method,
                probe.url,
                timeout=timeout,
                allow_redirects=True,
                ssl=self._ssl[probe.target],
                server_hostname=probe.tls_config.server_name if probe.tls_config else None,
            ) as resp:
                code = resp.status
                found = (
                    await _body_contains(resp, probe.expect_body, probe.body_size_limit)
                    if probe.expect_body is not None
                    else True
                )
            ok = code in probe.expected_status
            if ok and not found:
                ok = False
                log.warning(
                    "probe %s: the first %d bytes of the body do not contain the expected text",
                    probe.target,
                    probe.body_size_limit,
                )
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


async def _body_contains(resp: aiohttp.ClientResponse, text: str, limit: int) -> bool:
    """Whether `text` occurs in the body's first `limit` bytes, found across chunk edges."""
    needle = text.encode()
    keep = max(len(needle) - 1, 0)  # the tail that may hold the start of a match
    window, read = b"", 0
    async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
        chunk = chunk[: limit - read]
        read += len(chunk)
        window = window[-keep:] if keep else b""
        window += chunk
        if needle in window:
            return True
        if read >= limit:
            break
    return False
