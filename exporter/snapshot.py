"""An immutable, pre-rendered view of every metric family, swapped in whole.

A scrape only picks the bytes that fit its Accept and Accept-Encoding headers, so it
costs serialisation once per collector cycle, not once per scrape.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Iterable

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.samples import Sample

# Fast enough to run on every collector cycle, and scrape bodies shrink ~10x.
_GZIP_LEVEL = 6


class _Families:
    """The minimal registry interface prometheus_client's encoders need."""

    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def with_constant_labels(families: Iterable[Metric], labels: dict[str, str]) -> list[Metric]:
    """Copy families adding the same labels to every sample (e.g. tenant)."""
    if not labels:
        return list(families)
    out = []
    for family in families:
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        copy.samples = [
            Sample(s.name, {**labels, **s.labels}, s.value, s.timestamp, s.exemplar) for s in family.samples
        ]
        out.append(copy)
    return out


@dataclass(frozen=True)
class Snapshot:
    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes

    @classmethod
    def render(cls, families: list[Metric]) -> "Snapshot":
        registry = _Families(families)
        text = generate_latest(registry)
        openmetrics = generate_openmetrics(registry)
        return cls(
            text=text,
            text_gzip=gzip.compress(text, _GZIP_LEVEL),
            openmetrics=openmetrics,
            openmetrics_gzip=gzip.compress(openmetrics, _GZIP_LEVEL),
        )

    def body_for(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """Return (body, content type, gzipped) for a request's headers."""
        use_openmetrics = "application/openmetrics-text" in accept
        use_gzip = "gzip" in accept_encoding
        if use_openmetrics:
            body = self.openmetrics_gzip if use_gzip else self.openmetrics
            return body, CONTENT_TYPE_OPENMETRICS, use_gzip
        body = self.text_gzip if use_gzip else self.text
        return body, CONTENT_TYPE_PLAIN_0_0_4, use_gzip


