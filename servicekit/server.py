"""What every service's HTTP server shares."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import TypedDict


# Server limits against abusive clients (kwargs of web.AppRunner). aiohttp closes a
# connection that has not completed a request within keepalive_timeout of opening or
# of its last response, which bounds slow-header (slowloris) clients; longer header
# lines and fields than these get 400.
class ServerLimits(TypedDict):
    keepalive_timeout: float
    max_line_size: int
    max_field_size: int


SERVER_LIMITS: ServerLimits = {
    "keepalive_timeout": 15.0,
    "max_line_size": 8190,
    "max_field_size": 8190,
}


def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, log: logging.Logger) -> None:
    """SIGTERM and SIGINT stop the service; SIGHUP, which would kill it silently by default
    (a closed terminal, a careless `kill -HUP`), is logged and ignored: the web config
    reloads by itself when its files change, and the main config needs a restart."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(
        signal.SIGHUP,
        log.info,
        "SIGHUP ignored: the web config reloads when its files change; restart to apply a changed --config",
    )


DEFAULT_TELEMETRY_PATH = "/metrics"


def add_web_flags(parser: argparse.ArgumentParser, service: str, default_listen: str) -> None:
    """The flags every service takes, spelt as Prometheus exporters spell them (node_exporter,
    exporter-toolkit); the older --listen, --log-format and --log-level stay as aliases."""
    parser.add_argument(
        "--web.listen-address",
        "--listen",
        dest="listen",
        metavar="ADDR",
        help=f"host:port to serve on (default: the config's listen, {default_listen})",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default=DEFAULT_TELEMETRY_PATH,
        metavar="PATH",
        help=f"path of {service}'s own metrics (default {DEFAULT_TELEMETRY_PATH})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="exporter-toolkit web config: TLS, basic auth, headers (docs/security.md)",
    )
    parser.add_argument("--log.format", "--log-format", dest="log_format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--log.level", "--log-level", dest="log_level", choices=("debug", "info", "warning", "error"), default="info"
    )


def telemetry_path_problem(path: str, reserved: frozenset[str]) -> str | None:
    """Why --web.telemetry-path cannot be `path` (a path the service serves already), or None."""
    if path.startswith("/") and path not in reserved:
        return None
    return f"--web.telemetry-path: {path!r} must start with / and not be one of {', '.join(sorted(reserved))}"
