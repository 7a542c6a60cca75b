"""Actions: HTTP webhook, Alertmanager silence, log-only. Each send is bounded in time
and attempts, checks the host allowlist first, and carries an Idempotency-Key.

With a leader lease, every attempt (the first and each retry) and a log action's line
first asks a guard whether this instance still leads under the fencing token the action
was recorded with; when it does not, nothing more is sent (ActionResult.fenced). The
token also goes out in the Enhancer-Fencing-Token header, for a receiver that wants to
refuse a deposed leader's request outright."""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from enhancer import __version__, templates
from enhancer.config import Config, LogAction, RuleConfig, SecretRef, SilenceAction, WebhookAction, host_allowed
from servicekit.retry import Retry, RetryableError, is_retryable, parse_retry_after, retry_after_of
from servicekit.secrets import SecretError, read_secret, redact

log = logging.getLogger("enhancer.actions")

# A rendered webhook or silence body above this is not sent: label values are cut to
# 1 KiB each when read (servicekit.prometheus.MAX_LABEL_CHARS), so only a template that
# repeats many labels gets here.
MAX_BODY_BYTES = 64 << 10
# A log action's message (the log line and the action log's detail) is cut to this.
MAX_MESSAGE_CHARS = 4096
FENCING_TOKEN_HEADER = "Enhancer-Fencing-Token"

# Asked before each attempt: None while this instance may act, else why it may not.
Guard = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class ActionResult:
    success: bool
    attempts: int
    detail: str
    fenced: bool = False  # stopped because this instance no longer holds the lease


class Deposed(Exception):
    """The guard refused an attempt: this instance no longer leads (not retryable)."""

    def __init__(self, problem: str, failed: Exception | None = None):
        super().__init__(problem)
        self.failed = failed  # the failure of the attempt before, which is not retried


class ActionError(Exception):
    """The action could not be built (template, secret): nothing was sent."""


