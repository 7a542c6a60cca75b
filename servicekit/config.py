"""What every service's config shares: durations, the strict base model, and the loader
that turns any problem into one line `FILE: key.path: problem` (the CLIs exit 2 on it).

The exporter, the enhancer and the reporter all load their YAML through `load_model`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object, allow_zero: bool = False) -> float:
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
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"duration must be {'0 or more' if allow_zero else 'positive'}, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
# For waits that may be left out: a `for`, a cooldown, an offset, a retry backoff.
DurationOrZero = Annotated[float, BeforeValidator(partial(parse_duration, allow_zero=True))]


# Prometheus spells sizes as Go's units.Base2Bytes does (body_size_limit: 10MB): KB, MB
# and GB are powers of 1024 there, and so here; KiB, MiB, GiB say the same explicitly.
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_SIZE_RE = re.compile(r"(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?")


def parse_byte_size(value: object) -> int:
    """A size such as 64MiB, 512KB or a number of bytes (positive)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MB or 64MiB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE_RE.fullmatch(value.strip())):
        size = int(match.group(1)) * _SIZE_UNITS[match.group(2) or "B"]
    else:
        raise ValueError(f"invalid size {value!r}: expected e.g. 10MB, 64MiB or a number of bytes")
    if size <= 0:
        raise ValueError(f"size must be positive, got {value!r}")
    return size


ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]


_HTTP_URL = re.compile(r"^https?://[^/\s]+")


def check_http_url(url: str) -> str:
    if not _HTTP_URL.match(url):
        raise ValueError("must be an http:// or https:// URL")
    return url


HttpUrl = Annotated[str, AfterValidator(check_http_url)]


# Prometheus's data model: the names a metric and a label may have.
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class Model(BaseModel):
    # populate_by_name: a field aliased to a Python keyword (`for`) still takes its own name.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_listen(listen: str) -> tuple[str, int]:
    """'host:port' (host may be empty or [ipv6]) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid listen address {listen!r}: expected host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class ConfigError(Exception):
    """A configuration problem; str() is the one line printed before exit 2."""

    @classmethod
    def at(cls, path: str | Path, key: str, problem: str) -> ConfigError:
        """A problem found after validation (across keys): same one-line form."""
        return cls(f"{path}: {key}: {problem}")


_KEY_PROBLEM = "key_problem"


def problem_at(key: str | tuple[str | int, ...], problem: str) -> PydanticCustomError:
    """Raise it from a model validator whose check spans keys: the one line then names `key`
    (a key of the model, or a tuple of path parts below it) rather than the model itself."""
    parts = (key,) if isinstance(key, str) else tuple(key)
    return PydanticCustomError(_KEY_PROBLEM, "{problem}", {"key": parts, "problem": problem})


def _key_path(loc: tuple[str | int, ...], union_names: frozenset[str], blamed: tuple[str | int, ...] = ()) -> str:
    # pydantic puts the tags of discriminated unions ("webhook") and the names of union
    # members or validators ("str", "function-after[...]") into the location; the user
    # never wrote them, so they would make the path differ from the file.
    parts = []
    for depth, item in enumerate(loc):
        text = str(item)
        if depth and isinstance(item, str) and ("[" in text or text in union_names or text in _TYPE_NAMES):
            continue
        parts.append(text)
    parts.extend(str(item) for item in blamed)  # keys named by problem_at, as the file has them
    return ".".join(parts) or "(top level)"


_TYPE_NAMES = {"str", "int", "float", "bool", "dict", "list"}


def problem_text(error: Mapping[str, Any]) -> str:
    """One pydantic error as the problem part of the line, in the words a config file uses."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}, expected one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        return "required key is missing"  # pydantic does not say which tags it expected here
    return " ".join(error["msg"].removeprefix("Value error, ").split())


def format_validation_error(path: str, exc: ValidationError, union_names: frozenset[str] = frozenset()) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = first["loc"]
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "kind")  # point at the key to change, not at its parent
    blamed = first["ctx"]["key"] if first["type"] == _KEY_PROBLEM else ()
    more = len(errors) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {_key_path(loc, union_names, blamed)}: {problem_text(first)}{extra}"


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: object, path: str, union_names: frozenset[str] = frozenset()) -> M:
    """A parsed YAML document -> the model; ConfigError with one line on any problem.

    `union_names`: the tags and member names of the model's unions, left out of key paths.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, union_names)) from None


def load_model(model: type[M], path: str | Path, union_names: frozenset[str] = frozenset()) -> M:
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
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(file)"
        problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
        raise ConfigError(f"{path}: {where}: invalid YAML: {problem}") from None
    return validate_model(model, data, path, union_names)
