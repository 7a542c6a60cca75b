"""What every connector shares on the wire: one aiohttp session, timeouts, bounded
retries with backoff, Retry-After, request accounting and the secret.

A connector asks for JSON and gets JSON or a RemoteError whose message is safe to log:
it names the integration's problem (bad credentials, HTTP 503, timed out, not JSON)
and never contains the secret, even if the remote echoed it back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Buckets of inventory_integration_request_duration_seconds: the API middleware's.
from servicekit.api_metrics import DURATION_BUCKETS
from servicekit.retry import OutOfTime, Retry, parse_retry_after
from servicekit.secrets import Secret, SecretError, read_secret, redact

log = logging.getLogger("exporter.integrations")

# Enough for a page of a few thousand rows; a runaway body is an error, not an OOM.
MAX_BODY_BYTES = 64 << 20

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


def load_secret(token_env: str | None, token_file: str | None) -> Secret | None:
    """Read the secret now (a file is re-read every run, so rotation needs no restart)."""
    try:
        return read_secret(token_env, token_file)
    except SecretError as exc:
        raise RemoteError("config", f"{'token_env' if token_env else 'token_file'}: {exc}") from None


class RemoteError(Exception):
    """A remote call failed; `kind` is auth, rate_limited, timeout, connection, http, bad_response, config."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _RetryableAnswer(RemoteError):
    """An answer worth another attempt (429, 5xx), with the wait the server asked for."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(kind, message)
        self.retry_after = retry_after


def _retryable(exc: Exception) -> bool:
    # Not an answer at all, or one worth asking again; never bad credentials or a 4xx.
    return isinstance(exc, _RetryableAnswer) or (
        isinstance(exc, RemoteError) and exc.kind in ("timeout", "connection", "bad_response")
    )


@dataclass
class RequestStats:
    """Cumulative request accounting of one integration, kept across runs (counters)."""

    by_code: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    duration_count: int = 0
    # Last known fraction of the remote's rate limit still available (None: unknown).
    headroom: float | None = None

    def observe(self, code: str, seconds: float) -> None:
        self.by_code[code] = self.by_code.get(code, 0) + 1
        self.duration_sum += seconds
        self.duration_count += 1
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.bucket_counts[i] += 1
                break
        else:
            self.bucket_counts[-1] += 1

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip(DURATION_BUCKETS, self.bucket_counts):
            running += count
            out.append((_le(bound), running))
        out.append(("+Inf", running + self.bucket_counts[-1]))
        return out


def _le(bound: float) -> str:
    return repr(float(bound))


@dataclass
class JsonResponse:
    status: int
    headers: Mapping[str, str]
    data: Any


def _headroom_from_headers(headers: Mapping[str, str]) -> float | None:
    """The common X-RateLimit-* / RateLimit-* headers, when a remote sends them."""
    for remaining_name, limit_name in (
        ("X-RateLimit-Remaining", "X-RateLimit-Limit"),
        ("RateLimit-Remaining", "RateLimit-Limit"),
    ):
        remaining, limit = headers.get(remaining_name), headers.get(limit_name)
        if remaining is None or limit is None:
            continue
        try:
            remaining_f, limit_f = float(remaining), float(limit.split(";")[0].split(",")[0])
        except ValueError:
            return None
        if limit_f > 0:
            return min(1.0, max(0.0, remaining_f / limit_f))
    return None


def _retry_after_of(exc: Exception) -> float | None:
    return exc.retry_after if isinstance(exc, _RetryableAnswer) else None


def _too_long(why: str, seconds: float) -> RemoteError:
    return RemoteError("rate_limited", f"{why}: would need to wait {seconds:.1f}s, more than the run has left")


class Deadline:
    """The time a run must be finished by, so a slow remote yields up 0, not a cancelled run."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


