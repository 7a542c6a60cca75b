"""Prometheus's HTTP query API for reports: the enhancer's client (timeouts, bounded
retries, decoded errors), with each failure named after the figure's query.

Any failure raises QueryError naming the query, so the CLI can print one line and exit 1
before a single file is written.
"""

from __future__ import annotations

import asyncio

import aiohttp

from servicekit.http_client import HTTPClientConfig
from servicekit.prometheus import PrometheusClient, PrometheusError, PrometheusUnavailable, Sample, Series

__all__ = ["Prometheus", "QueryError", "Sample", "Series"]


class QueryError(Exception):
    """A query could not be answered; str() names the query and the reason."""

    def __init__(self, name: str, promql: str, reason: str):
        self.name, self.promql, self.reason = name, promql, reason
        compact = " ".join(promql.split())
        super().__init__(f"query {name} failed: {reason} (PromQL: {compact})")


class Prometheus:
    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 4,
        http: HTTPClientConfig | None = None,  # the config's prometheus: basic_auth, authorization, tls_config
    ):
        self._client = PrometheusClient(url, session, timeout=timeout, retries=retries, backoff=backoff, http=http)
        # A report asks ~100 queries; a few at a time keeps a small Prometheus responsive.
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def client(self) -> PrometheusClient:
        """The underlying client (auth, TLS, retries), for the dashboard renderer."""
        return self._client

    async def query(self, name: str, promql: str, at: float) -> list[Sample]:
        async with self._slots:
            try:
                return await self._client.query(promql, at)
            except PrometheusError as exc:
                raise QueryError(name, promql, str(exc)) from None
            except PrometheusUnavailable as exc:
                raise QueryError(name, promql, f"Prometheus unreachable: {exc}") from None

    async def query_range(self, name: str, promql: str, start: float, end: float, step: float) -> list[Series]:
        async with self._slots:
            try:
                return await self._client.query_range(promql, start, end, step)
            except PrometheusError as exc:
                raise QueryError(name, promql, str(exc)) from None
            except PrometheusUnavailable as exc:
                raise QueryError(name, promql, f"Prometheus unreachable: {exc}") from None
