"""What every service's HTTP server shares."""

from __future__ import annotations

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
