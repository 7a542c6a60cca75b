"""Client for Prometheus's HTTP query API: timeouts, bounded retries, decoded errors; and
the `prometheus:` section of the enhancer's and the reporter's configs that sets it up."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import Field, field_validator

from servicekit.config import Duration, DurationOrZero, HttpUrl, Model
from servicekit.retry import Retry, RetryableError, is_retryable
from servicekit.secrets import redact

log = logging.getLogger("servicekit.prometheus")

# Prometheus answers these when the query itself is wrong: retrying cannot help.
_QUERY_FAULT_STATUSES = {400, 422}


class PrometheusConfig(Model):
    """Where Prometheus is and how patiently to ask it (a service may extend it)."""

    url: HttpUrl = "http://127.0.0.1:9090"
    timeout: Duration = 10.0
    # Retries when Prometheus cannot be reached or is overloaded; a rejected query is never retried.
    retries: int = Field(default=2, ge=0, le=10)
    backoff: DurationOrZero = 0.5

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, url: str) -> str:
        return url.rstrip("/")


class PrometheusError(Exception):
    """Prometheus answered, and refused or failed the query (the rule's fault, not the server's)."""

    def __init__(self, error_type: str, message: str, status: int):
        self.error_type, self.message, self.status = error_type, message, status
        super().__init__(f"Prometheus rejected the query ({error_type}): {message}")


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or did not answer like Prometheus."""


def _retryable(error: Exception) -> bool:
    if isinstance(error, PrometheusError):
        # 503 (query timeout, overload) may pass; a wrong query will not
        return error.status not in _QUERY_FAULT_STATUSES
    return is_retryable(error)  # no Prometheus answer: unreachable, or not answering like Prometheus


def target_key(labels: dict[str, str]) -> str:
    """Canonical identity of a target (one returned series): its labels, sorted."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class PrometheusClient:
    def __init__(
        self, url: str, session: aiohttp.ClientSession, *, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5
    ):
        self.url = url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        # None until the first request; then whether the last request got a Prometheus answer
        self.up: bool | None = None

    async def query(self, promql: str, at: float) -> list[Sample]:
        data = await self._get("/api/v1/query", {"query": promql, "time": _fmt_time(at)})
        kind, result = data.get("resultType"), data.get("result")
        if not isinstance(result, list):
            raise PrometheusError("bad_response", f"malformed {kind} result: {result!r}"[:200], 200)
        try:
            if kind == "vector":
                return [Sample(_labels(item["metric"]), _value(item["value"][1])) for item in result]
            if kind == "scalar":
                return [Sample({}, _value(result[1]))]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise PrometheusError("bad_response", f"malformed {kind} result: {exc!r}", 200) from None
        raise PrometheusError("bad_result", f"query returned a {kind}, expected an instant vector or scalar", 200)

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        data = await self._get(
            "/api/v1/query_range",
            {"query": promql, "start": _fmt_time(start), "end": _fmt_time(end), "step": f"{step:g}"},
        )
        if data.get("resultType") != "matrix":
            raise PrometheusError("bad_result", f"range query returned a {data.get('resultType')}", 200)
        try:
            # plain float(): NaN and Inf pass through here and are dropped by the statistics
            return [
                Series(_labels(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
                for item in data["result"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise PrometheusError("bad_response", f"malformed matrix result: {exc!r}", 200) from None

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        where = redact(self.url)  # a URL's password stays out of messages
        attempts = 0

        async def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            try:
                async with self.session.get(
                    self.url + path, params=params, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as response:
                    body = await _json_or_none(response)
                    if body is None or "status" not in body:
                        raise RetryableError(
                            f"HTTP {response.status} without a Prometheus JSON body from {where}",
                            retry=response.status >= 500,
                        )
                    self.up = True  # the server answered, even if it refused
                    if body["status"] == "success":
                        data: dict[str, Any] = body["data"]
                        return data
                    raise PrometheusError(body.get("errorType", "unknown"), body.get("error", ""), response.status)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problem = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                log.debug("prometheus request failed (attempt %d): %s", attempts, problem)
                raise RetryableError(problem) from None

        # Backoff doubling from `backoff`, the same for every query of a report.
        retry = Retry(attempts=self.retries + 1, initial=self.backoff, jitter=False)
        try:
            return await retry.call(attempt, retryable=_retryable)
        except RetryableError as exc:
            self.up = False
            raise PrometheusUnavailable(
                f"Prometheus at {where} unavailable after {attempts} attempt(s): {exc}"
            ) from None


async def _json_or_none(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return None
    return body if isinstance(body, dict) else None


def _fmt_time(at: float) -> str:
    return f"{at:.3f}"


def _labels(metric: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in metric.items() if name != "__name__"}


def _value(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan
