"""Client for Prometheus's HTTP query API: timeouts, bounded retries, decoded errors,
Prometheus's own authentication and TLS keys (servicekit/http_client.py); and the
`prometheus:` section of the enhancer's and the reporter's configs that sets it up.

An answer is checked before it is used: a shape Prometheus never sends (a list where a
series' `metric` should be an object, a value that is no number) is a PrometheusError of
that query, never a crash; every label name and value is cut to MAX_LABEL_CHARS, so one
huge label cannot make huge log lines, API answers or state rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, field_validator, model_validator

from servicekit.config import Duration, DurationOrZero, HttpUrl, problem_at
from servicekit.http_client import HTTPClientConfig
from servicekit.retry import Retry, RetryableError, is_retryable
from servicekit.secrets import SecretError, redact

log = logging.getLogger("servicekit.prometheus")

# Prometheus answers these when the query itself is wrong: retrying cannot help.
_QUERY_FAULT_STATUSES = {400, 422}


class PrometheusConfig(HTTPClientConfig):
    """Where Prometheus is, how to authenticate (basic_auth, authorization, tls_config)
    and how patiently to ask it (a service may extend it)."""

    url: HttpUrl = "http://127.0.0.1:9090"
    timeout: Duration = 10.0
    # Retries when Prometheus cannot be reached or is overloaded; a rejected query is never retried.
    retries: int = Field(default=2, ge=0, le=10)
    backoff: DurationOrZero = 0.5

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> PrometheusConfig:
        check_url_credentials(self, "url")
        return self


def check_url_credentials(config: HTTPClientConfig, key: str) -> None:
    """A URL's user:password@ and basic_auth or authorization would send two logins: refuse."""
    url = getattr(config, key)
    if url and urlsplit(url).password is not None and (config.basic_auth or config.authorization):
        raise problem_at(key, "holds a password and basic_auth or authorization is set too: keep one")


# Prometheus caps label values only when told to (label_value_length_limit); here every
# name and value read from an answer is cut to this many characters, the rest replaced by
# a marker that keeps cut values distinct.
MAX_LABEL_CHARS = 1024
# Prometheus's own error text, and anything else quoted from an answer, is cut to this.
MAX_ERROR_CHARS = 500


def cap_label(text: str) -> str:
    if len(text) <= MAX_LABEL_CHARS:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{text[:MAX_LABEL_CHARS]}...[{len(text) - MAX_LABEL_CHARS} more characters, sha256 {digest}]"


class PrometheusError(Exception):
    """Prometheus answered, and refused or failed the query (the rule's fault, not the server's)."""

    def __init__(self, error_type: str, message: str, status: int):
        self.error_type, self.message, self.status = error_type, message, status
        super().__init__(f"Prometheus rejected the query ({error_type}): {message}")


