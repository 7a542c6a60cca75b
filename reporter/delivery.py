"""Delivery: email over SMTP (STARTTLS or TLS, AUTH) and a JSON webhook, both with timeouts.

The SMTP password and the webhook token are read from the environment or a file at send
time and never logged: failures are logged with host, port and the server's reply only,
and any text that would carry the secret is scrubbed before it is logged or returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TypedDict

import aiohttp

from reporter.changes import ChangeDict
from reporter.config import EmailConfig, WebhookConfig
from reporter.outputs import PeriodDict, report_dict
from reporter.report import FigureDict, Report
from servicekit.config import ConfigError
from servicekit.secrets import Secret, redact

log = logging.getLogger("reporter.delivery")


@dataclass(frozen=True)
class Delivery:
    channel: str  # email | webhook
    ok: bool
    detail: str


def report_link(base_url: str | None, report: Report, fmt: str = "html") -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{report.period.name}/{report.period.name}.{fmt}"


def build_message(
    config: EmailConfig, report: Report, html: str, pdf: bytes | None, link: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = config.subject.format(title=report.title, period=report.period.label)
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="inventory-report")
    lines = [f"{report.title}: {report.period.label}", ""]
    lines += [f"- {change.text}" for change in report.changes] or ["Nothing crossed an objective or moved."]
    if link:
        lines += ["", f"Report: {link}"]
    if pdf is None:
        lines += ["", "(No PDF: Chromium is not installed on the reporting host.)"]
    message.set_content("\n".join(lines) + "\n")
    message.add_alternative(html, subtype="html")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{report.period.name}.pdf")
    return message


def _send_smtp(config: EmailConfig, message: EmailMessage, password: Secret | None) -> None:
    context = ssl.create_default_context(cafile=config.ca_file) if config.tls != "none" else None
    client: smtplib.SMTP
    if config.tls == "ssl":
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        client.ehlo()
        if config.tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            client.login(config.username, password.reveal() if password else "")
        client.send_message(message)


async def send_email(
    config: EmailConfig, report: Report, html: str, pdf: bytes | None, link: str | None = None
) -> Delivery:
    where = f"{config.host}:{config.port}"
    password = None
    try:
        password = config.password()
        message = build_message(config, report, html, pdf, link)
        # smtplib blocks; its socket timeout bounds every step, the thread keeps the loop free.
        await asyncio.to_thread(_send_smtp, config, message, password)
    except ConfigError as exc:
        detail = f"email not sent: password: {exc}"
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        detail = redact(f"email to {where} failed: {reason}", password)
    else:
        log.info("report %s emailed via %s to %d recipient(s)", report.period.name, where, len(config.to))
        return Delivery("email", True, f"sent via {where}")
    log.warning("%s", detail)
    return Delivery("email", False, detail)


class WebhookPayload(TypedDict):
    """The JSON body of the webhook delivery."""

    title: str
    period: PeriodDict
    previous_period: PeriodDict
    link: str | None
    changes: list[ChangeDict]
    figures: list[FigureDict]


def webhook_payload(report: Report, link: str | None) -> WebhookPayload:
    data = report_dict(report)
    return {
        "title": report.title,
        "period": data["period"],
        "previous_period": data["previous_period"],
        "link": link,
        "changes": data["changes"],
        "figures": data["figures"],
    }


async def send_webhook(
    config: WebhookConfig, report: Report, link: str | None, session: aiohttp.ClientSession
) -> Delivery:
    token = None
    url = redact(config.url)  # a password in the URL stays out of the details and the log
    try:
        token = config.token()
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token else {}
        body = json.dumps(webhook_payload(report, link), allow_nan=False)
        async with session.post(
            config.url,
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=config.timeout),
        ) as response:
            if response.status >= 300:
                detail = f"webhook {url} answered HTTP {response.status}"
            else:
                log.info("report %s posted to %s", report.period.name, url)
                return Delivery("webhook", True, f"HTTP {response.status}")
    except ConfigError as exc:
        detail = f"webhook not sent: token: {exc}"
    except TimeoutError:
        detail = f"webhook {url} did not answer within {config.timeout:g}s"
    except (aiohttp.ClientError, OSError) as exc:
        detail = redact(f"webhook {url} failed: {exc}", token)
    log.warning("%s", detail)
    return Delivery("webhook", False, detail)
