"""Actions: HTTP webhook, Alertmanager silence, log-only. Each send is bounded in time
and attempts, checks the host allowlist first, and carries an Idempotency-Key."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from enhancer import __version__, templates
from enhancer.config import Config, LogAction, RuleConfig, SecretRef, SilenceAction, WebhookAction, host_allowed

log = logging.getLogger("enhancer.actions")

MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class ActionResult:
    success: bool
    attempts: int
    detail: str


class ActionError(Exception):
    """The action could not be built (template, secret): nothing was sent."""


class ActionSender:
    def __init__(self, config: Config, session: aiohttp.ClientSession):
        self.config = config
        self.session = session

    async def send(self, rule: RuleConfig, *, action_id: str, labels: dict[str, str], value: float | None,
                   baseline: float | None) -> ActionResult:
        context = {"labels": labels, "value": value, "baseline": baseline, "rule": rule.name}
        action = rule.action
        try:
            if isinstance(action, LogAction):
                message = templates.render(action.message, **context)
                log.warning("action %s: %s", action_id, message,
                            extra={"rule": rule.name, "action_id": action_id, "labels": labels})
                return ActionResult(True, 1, f"logged: {message}")
            if isinstance(action, WebhookAction):
                url = action.url
                body = templates.render(action.body, **context) if action.body is not None else None
                headers = {name: _header_value(name, header) for name, header in action.headers.items()}
                # the secret part of each secret header, kept out of whatever the receiver answers
                secrets = [headers[name][len(header.prefix):] for name, header in action.headers.items()
                           if isinstance(header, SecretRef)]
                method = action.method
            else:
                url, method, headers, body = self._silence_request(action, context)
                secrets = []
        except (templates.TemplateError, ActionError) as exc:
            return ActionResult(False, 0, f"not sent: {exc}")
        if not host_allowed(url, self.config.allowed_hosts):
            return ActionResult(False, 0, f"not sent: host of {url} is not in allowed_hosts")
        headers = {"User-Agent": f"inventory-enhancer/{__version__}", **headers, "Idempotency-Key": action_id}
        return await self._request(method, url, headers, body, action, secrets)

    def _silence_request(self, action: SilenceAction, context: dict) -> tuple[str, str, dict, dict]:
        # Alertmanager judges silences by its own wall clock, whatever clock the engine runs on
        starts = dt.datetime.now(dt.timezone.utc)
        ends = starts + dt.timedelta(seconds=action.duration)
        body = {
            "matchers": [{"name": m.name, "value": templates.render(m.value, **context),
                          "isRegex": m.is_regex, "isEqual": m.is_equal} for m in action.matchers],
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends.isoformat().replace("+00:00", "Z"),
            "createdBy": action.created_by,
            "comment": templates.render(action.comment, **context),
        }
        url = (action.url or self.config.alertmanager.url).rstrip("/") + "/api/v2/silences"
        return url, "POST", {}, body

    async def _request(self, method: str, url: str, headers: dict, body, action,
                       secrets: list[str] = ()) -> ActionResult:
        problem = ""
        attempts = 0
        for attempt in range(action.retries + 1):
            attempts = attempt + 1
            delay = action.backoff * 2 ** attempt
            try:
                async with self.session.request(method, url, json=body, headers=headers,
                                                timeout=aiohttp.ClientTimeout(total=action.timeout)) as response:
                    # A receiver may echo the request's headers (a debugging proxy, an error
                    # page): its answer goes into the action log, so the secrets come out first.
                    text = _scrub(await response.text(errors="replace"), secrets)[:200]
                    if 200 <= response.status < 300:
                        return ActionResult(True, attempts, f"HTTP {response.status}: {' '.join(text.split())}")
                    problem = f"HTTP {response.status}: {' '.join(text.split())}"
                    if response.status != 429 and response.status < 500:
                        break  # the receiver rejected the request itself; the same request will not pass
                    delay = max(delay, _retry_after(response.headers.get("Retry-After")))
            except asyncio.TimeoutError:
                problem = f"no answer within {action.timeout:g}s"
            except (aiohttp.ClientError, OSError) as exc:
                problem = _scrub(f"{type(exc).__name__}: {exc}", secrets)
            if attempt < action.retries:
                log.info("action to %s failed (attempt %d of %d): %s; retrying in %.1fs",
                         url, attempts, action.retries + 1, problem, delay)
                await asyncio.sleep(delay)
        return ActionResult(False, attempts, f"{problem} (after {attempts} attempt{'s' if attempts > 1 else ''})")


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def _header_value(name: str, header: str | SecretRef) -> str:
    if isinstance(header, str):
        return header
    if header.env is not None:
        secret = os.environ.get(header.env)
        if secret is None:
            raise ActionError(f"header {name}: environment variable {header.env} is not set")
    else:
        try:
            secret = Path(header.file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ActionError(f"header {name}: cannot read {header.file}: {exc.strerror or exc}") from None
    return header.prefix + secret


def _retry_after(raw: str | None) -> float:
    if not raw:
        return 0.0
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        try:
            when = dt.datetime.strptime(raw, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return 0.0
        return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)
