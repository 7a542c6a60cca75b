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


# Bounds of every config file the services read: far above any real config (the largest
# example is a few KiB), far below what would stall a start or a reload. A deep document
# would exhaust the parser's recursion, and a few nested aliases expand to billions of nodes.
MAX_CONFIG_BYTES = 4 << 20
MAX_CONFIG_DEPTH = 64
MAX_CONFIG_NODES = 1_000_000
_OPENS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSES = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _yaml_problem(path: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(file)"
    problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
    return ConfigError(f"{path}: {where}: invalid YAML: {problem}")


def _check_depth(text: str, path: str) -> None:
    # The scanner is iterative, so this pass is safe on any input; the composer that
    # builds the document recurses once per level, so it runs only on bounded depth.
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                line = token.start_mark.line + 1
                raise ConfigError(f"{path}: line {line}: nested deeper than {MAX_CONFIG_DEPTH} levels")
        elif isinstance(token, _CLOSES):
            depth -= 1


_IN_PROGRESS = -1


class _RecursiveAlias(Exception):
    pass


def _expanded_nodes(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes of the document once aliases are expanded, counting each shared node once per use."""
    known = sizes.get(id(node))
    if known == _IN_PROGRESS:
        raise _RecursiveAlias
    if known is not None:
        return known
    sizes[id(node)] = _IN_PROGRESS
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_nodes(k, sizes) + _expanded_nodes(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_nodes(item, sizes) for item in node.value)
    else:
        size = 1
    sizes[id(node)] = size
    return size


def load_yaml(path: str | Path) -> Any:
    """The one YAML reader of the services: a file within MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH
    and MAX_CONFIG_NODES (aliases expanded), parsed safely; ConfigError with one line."""
    path = str(path)
    try:
        if Path(path).stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: (file): larger than {MAX_CONFIG_BYTES >> 20} MiB; not a config file")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: (file): cannot read: {reason}") from None
    loader = yaml.SafeLoader(text)
    try:
        _check_depth(text, path)
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, {}) > MAX_CONFIG_NODES:
            raise ConfigError(f"{path}: (file): more than {MAX_CONFIG_NODES} values once aliases are expanded")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc) from None
    except _RecursiveAlias:
        raise ConfigError(f"{path}: (file): an alias refers to the collection that contains it") from None
    finally:
        loader.dispose()


def load_model(model: type[M], path: str | Path, union_names: frozenset[str] = frozenset()) -> M:
    """Read a YAML file into the model; ConfigError naming file, key path and problem."""
    return validate_model(model, load_yaml(path), str(path), union_names)
