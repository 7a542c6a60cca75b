"""inventory-report: parse flags, validate the config, build one report or run the schedule.

Exit codes: 0 done; 1 Prometheus down, a query failed, the PDF failed or a delivery
failed (one line on stderr naming what); 2 bad config or flags (one line).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp

from servicekit.logs import setup_logging
from reporter import __version__
from reporter.changes import detect
from reporter.config import FORMATS, Config, ConfigError, load_config
from reporter.delivery import Delivery, report_link, send_email, send_webhook
from reporter.figures import compute
from reporter.outputs import record_delivery, to_csv, to_json, write_archive
from reporter.periods import KINDS, Period, custom_period, parse_time, period_containing, last_complete
from reporter.prometheus import Prometheus, QueryError
from reporter.render_html import render
from reporter.render_pdf import PdfError, chromium_available, html_to_pdf

log = logging.getLogger("reporter")


class ReportFailed(Exception):
    """The report could not be built; str() is the one line for stderr."""


@dataclass
class Outcome:
    directory: Path
    files: dict[str, str]
    deliveries: list[Delivery]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="inventory-report",
        description="Period reports (HTML, PDF, JSON, CSV) computed from Prometheus history, "
                    "compared with the previous period.")
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config (see docs/reports.md)")
    parser.add_argument("--period", choices=KINDS, help="report on the last complete period of this kind")
    parser.add_argument("--end", metavar="DATE", help="with --period: a day inside the period to report")
    parser.add_argument("--from", dest="start", metavar="T", help="custom period start (2026-11-22, "
                        "2026-11-22T06:00, now-1h), in the config's time zone")
    parser.add_argument("--to", dest="stop", metavar="T", help="custom period end (exclusive)")
    parser.add_argument("--out", metavar="DIR", help="archive directory (default: output.directory)")
    parser.add_argument("--format", metavar="LIST", help="comma-separated: html,pdf,json,csv")
    parser.add_argument("--send", action="store_true", help="deliver by the configured email and webhook")
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    parser.add_argument("--schedule", action="store_true", help="run forever, building reports as periods close")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    parser.add_argument("--version", action="version", version=f"inventory-report {__version__}")
    return parser.parse_args(argv)


def parse_formats(text: str | None, default: list[str]) -> list[str]:
    if text is None:
        return list(default)
    formats = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"--format: unknown format {unknown[0]!r}; expected some of {','.join(FORMATS)}"
                         if unknown else "--format: empty list")
    return formats


def choose_period(args: argparse.Namespace, config: Config, now: float) -> Period:
    tz = config.tz
    if args.period and (args.start or args.stop):
        raise ValueError("use --period or --from/--to, not both")
    if args.period:
        if args.end:
            try:
                day = date.fromisoformat(args.end)
            except ValueError:
                raise ValueError(f"--end: invalid date {args.end!r}: expected YYYY-MM-DD") from None
            return period_containing(args.period, day, tz, config.week_start)
        return last_complete(args.period, now, tz, config.week_start)
    if args.start and args.stop:
        return custom_period(parse_time(args.start, tz, now), parse_time(args.stop, tz, now), config.week_start)
    if args.end:
        raise ValueError("--end needs --period")
    raise ValueError("choose a period: --period daily|weekly|monthly|quarterly or --from T --to T")


def check_secrets(config: Config, path: str) -> None:
    email, webhook = config.delivery.email, config.delivery.webhook
    try:
        if email:
            email.password()
    except ConfigError as exc:
        key = "password_env" if email.password_env else "password_file"
        raise ConfigError(f"{path}: delivery.email.{key}: {exc}") from None
    try:
        if webhook:
            webhook.token()
    except ConfigError as exc:
        key = "token_env" if webhook.token_env else "token_file"
        raise ConfigError(f"{path}: delivery.webhook.{key}: {exc}") from None


def channels_of(config: Config) -> set[str]:
    """The delivery channels the config sets up."""
    return {name for name in ("email", "webhook") if getattr(config.delivery, name) is not None}


async def produce(config: Config, period: Period, formats: list[str], out_dir: Path, *, send: bool | set[str],
                  session: aiohttp.ClientSession, now: float | None = None) -> Outcome:
    """Query, render every format in memory, then write the archive, then deliver.

    send: True for every configured channel, or the set of channels to use (a retry).
    """
    channels = (channels_of(config) if send is True else set(send or ())) & channels_of(config)
    prom = Prometheus(config.prometheus.url, session, timeout=config.prometheus.timeout,
                      retries=config.prometheus.retries, backoff=config.prometheus.backoff,
                      concurrency=config.prometheus.concurrency)
    try:
        report = await compute(prom, config, period, now=now)
    except QueryError as exc:
        raise ReportFailed(str(exc)) from None
    report.changes = detect(report.figures, config.changes)

    html = render(report)
    email = config.delivery.email if "email" in channels else None
    pdf = None
    if "pdf" in formats or email:
        if chromium_available(config.pdf.chromium):
            try:
                pdf = await asyncio.to_thread(html_to_pdf, html, config.pdf.chromium, config.pdf.timeout)
            except (PdfError, OSError) as exc:
                raise ReportFailed(f"PDF of {period.name} failed: {exc}") from None
        else:
            log.warning("no PDF: %s is not installed (formats html, json and csv are unaffected)",
                        config.pdf.chromium)
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
    manifest = write_archive(out_dir, report, rendered)
    directory = out_dir / period.name
    log.info("report %s written to %s (%s)", period.name, directory, ", ".join(manifest["files"]))

    deliveries = []
    if channels:
        link = report_link(config.output.base_url, report)
        if email:
            deliveries.append(await send_email(email, report, html, pdf, link))
        if "webhook" in channels:
            deliveries.append(await send_webhook(config.delivery.webhook, report, link, session))
        for delivery in deliveries:
            record_delivery(out_dir, period.name, delivery.channel, delivery.ok, delivery.detail)
    return Outcome(directory, manifest["files"], deliveries)


async def build_once(config: Config, period: Period, formats: list[str], out_dir: Path, send: bool) -> Outcome:
    async with aiohttp.ClientSession() as session:
        return await produce(config, period, formats, out_dir, send=send, session=session)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_format, args.log_level, logger="reporter")
    try:
        config = load_config(args.config)
        check_secrets(config, args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out or config.output.directory)
    if args.schedule and not config.schedule.specs():
        print(f"config error: {args.config}: schedule: --schedule needs a cron expression for at least one "
              "of daily, weekly, monthly, quarterly", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"{args.config}: OK")
        return 0
    try:
        formats = parse_formats(args.format, config.output.formats)
        if args.schedule:
            from reporter.schedule import run_forever

            return asyncio.run(run_forever(config, out_dir, formats if args.format else None))
        period = choose_period(args, config, time.time())
    except ValueError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2
    try:
        outcome = asyncio.run(build_once(config, period, formats, out_dir, args.send))
    except ReportFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    main_file = outcome.files.get("html") or next(iter(outcome.files.values()), None)
    print(outcome.directory / main_file if main_file else outcome.directory)
    failed = [d for d in outcome.deliveries if not d.ok]
    for delivery in failed:
        print(f"error: {delivery.detail}", file=sys.stderr)
    return 1 if failed else 0
