"""Shared building blocks of config models: durations and the strict base model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Prometheus-style duration ("15s", "1h30m", "500ms") or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15s, 5m or 1h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        pos, seconds = 0, 0.0
        for match in _DURATION_RE.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(f"invalid duration {value!r}: expected e.g. 15s, 5m, 1h30m")
    else:
        raise ValueError("expected a duration such as 15s, 5m or 1h")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]

class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_listen(listen: str) -> tuple[str, int]:
    """'host:port' (host may be empty or [ipv6]) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid listen address {listen!r}: expected host:port")
    return host.strip("[]") or "0.0.0.0", int(port)
