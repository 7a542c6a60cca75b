"""Shared building blocks of config models: durations and the strict base model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

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


class ConfigError(Exception):
    """A configuration problem; str() is the one line printed before exit 2."""


def format_validation_error(path: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    where = ".".join(str(part) for part in err["loc"]) or "(top level)"
    extra = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"{path}: {where}: {message}{extra}"


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: object, path: str) -> M:
    """A parsed YAML document -> the model; ConfigError with one line on any problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None


def load_model(model: type[M], path: str | Path) -> M:
    """Read a YAML file into the model; ConfigError naming file, key path and problem."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: (file): cannot read: {reason}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {where}: invalid YAML: {problem}") from None
    return validate_model(model, data, path)
