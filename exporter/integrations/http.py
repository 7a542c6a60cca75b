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
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Buckets of inventory_integration_request_duration_seconds: the API middleware's.
from servicekit.api_metrics import DURATION_BUCKETS
from servicekit.retry import OutOfTime, Retry, RetryableError, is_retryable, parse_retry_after, retry_after_of
from servicekit.secrets import Secret, SecretError, read_secret, redact
from servicekit.tls_client import TLSClientConfig

log = logging.getLogger("exporter.integrations")

# The default cap of one JSON answer (`body_size_limit`): pages of tens of thousands of
# rows fit; a runaway body is an error, not an OOM.
MAX_BODY_BYTES = 64 << 20
# Bodies are read in chunks of this size until the end, however the remote sends them.
_CHUNK_BYTES = 64 << 10
# One line of a streamed JSONL result; a longer one is a broken file, not a record.
MAX_LINE_BYTES = 1 << 20

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


def load_secret(token_env: str | None, token_file: str | None) -> Secret | None:
    """Read the secret now (a file is re-read every run, so rotation needs no restart)."""
    try:
        return read_secret(token_env, token_file)
    except SecretError as exc:
        raise RemoteError("config", f"{'token_env' if token_env else 'token_file'}: {exc}") from None


# No answer at all, or one cut short: worth asking again. Never bad credentials or a 4xx.
_TRANSIENT = frozenset({"timeout", "connection", "bad_response"})