def _bad_response(problem: str) -> PrometheusError:
    """An answer in a shape Prometheus never sends: the query's error, not a crash."""
    return PrometheusError("bad_response", problem[:MAX_ERROR_CHARS], 200)


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
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        http: HTTPClientConfig | None = None,
    ):
        self.url = url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.http = http or HTTPClientConfig()
        # True: aiohttp's default verification against the system roots
        self._ssl: ssl.SSLContext | bool = self.http.ssl_context() or True
        # None until the first request; then whether the last request got a Prometheus answer
        self.up: bool | None = None

    async def query(self, promql: str, at: float) -> list[Sample]:
        data = await self._get("/api/v1/query", {"query": promql, "time": _fmt_time(at)})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "vector":
            return [
                Sample(_labels(item.get("metric"), f"result[{i}]"), _point(item.get("value"), f"result[{i}].value")[1])
                for i, item in enumerate(_items(result))
            ]
        if kind == "scalar":
            return [Sample({}, _point(result, "result")[1])]
        if kind in ("matrix", "string"):
            raise PrometheusError("bad_result", f"query returned a {kind}, expected an instant vector or scalar", 200)
        raise _bad_response(f"malformed answer: resultType {_shown(kind)}")

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        data = await self._get(
            "/api/v1/query_range",
            {"query": promql, "start": _fmt_time(start), "end": _fmt_time(end), "step": f"{step:g}"},
        )
        kind = data.get("resultType")
        if kind != "matrix":
            raise PrometheusError("bad_result", f"range query returned a {_shown(kind)}", 200)
        series = []
        for i, item in enumerate(_items(data.get("result"))):
            values = item.get("values")
            if not isinstance(values, list):
                raise _bad_response(f"malformed answer: result[{i}].values is {_shown(values)}, not a list")
            # NaN and Inf pass through here and are dropped by the statistics
            points = [_point(point, f"result[{i}].values[{j}]", finite=False) for j, point in enumerate(values)]
            series.append(Series(_labels(item.get("metric"), f"result[{i}]"), points))
        return series

    async def api(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """The `data` of any GET of the HTTP API (path such as /api/v1/series), unparsed:
        for callers that need every label and NaN as sent (the dashboard renderer)."""
        return await self._get(path, params)

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        where = redact(self.url)  # a URL's password stays out of messages
        attempts = 0
        try:
            headers = self.http.auth_headers()  # read per request: a rotated file is picked up
        except SecretError as exc:
            self.up = False
            raise PrometheusUnavailable(f"Prometheus at {where}: cannot authenticate: {exc}") from None
        # the password or token, and the header that carries it, kept out of any message
        secrets = [self.http.auth_secret(), *(value.partition(" ")[2] for value in headers.values())]

        async def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            try:
                async with self.session.get(
                    self.url + path,
                    params=params,
                    headers=headers,
                    ssl=self._ssl,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as response:
                    body = await _json_or_none(response)
                    if body is None or "status" not in body:
                        denied = " (authentication refused)" if response.status in (401, 403) else ""
                        raise RetryableError(
                            f"HTTP {response.status}{denied} without a Prometheus JSON body from {where}",
                            retry=response.status >= 500,
                        )
                    self.up = True  # the server answered, even if it refused
                    if body["status"] == "success":
                        data = body.get("data")
                        if not isinstance(data, dict):
                            raise _bad_response(f"malformed answer: data is {_shown(data)}, not an object")
                        return data
                    error = redact(str(body.get("error", "")), *secrets)[:MAX_ERROR_CHARS]
                    raise PrometheusError(str(body.get("errorType", "unknown"))[:100], error, response.status)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problem = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, *secrets)
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


def _shown(item: object) -> str:
    """What a malformed part of an answer was, briefly: never the whole of it."""
    if isinstance(item, (dict, list)):
        return f"a{'n object' if isinstance(item, dict) else ' list'} of {len(item)}"
    return repr(item)[:60]


def _items(result: object) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        raise _bad_response(f"malformed answer: result is {_shown(result)}, not a list")
    for i, item in enumerate(result):
        if not isinstance(item, dict):
            raise _bad_response(f"malformed answer: result[{i}] is {_shown(item)}, not an object")
    return result


def _labels(metric: object, where: str) -> dict[str, str]:
    if not isinstance(metric, dict):
        raise _bad_response(f"malformed answer: {where}.metric is {_shown(metric)}, not an object")
    labels = {}
    for name, value in metric.items():
        if not isinstance(value, str):  # JSON keys are always strings
            raise _bad_response(f"malformed answer: {where}.metric label {cap_label(name)[:60]!r} is {_shown(value)}")
        if name != "__name__":
            labels[cap_label(name)] = cap_label(value)
    return labels


def _point(point: object, where: str, *, finite: bool = True) -> tuple[float, float]:
    """A [timestamp, "value"] pair; a value that is not finite is NaN when `finite`."""
    if not isinstance(point, list) or len(point) != 2:
        raise _bad_response(f"malformed answer: {where} is {_shown(point)}, not [time, value]")
    at, text = point
    try:
        if isinstance(at, bool) or isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise ValueError
        stamp, value = float(at), float(text)
    except (TypeError, ValueError):
        raise _bad_response(f"malformed answer: {where} is not a number: {_shown(text)}") from None
    return stamp, (value if math.isfinite(value) or not finite else math.nan)
