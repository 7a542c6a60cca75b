"""What every service's HTTP server shares."""

from __future__ import annotations

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