class HttpClient:
    def __init__(
        self,
        integration: str,
        base_url: str,
        stats: RequestStats,
        *,
        request_timeout: float,
        retries: int,
        backoff: float,
        user_agent: str = "inventory-exporter",
    ):
        self.integration = integration
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.request_timeout = request_timeout
        # Exponential with full jitter, as Square and Shopify ask of clients; at most 10s.
        self.retry = Retry(attempts=retries + 1, initial=backoff, cap=10.0)
        self.user_agent = user_agent
        self.secret: Secret | None = None
        self.deadline = Deadline(3600.0)
        self._session: aiohttp.ClientSession | None = None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def scrub(self, text: str) -> str:
        """Remove the secret from any text that may end up in a log line or a metric."""
        return redact(text, self.secret)

    def _session_for_run(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No cookie jar: every request carries its own credentials (Odoo's session
            # cookie would otherwise outlive a revoked password).
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self.user_agent}, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def sleep(self, seconds: float, why: str) -> None:
        """Wait inside the run's deadline, or fail now if the wait cannot fit in it."""
        if seconds <= 0:
            return
        if seconds > self.deadline.remaining():
            raise _too_long(why, seconds)
        await asyncio.sleep(seconds)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_on_status: frozenset[int] = RETRYABLE_STATUS,
    ) -> JsonResponse:
        """One logical call with bounded retries; raises RemoteError with a loggable message."""
        url = self.url(path)
        what = f"{method} {self._display_path(url)}"

        async def attempt() -> JsonResponse:
            response = await self._once(method, url, json_body, params, headers)
            status = response.status
            if status in (401, 403):
                raise RemoteError(
                    "auth",
                    f"{what}: HTTP {status}: the remote rejected the credentials "
                    f"(check the token and its scopes/permissions)",
                )
            if status == 429:
                self.stats.throttled += 1
                raise _RetryableAnswer(
                    "rate_limited",
                    f"{what}: HTTP 429 rate limited",
                    parse_retry_after(response.headers.get("Retry-After")),
                )
            if status in retry_on_status:
                raise _RetryableAnswer("http", f"{what}: HTTP {status}")
            return response

        def before_sleep(retry: int, error: Exception, wait: float) -> None:
            log.debug("integration %s: %s; retry %d in %.2fs", self.integration, error, retry, wait)

        try:
            return await self.retry.call(
                attempt,
                retryable=_retryable,
                retry_after=_retry_after_of,
                deadline=self.deadline.at,
                before_sleep=before_sleep,
            )
        except OutOfTime as exc:
            raise _too_long(str(exc.last), exc.wait) from None

    def _display_path(self, url: str) -> str:
        # Paths only: a query string may carry a key in some APIs.
        return url.split("?", 1)[0].removeprefix(self.base_url) or "/"

    async def _once(
        self,
        method: str,
        url: str,
        json_body: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> JsonResponse:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise RemoteError("timeout", f"{method} {self._display_path(url)}: the run's time is up")
        timeout = aiohttp.ClientTimeout(total=min(self.request_timeout, remaining))
        session = self._session_for_run()
        started = time.perf_counter()
        code = "error"
        what = f"{method} {self._display_path(url)}"
        try:
            async with session.request(
                method, url, json=json_body, params=params, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                code = str(resp.status)
                body = await resp.content.read(MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    raise RemoteError("bad_response", f"{what}: response larger than {MAX_BODY_BYTES} bytes")
                if resp.content_length is not None and len(body) < resp.content_length:
                    # The connection closed early; aiohttp does not always raise for it.
                    raise aiohttp.ClientPayloadError("body shorter than Content-Length")
                resp_headers = resp.headers
                status = resp.status
        except RemoteError:
            code = code if code != "error" else "bad_response"
            raise
        except TimeoutError:
            code = "timeout"
            limit = (
                f"request_timeout {self.request_timeout:g}s"
                if timeout.total == self.request_timeout
                else "the collector's timeout"
            )
            raise RemoteError("timeout", f"{what}: timed out ({limit})") from None
        except aiohttp.ClientPayloadError:
            code = "truncated"
            raise RemoteError("bad_response", f"{what}: response body truncated") from None
        except (aiohttp.ClientError, OSError) as exc:
            code = "connection_error"
            reason = self.scrub(str(exc) or type(exc).__name__)
            raise RemoteError("connection", f"{what}: {reason}") from None
        finally:
            self.stats.observe(code, time.perf_counter() - started)
        headroom = _headroom_from_headers(resp_headers)
        if headroom is not None:
            self.stats.headroom = headroom
        if status in (401, 403, 429) or status in RETRYABLE_STATUS:
            return JsonResponse(status, resp_headers, None)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            if status >= 400:
                # A client error with an HTML page: retrying will not change it.
                raise RemoteError("http", f"{what}: HTTP {status}") from None
            raise RemoteError("bad_response", f"{what}: HTTP {status}: response is not valid JSON") from None
        return JsonResponse(status, resp_headers, data)