class RemoteError(RetryableError):
    """A remote call failed; `kind` is auth, rate_limited, timeout, connection, http, bad_response, config.

    `retry`: whether another attempt may help (transient kinds, 429, 5xx); `retry_after`:
    the wait the remote asked for."""

    def __init__(self, kind: str, message: str, *, retry: bool | None = None, retry_after: float | None = None):
        super().__init__(message, retry=kind in _TRANSIENT if retry is None else retry, retry_after=retry_after)
        self.kind = kind


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
        body_size_limit: int = MAX_BODY_BYTES,
        tls: TLSClientConfig | None = None,
    ):
        self.integration = integration
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.request_timeout = request_timeout
        # Exponential with full jitter, as Square and Shopify ask of clients; at most 10s.
        self.retry = Retry(attempts=retries + 1, initial=backoff, cap=10.0)
        self.user_agent = user_agent
        self.body_size_limit = body_size_limit
        self._ssl: ssl.SSLContext | bool = tls.ssl_context() if tls is not None else True
        self._server_name = tls.server_name if tls is not None else None
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
                headers={"User-Agent": self.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(ssl=self._ssl),
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
            retryable = self._retryable_answer(status, response.headers, what, retry_on_status)
            if retryable is not None:
                raise retryable
            return response

        def before_sleep(retry: int, error: Exception, wait: float) -> None:
            log.debug("integration %s: %s; retry %d in %.2fs", self.integration, error, retry, wait)

        try:
            return await self.retry.call(
                attempt,
                retryable=is_retryable,
                retry_after=retry_after_of,
                deadline=self.deadline.at,
                before_sleep=before_sleep,
            )
        except OutOfTime as exc:
            raise _too_long(str(exc.last), exc.wait) from None

    async def _read_body(self, resp: aiohttp.ClientResponse, what: str) -> bytes:
        """The whole body, however many reads it takes, or RemoteError past the cap."""
        limit = self.body_size_limit
        if resp.content_length is not None and resp.content_length > limit:
            raise RemoteError(
                "bad_response",
                f"{what}: response of {resp.content_length} bytes exceeds body_size_limit {limit}",
                retry=False,
            )
        body = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
            body += chunk
            if len(body) > limit:
                raise RemoteError(
                    "bad_response", f"{what}: response exceeds body_size_limit {limit} bytes", retry=False
                )
        if resp.content_length is not None and len(body) < resp.content_length:
            # The connection closed early; aiohttp does not always raise for it.
            raise aiohttp.ClientPayloadError("body shorter than Content-Length")
        return bytes(body)

    async def stream_lines(self, url: str, *, headers: Mapping[str, str] | None = None) -> AsyncIterator[bytes]:
        """GET `url` and yield its body line by line (without the newline), never holding
        more than one line: for results of any size, such as a Shopify bulk JSONL file.

        Opening the download is retried like any request; once lines flow, a broken
        connection is a RemoteError (the caller's run fails and the next one starts over).
        The read timeout is request_timeout between chunks, the total the run's deadline.
        """
        full_url = self.url(url)
        what = f"GET {self._display_path(full_url)}"
        resp = await self._open_stream(full_url, what, headers)
        started = time.perf_counter()
        code, received = str(resp.status), 0
        try:
            pending = b""
            async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
                received += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE_BYTES:
                    raise RemoteError("bad_response", f"{what}: a line longer than {MAX_LINE_BYTES} bytes")
                for line in lines:
                    yield line.rstrip(b"\r")
            if resp.content_length is not None and received < resp.content_length:
                raise aiohttp.ClientPayloadError("body shorter than Content-Length")
            if pending.strip():
                yield pending.rstrip(b"\r")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            code, error = self._transport_failure(exc, what, "timed out while streaming the body")
            raise error from None
        finally:
            resp.release()
            self.stats.observe(code, time.perf_counter() - started)

    async def _open_stream(self, url: str, what: str, headers: Mapping[str, str] | None) -> aiohttp.ClientResponse:
        """The response of a GET whose status is 200, its body not read yet."""

        async def attempt() -> aiohttp.ClientResponse:
            remaining = self.deadline.remaining()
            if remaining <= 0:
                raise RemoteError("timeout", f"{what}: timed out (the run's time is up)")
            timeout = aiohttp.ClientTimeout(
                total=remaining, sock_connect=self.request_timeout, sock_read=self.request_timeout
            )
            try:
                resp = await self._session_for_run().get(
                    url, headers=headers, timeout=timeout, allow_redirects=True, server_hostname=self._server_name
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                code, error = self._transport_failure(
                    exc, what, f"timed out (request_timeout {self.request_timeout:g}s)"
                )
                self.stats.observe(code, 0.0)
                raise error from None
            if resp.status == 200:
                return resp
            resp.release()
            self.stats.observe(str(resp.status), 0.0)
            retryable = self._retryable_answer(resp.status, resp.headers, what)
            if retryable is not None:
                raise retryable
            # Not "auth": a signed download URL that expired answers 403 too, and the
            # integration's token is not what would fix it.
            raise RemoteError("http", f"{what}: HTTP {resp.status}")

        try:
            return await self.retry.call(
                attempt, retryable=is_retryable, retry_after=retry_after_of, deadline=self.deadline.at
            )
        except OutOfTime as exc:
            raise _too_long(str(exc.last), exc.wait) from None

    def _retryable_answer(
        self, status: int, headers: Mapping[str, str], what: str, retry_on: frozenset[int] = RETRYABLE_STATUS
    ) -> RemoteError | None:
        """An answer worth asking again (429, with the wait it asks for; a 5xx), or None."""
        if status == 429:
            self.stats.throttled += 1
            wait = parse_retry_after(headers.get("Retry-After"))
            return RemoteError("rate_limited", f"{what}: HTTP 429 rate limited", retry=True, retry_after=wait)
        if status in retry_on:
            return RemoteError("http", f"{what}: HTTP {status}", retry=True)
        return None

    def _transport_failure(self, exc: BaseException, what: str, timed_out: str) -> tuple[str, RemoteError]:
        """The request counter's code and the loggable error of a request without an answer."""
        if isinstance(exc, TimeoutError):
            return "timeout", RemoteError("timeout", f"{what}: {timed_out}")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return "truncated", RemoteError("bad_response", f"{what}: response body truncated")
        return "connection_error", RemoteError("connection", f"{what}: {self.scrub(str(exc) or type(exc).__name__)}")

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
            raise RemoteError("timeout", f"{method} {self._display_path(url)}: timed out (the run's time is up)")
        timeout = aiohttp.ClientTimeout(total=min(self.request_timeout, remaining))
        session = self._session_for_run()
        started = time.perf_counter()
        code = "error"
        what = f"{method} {self._display_path(url)}"
        try:
            async with session.request(
                method,
                url,
                json=json_body,
                params=params,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                server_hostname=self._server_name,
            ) as resp:
                code = str(resp.status)
                body = await self._read_body(resp, what)
                resp_headers = resp.headers
                status = resp.status
        except RemoteError:
            code = code if code != "error" else "bad_response"
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            limit = (
                f"request_timeout {self.request_timeout:g}s"
                if timeout.total == self.request_timeout
                else "the collector's timeout"
            )
            code, error = self._transport_failure(exc, what, f"timed out ({limit})")
            raise error from None
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
