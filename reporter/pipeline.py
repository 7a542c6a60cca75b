"""One report, start to end: compute the figures, render every format, archive, deliver.

Used by the command line (reporter/cli.py) and the scheduler (reporter/schedule.py).
Everything is queried and rendered in memory before the first file is written, so a
failed query or PDF leaves nothing behind (ReportFailed, one line). A failed delivery
does not fail the report: it is recorded in the manifest and returned in the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from reporter.changes import detect
from reporter.config import Config
from reporter.dashboards import find_dashboard, render_dashboards
from reporter.delivery import Delivery, report_link, send_email, send_webhook
from reporter.figures.evaluate import compute
from reporter.outputs import record_delivery, to_csv, to_json, write_archive
from reporter.periods import Period
from reporter.prometheus import Prometheus, QueryError
from reporter.render_html import render
from reporter.render_pdf import PdfError, chromium_available, html_to_pdf
from reporter.report import Report
from servicekit.prometheus import PrometheusUnavailable

log = logging.getLogger("reporter")


class ReportFailed(Exception):
    """The report could not be built; str() is the one line for stderr."""


@dataclass
class Outcome:
    directory: Path
    files: dict[str, str]
    deliveries: list[Delivery]


def channels_of(config: Config) -> set[str]:
    """The delivery channels the config sets up."""
    return {name for name in ("email", "webhook") if getattr(config.delivery, name) is not None}


async def _figures(config: Config, period: Period, session: aiohttp.ClientSession) -> Report:
    prom = Prometheus(
        config.prometheus.url,
        session,
        timeout=config.prometheus.timeout,
        retries=config.prometheus.retries,
        backoff=config.prometheus.backoff,
        concurrency=config.prometheus.concurrency,
        http=config.prometheus,
    )
    try:
        report = await compute(prom, config, period)
    except QueryError as exc:
        raise ReportFailed(str(exc)) from None
    report.changes = detect(report.figures, config.changes)
    if config.dashboards:
        report.dashboards = await _dashboards(config, period, prom)
    return report


async def _dashboards(config: Config, period: Period, prom: Prometheus) -> list[tuple[str, str, bytes | None]]:
    """The configured dashboards over the period, as operators see them in Grafana: PNGs
    when Chromium is there (a PDF shows them as drawn), else their HTML."""
    png = chromium_available(config.pdf.chromium)
    try:
        rendered = await render_dashboards(
            [find_dashboard(name) for name in config.dashboards],
            prom.client,
            period.start_ts,
            period.end_ts,
            png=png,
            chromium=config.pdf.chromium,
            timezone_name=config.timezone,
            width=1200,
        )
    except PrometheusUnavailable as exc:
        raise ReportFailed(f"dashboards: {exc}") from None
    return [dashboard.as_tuple() for dashboard in rendered]


async def _pdf(config: Config, report: Report, html: str) -> bytes | None:
    """The PDF, or None (with a warning) when Chromium is not installed."""
    if not chromium_available(config.pdf.chromium):
        log.warning("no PDF: %s is not installed (formats html, json and csv are unaffected)", config.pdf.chromium)
        return None
    try:
        return await asyncio.to_thread(html_to_pdf, html, config.pdf.chromium, config.pdf.timeout)
    except (PdfError, OSError) as exc:
        raise ReportFailed(f"PDF of {report.period.name} failed: {exc}") from None


def _rendered(formats: Sequence[str], report: Report, html: str, pdf: bytes | None) -> dict[str, bytes]:
    """format -> bytes, in the order asked for; no PDF without Chromium."""
    rendered: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "html":
            rendered["html"] = html.encode("utf-8")
        elif fmt == "pdf" and pdf is not None:
            rendered["pdf"] = pdf
        elif fmt == "json":
            rendered["json"] = to_json(report).encode("utf-8")
        elif fmt == "csv":
            rendered["csv"] = to_csv(report).encode("utf-8")
    return rendered


async def _deliver(
    config: Config,
    channels: set[str],
    report: Report,
    html: str,
    pdf: bytes | None,
    session: aiohttp.ClientSession,
    out_dir: Path,
) -> list[Delivery]:
    deliveries = []
    link = report_link(config.output.base_url, report)
    email, webhook = config.delivery.email, config.delivery.webhook
    if email and "email" in channels:
        deliveries.append(await send_email(email, report, html, pdf, link))
    if webhook and "webhook" in channels:
        deliveries.append(await send_webhook(webhook, report, link, session))
    for delivery in deliveries:
        record_delivery(out_dir, report.period.name, delivery.channel, delivery.ok, delivery.detail)
    return deliveries


async def produce(
    config: Config,
    period: Period,
    formats: Sequence[str],
    out_dir: Path,
    *,
    send: bool | set[str],
    session: aiohttp.ClientSession,
) -> Outcome:
    """Query, render every format in memory, then write the archive, then deliver.

    send: True for every configured channel, or the set of channels to use (a retry).
    """
    configured = channels_of(config)
    channels = configured if send is True else configured & set(send or ())
    report = await _figures(config, period, session)
    html = render(report)
    pdf = await _pdf(config, report, html) if "pdf" in formats or "email" in channels else None
    manifest = write_archive(out_dir, report, _rendered(formats, report, html, pdf))
    directory = out_dir / period.name
    log.info("report %s written to %s (%s)", period.name, directory, ", ".join(manifest["files"]))
    deliveries = await _deliver(config, channels, report, html, pdf, session, out_dir) if channels else []
    return Outcome(directory, manifest["files"], deliveries)


async def build_once(config: Config, period: Period, formats: Sequence[str], out_dir: Path, send: bool) -> Outcome:
    """One report with a session of its own (the command line, the benchmark)."""
    async with aiohttp.ClientSession() as session:
        return await produce(config, period, formats, out_dir, send=send, session=session)
