"""The /metrics body of every service: metric families encoded as the Prometheus text
format or OpenMetrics, gzipped or not, as a scrape's Accept and Accept-Encoding ask.

Two ways to use it, one negotiation and one response:

- `Snapshot.render(families)` encodes all four bodies at once, to be swapped in whole;
  a scrape then only picks bytes (the exporter: collection is slow, scrapes are many).
- `encode(families, fmt)` encodes the one body a scrape asked for (the enhancer: its
  few families are read at the moment of the scrape).

Both are CPU work: call them in a worker thread, never in the event loop.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

# Fast enough to run on every collector cycle, and scrape bodies shrink ~10x.
_GZIP_LEVEL = 6


class Format(NamedTuple):
    """What a scrape asked for."""

    openmetrics: bool
    gzip: bool

    @classmethod
    def negotiate(cls, headers: Mapping[str, str]) -> Format:
        return cls(
            openmetrics="application/openmetrics-text" in headers.get("Accept", ""),
            gzip="gzip" in headers.get("Accept-Encoding", ""),
        )

    @property
    def content_type(self) -> str:
        return CONTENT_TYPE_OPENMETRICS if self.openmetrics else CONTENT_TYPE_PLAIN_0_0_4


class _Families:
    """The minimal registry interface prometheus_client's encoders need."""

    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _exposition(families: list[Metric], openmetrics: bool) -> bytes:
    registry = _Families(families)
    if openmetrics:
        body: bytes = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
        return body
    return generate_latest(registry)


def encode(families: Iterable[Metric], fmt: Format) -> bytes:
    """The one body `fmt` asks for."""
    body = _exposition(list(families), fmt.openmetrics)
    return gzip.compress(body, _GZIP_LEVEL) if fmt.gzip else body


@dataclass(frozen=True)
class Snapshot:
    """Every body a scrape may ask for, rendered at once and immutable."""

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes

    @classmethod
    def render(cls, families: list[Metric]) -> Snapshot:
        text = _exposition(families, openmetrics=False)
        openmetrics = _exposition(families, openmetrics=True)
        return cls(
            text=text,
            text_gzip=gzip.compress(text, _GZIP_LEVEL),
            openmetrics=openmetrics,
            openmetrics_gzip=gzip.compress(openmetrics, _GZIP_LEVEL),
        )

    def body(self, fmt: Format) -> bytes:
        if fmt.openmetrics:
            return self.openmetrics_gzip if fmt.gzip else self.openmetrics
        return self.text_gzip if fmt.gzip else self.text


def metrics_response(body: bytes, fmt: Format) -> web.Response:
    """The /metrics response for a body encoded as `fmt`."""
    headers = {"Content-Type": fmt.content_type}
    if fmt.gzip:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)
