"""inventory-report: parse flags, validate the config, build one report or run the schedule.

The command line only: the report itself is built by reporter/pipeline.py, the schedule
run by reporter/schedule.py.

Exit codes: 0 done; 1 Prometheus down, a query failed, the PDF failed or a delivery
failed (one line on stderr naming what); 2 bad config or flags (one line).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from reporter import __version__
from reporter.config import FORMATS, Config, load_config
from reporter.periods import KINDS, Period, custom_period, last_complete, parse_time, period_containing
from reporter.pipeline import ReportFailed, build_once
from reporter.schedule import run_forever
from servicekit.config import ConfigError
from servicekit.exitcodes import ExitCode
from servicekit.logs import setup_logging


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="inventory-report",
        description="Period reports (HTML, PDF, JSON, CSV) computed from Prometheus history, "
        "compared with the previous period.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config (see docs/reports.md)")
    parser.add_argument("--period", choices=KINDS, help="report on the last complete period of this kind")
    parser.add_argument("--end", metavar="DATE", help="with --period: a day inside the period to report")
    parser.add_argument(
        "--from",
        dest="start",
        metavar="T",
        help="custom period start (2026-11-22, 2026-11-22T06:00, now-1h), in the config's time zone",
    )
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


def parse_formats(text: str | None, default: Sequence[str]) -> list[str]:
    if text is None:
        return list(default)
    formats = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"--format: unknown format {unknown[0]!r}; expected some of {','.join(FORMATS)}"
            if unknown
            else "--format: empty list"
        )
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
    if email:
        try:
            email.password()
        except ConfigError as exc:
            key = "password_env" if email.password_env else "password_file"
            raise ConfigError(f"{path}: delivery.email.{key}: {exc}") from None
    if webhook:
        try:
            webhook.token()
        except ConfigError as exc:
            key = "token_env" if webhook.token_env else "token_file"
            raise ConfigError(f"{path}: delivery.webhook.{key}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_format, args.log_level, logger="reporter")
    try:
        config = load_config(args.config)
        check_secrets(config, args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    out_dir = Path(args.out or config.output.directory)
    if args.schedule and not config.schedule.specs():
        print(
            f"config error: {args.config}: schedule: --schedule needs a cron expression for at least one "
            "of daily, weekly, monthly, quarterly",
            file=sys.stderr,
        )
        return ExitCode.CONFIG
    if args.check_config:
        print(f"{args.config}: OK")
        return ExitCode.OK
    try:
        formats = parse_formats(args.format, config.output.formats)
        if args.schedule:
            return asyncio.run(run_forever(config, out_dir, formats if args.format else None))
        period = choose_period(args, config, time.time())
    except ValueError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    try:
        outcome = asyncio.run(build_once(config, period, formats, out_dir, args.send))
    except ReportFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    main_file = outcome.files.get("html") or next(iter(outcome.files.values()), None)
    print(outcome.directory / main_file if main_file else outcome.directory)
    failed = [d for d in outcome.deliveries if not d.ok]
    for delivery in failed:
        print(f"error: {delivery.detail}", file=sys.stderr)
    return ExitCode.FAILURE if failed else ExitCode.OK