class ActionSender:
    def __init__(self, config: Config, session: aiohttp.ClientSession):
        self.config = config
        self.session = session
        # True: aiohttp's default verification against the system roots
        self._alertmanager_ssl: ssl.SSLContext | bool = config.alertmanager.ssl_context() or True

    async def send(
        self,
        rule: RuleConfig,
        *,
        action_id: str,
        labels: dict[str, str],
        value: float | None,
        baseline: float | None,
        guard: Guard | None = None,
        fencing_token: int | None = None,
    ) -> ActionResult:
        """Send the rule's action. `guard` is asked before every attempt (see the module);
        `fencing_token` is the token the action is recorded under, sent as a header."""
        context: templates.Fields = {"labels": labels, "value": value, "baseline": baseline, "rule": rule.name}
        action = rule.action
        method: str
        secrets: list[str]
        try:
            if isinstance(action, LogAction):
                message = _cut(templates.render(action.message, **context), MAX_MESSAGE_CHARS)
                if guard is not None and (problem := await guard()) is not None:
                    return ActionResult(False, 0, f"not sent: {problem}", fenced=True)
                log.warning(
                    "action %s: %s",
                    action_id,
                    message,
                    extra={"rule": rule.name, "action_id": action_id, "labels": labels},
                )
                return ActionResult(True, 1, f"logged: {message}")
            if isinstance(action, WebhookAction):
                url = action.url
                body = templates.render(action.body, **context) if action.body is not None else None
                headers = {name: _header_value(name, header) for name, header in action.headers.items()}
                # the secret part of each secret header, kept out of whatever the receiver answers
                secrets = [
                    headers[name][len(header.prefix) :]
                    for name, header in action.headers.items()
                    if isinstance(header, SecretRef)
                ]
                method = action.method
            else:
                url, method, headers, body = self._silence_request(action, context)
                # the password or token, and the header that carries it, kept out of the answer
                secret = self.config.alertmanager.auth_secret() if headers else None
                secrets = [secret.reveal()] if secret is not None else []
                secrets += [value.partition(" ")[2] for value in headers.values()]
            size = len(json.dumps(body, ensure_ascii=False).encode()) if body is not None else 0
            if size > MAX_BODY_BYTES:
                raise ActionError(f"the rendered body is {size} bytes, above the {MAX_BODY_BYTES >> 10} KiB cap")
        except (templates.TemplateError, ActionError) as exc:
            return ActionResult(False, 0, f"not sent: {exc}")
        if not host_allowed(url, self.config.allowed_hosts):
            return ActionResult(False, 0, f"not sent: host of {redact(url)} is not in allowed_hosts")
        headers = {"User-Agent": f"inventory-enhancer/{__version__}", **headers, "Idempotency-Key": action_id}
        if fencing_token is not None:
            headers[FENCING_TOKEN_HEADER] = str(fencing_token)
        tls = self._alertmanager_ssl if isinstance(action, SilenceAction) and self._to_alertmanager(action) else True
        return await self._request(method, url, headers, body, action, secrets, tls, guard)

    def _to_alertmanager(self, action: SilenceAction) -> bool:
        """Whether the silence goes to alertmanager.url, whose credentials and TLS it then uses."""
        return action.url is None or action.url.rstrip("/") == self.config.alertmanager.url

    def _silence_request(
        self, action: SilenceAction, context: templates.Fields
    ) -> tuple[str, str, dict[str, str], dict[str, Any]]:
        # Alertmanager judges silences by its own wall clock, whatever clock the engine runs on
        starts = dt.datetime.now(dt.UTC)
        ends = starts + dt.timedelta(seconds=action.duration)
        body: dict[str, Any] = {
            "matchers": [
                {
                    "name": m.name,
                    # a label value in a regex matches only itself: `a.*|b` must not silence `b`
                    "value": templates.render(m.value, **context, escape=templates.regex_quote if m.is_regex else None),
                    "isRegex": m.is_regex,
                    "isEqual": m.is_equal,
                }
                for m in action.matchers
            ],
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends.isoformat().replace("+00:00", "Z"),
            "createdBy": action.created_by,
            "comment": templates.render(action.comment, **context),
        }
        url = (action.url or self.config.alertmanager.url).rstrip("/") + "/api/v2/silences"
        headers: dict[str, str] = {}
        if self._to_alertmanager(action):
            try:
                headers = self.config.alertmanager.auth_headers()
            except SecretError as exc:
                raise ActionError(f"alertmanager: {exc}") from None
        return url, "POST", headers, body

    async def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,  # JSON: the rendered webhook template or the silence
        action: WebhookAction | SilenceAction,
        secrets: Sequence[str] = (),
        tls: ssl.SSLContext | bool = True,
        guard: Guard | None = None,
    ) -> ActionResult:
        attempts = 0

        async def attempt() -> ActionResult:
            # before the first attempt (the action may have waited for a free slot) and every
            # retry (a backoff, or a freeze of this process, may have outlasted the lease)
            if guard is not None and (problem := await guard()) is not None:
                raise Deposed(problem)
            try:
                return await send_once()
            except RetryableError as failed:
                # asked again before announcing a retry, so that a deposed leader's log never
                # says "retrying": it stops here, and the new leader's row says "not re-sent"
                if failed.retry and guard is not None and (problem := await guard()) is not None:
                    raise Deposed(problem, failed) from None
                raise

        async def send_once() -> ActionResult:
            nonlocal attempts
            attempts += 1
            try:
                async with self.session.request(
                    method,
                    url,
                    json=body,
                    headers=headers,
                    ssl=tls,
                    timeout=aiohttp.ClientTimeout(total=action.timeout),
                ) as response:
                    # A receiver may echo the request's headers (a debugging proxy, an error
                    # page): its answer goes into the action log, so the secrets come out first.
                    text = redact(await response.text(errors="replace"), *secrets)[:200]
                    answer = f"HTTP {response.status}: {' '.join(text.split())}"
                    if 200 <= response.status < 300:
                        return ActionResult(True, attempts, answer)
                    # Another 4xx: the receiver rejected the request itself; the same one will not pass.
                    raise RetryableError(
                        answer,
                        retry=response.status == 429 or response.status >= 500,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
            except TimeoutError:
                raise RetryableError(f"no answer within {action.timeout:g}s") from None
            except (aiohttp.ClientError, OSError) as exc:
                raise RetryableError(redact(f"{type(exc).__name__}: {exc}", *secrets)) from None

        def before_sleep(retry: int, failed: Exception, wait: float) -> None:
            log.info(
                "action to %s failed (attempt %d of %d): %s; retrying in %.1fs",
                redact(url),
                retry,
                action.retries + 1,
                failed,
                wait,
            )

        # Backoff doubling from `backoff`, or the receiver's Retry-After when longer (at most 60s).
        retry = Retry(attempts=action.retries + 1, initial=action.backoff, jitter=False)
        try:
            return await retry.call(
                attempt,
                retryable=is_retryable,
                retry_after=retry_after_of,
                before_sleep=before_sleep,
            )
        except RetryableError as failed:
            return ActionResult(False, attempts, f"{failed} (after {attempts} attempt{'s' if attempts > 1 else ''})")
        except Deposed as stopped:
            if attempts == 0:
                return ActionResult(False, 0, f"not sent: {stopped}", fenced=True)
            last = f"{stopped.failed} (attempt {attempts}); " if stopped.failed is not None else ""
            return ActionResult(False, attempts, f"{last}not retried: {stopped}", fenced=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...[{len(text) - limit} more characters]"


def _header_value(name: str, header: str | SecretRef) -> str:
    if isinstance(header, str):
        return header
    try:
        secret = read_secret(header.env, header.file)
    except SecretError as exc:
        raise ActionError(f"header {name}: {exc}") from None
    return header.prefix + (secret.reveal() if secret is not None else "")
