"""inventory-exporter: parse flags, validate the config, wire runner and server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from exporter import __version__
from exporter.collectors import build_collectors
from exporter.config import Config, load_config
from exporter.runner import Runner
from exporter.server import RESERVED_PATHS, build_app
from servicekit.config import ConfigError, parse_listen
from servicekit.exitcodes import ExitCode
from servicekit.logs import setup_logging
from servicekit.server import (
    DEFAULT_TELEMETRY_PATH,
    SERVER_LIMITS,
    add_web_flags,
    stop_on_signals,
    telemetry_path_problem,
)
from servicekit.webconfig import WebConfig, load_web_config

log = logging.getLogger("exporter")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="inventory-exporter",
        description="Prometheus exporter for inventory operations: host, business and integration metrics.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config file (see docs/configuration.md)")
    add_web_flags(parser, "the exporter", "0.0.0.0:9877")
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    parser.add_argument(
        "--check-database",
        action="store_true",
        help="run every configured business statement once, print a table and exit (1 on a failure)",
    )
    parser.add_argument("--version", action="version", version=f"inventory-exporter {__version__}")
    return parser.parse_args(argv)


async def serve(
    config: Config,
    host: str,
    port: int,
    web_config: WebConfig | None = None,
    telemetry_path: str = DEFAULT_TELEMETRY_PATH,
) -> None:
    runner = Runner(
        build_collectors(config),
        config.constant_labels,
        extra_sources=[web_config.families] if web_config else [],
        ready_after=config.readiness.wait_for,
    )
    app = build_app(runner, web_config, telemetry_path)
    web_runner = web.AppRunner(app, access_log=None, handle_signals=False, **SERVER_LIMITS)
    await web_runner.setup()
    ssl_context = web_config.ssl_context if web_config else None
    site = web.TCPSite(web_runner, host, port, reuse_address=True, ssl_context=ssl_context)
    await site.start()
    await runner.start()
    log.info("listening on %s:%d with collectors %s", host, port, ", ".join(runner.states) or "(none)")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_on_signals(loop, stop, log)
    await stop.wait()
    log.info("shutting down")
    await runner.stop()
    await web_runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    try:
        config = load_config(args.config)
        host, port = parse_listen(args.listen or config.listen)
        web_config = load_web_config(args.web_config_file)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except ValueError as exc:
        print(f"config error: --web.listen-address: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    problem = telemetry_path_problem(args.telemetry_path, RESERVED_PATHS)
    if problem:
        print(f"config error: {problem}", file=sys.stderr)
        return ExitCode.CONFIG
    if args.check_config:
        print(f"{args.config}: OK")
        return ExitCode.OK
    if args.check_database:
        from exporter.check_database import check_database

        return check_database(config, sys.stdout)
    try:
        asyncio.run(serve(config, host, port, web_config, args.telemetry_path))
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", host, port, exc.strerror or exc)
        return ExitCode.FAILURE
    return ExitCode.OK
