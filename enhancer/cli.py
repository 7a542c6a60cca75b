"""inventory-enhancer command line: wires config, state, Prometheus, actions and the server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from enhancer import __version__
from enhancer.actions import ActionSender
from enhancer.config import Config, load_config
from enhancer.engine import Engine
from enhancer.lease import LeaderLease
from enhancer.metrics import build_registry
from enhancer.server import RESERVED_PATHS, build_app
from enhancer.state import SchemaTooNew, StateStore
from servicekit.config import ConfigError, parse_listen
from servicekit.exitcodes import ExitCode
from servicekit.logs import setup_logging
from servicekit.prometheus import PrometheusClient
from servicekit.secrets import redact
from servicekit.server import SERVER_LIMITS, add_web_flags, stop_on_signals, telemetry_path_problem
from servicekit.webconfig import WebConfig, load_web_config

log = logging.getLogger("enhancer")

SHUTDOWN_GRACE_SECONDS = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="inventory-enhancer",
        description="Polls Prometheus and applies known fixes within baselines, cooldowns and budgets.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="enhancer.yml")
    parser.add_argument("--once", action="store_true", help="run one poll cycle and exit (1 if Prometheus is down)")
    parser.add_argument("--dry-run", action="store_true", help="decide and record, but send nothing")
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    add_web_flags(parser, "the enhancer", "0.0.0.0:9878")
    parser.add_argument("--version", action="version", version=f"inventory-enhancer {__version__}")
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level)

    try:
        config = load_config(args.config)
        web_config = load_web_config(args.web_config_file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.CONFIG
    if args.check_config:
        print(f"{args.config}: OK ({len(config.rules)} rules)")
        return ExitCode.OK
    try:
        listen = parse_listen(args.listen or config.listen)
    except ValueError as exc:
        print(f"{args.config + ': listen' if not args.listen else '--web.listen-address'}: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    problem = telemetry_path_problem(args.telemetry_path, RESERVED_PATHS)
    if problem:
        print(problem, file=sys.stderr)
        return ExitCode.CONFIG
    try:
        store = StateStore(config.state)
    except (SQLAlchemyError, SchemaTooNew) as exc:
        # the URL's password is masked, and any echo of it in the driver's message
        password = urlsplit(config.state).password if "://" in config.state else None
        problem = redact(" ".join(str(exc).split()), password, unquote(password or ""))[:300]
        print(f"{args.config}: state: cannot open {redact(config.state)!r}: {problem}", file=sys.stderr)
        return ExitCode.CONFIG
    try:
        return asyncio.run(_serve(config, store, args, listen, web_config))
    finally:
        store.close()


async def _serve(
    config: Config, store: StateStore, args: argparse.Namespace, listen: tuple[str, int], web_config: WebConfig | None
) -> int:
    async with aiohttp.ClientSession() as session:
        prometheus = PrometheusClient(
            config.prometheus.url,
            session,
            timeout=config.prometheus.timeout,
            retries=config.prometheus.retries,
            backoff=config.prometheus.backoff,
            http=config.prometheus,
        )
        # several enhancers may share a PostgreSQL state: only the lease holder acts (docs/scaling.md)
        lease = (
            LeaderLease(store, ttl=config.lease.ttl, holder=config.lease.holder)
            if config.lease.enabled and store.engine.dialect.name == "postgresql"
            else None
        )
        engine = Engine(
            config, store, prometheus, ActionSender(config, session), force_dry_run=args.dry_run, lease=lease
        )
        if args.once:
            report = await engine.run_cycle()
            log.info(
                "cycle done: outcomes %s, errors %s, prometheus_up %s",
                {str(outcome): count for outcome, count in report.outcomes.items()},
                report.errors,
                report.prometheus_up,
            )
            if lease is not None:
                lease.release()
            return ExitCode.OK if report.prometheus_up else ExitCode.FAILURE

        app = build_app(engine, build_registry(engine), args.telemetry_path)
        if web_config is not None:
            app.middlewares.append(web_config.middleware())
        runner = web.AppRunner(app, access_log=None, **SERVER_LIMITS)
        await runner.setup()
        await web.TCPSite(
            runner, listen[0], listen[1], ssl_context=web_config.ssl_context if web_config else None
        ).start()
        log.info(
            "inventory-enhancer %s listening on %s:%d with %d rules%s",
            __version__,
            listen[0],
            listen[1],
            len(config.rules),
            " (dry run)" if args.dry_run or config.dry_run else "",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        stop_on_signals(loop, stop, log)
        poller = asyncio.create_task(engine.run(stop))
        await stop.wait()
        log.info("shutting down: finishing the current poll cycle (at most %.0fs)", SHUTDOWN_GRACE_SECONDS)
        try:
            # a cycle cut short leaves its in-flight actions "started": the next start records them
            # as failed and never re-sends them
            await asyncio.wait_for(poller, SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            log.warning("poll cycle did not finish in time; cancelled")
        if lease is not None:
            try:
                lease.release()  # a standby takes over now rather than after the TTL
            except SQLAlchemyError as exc:
                log.warning("lease: could not release: %s", exc)
        await runner.cleanup()
    return ExitCode.OK
