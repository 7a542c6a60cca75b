"""Dashboard variables and Grafana's built-in ones, resolved and interpolated as Grafana's
Prometheus data source does it.

- templating.list: query (label_values(), label_names(), metrics(), query_result(); the
  variable's regex and sort), custom, constant, interval (with auto), textbox, datasource;
  the saved `current` selection when it is still an option, else the first option.
- `$var`, `${var}`, `${var:format}` and `[[var]]`; a multi-value or "All" selection
  becomes a regex alternation of the escaped values (or the variable's allValue).
- `$__interval`, `$__interval_ms`, `$__rate_interval`, `$__range`, `$__range_s`,
  `$__range_ms`, `$__from`, `$__to`, `$__dashboard`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from servicekit.prometheus import PrometheusUnavailable

log = logging.getLogger("reporter.dashboards")

ALL = "$__all"
# Grafana's variable syntax: $name, [[name:format]], ${name.field:format}
VARIABLE_RE = re.compile(r"\$(\w+)|\[\[([\s\S]+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float:
    """'1m', '30s', '1h30m' (Prometheus style) in seconds; a bare number is seconds."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    total, rest = 0.0, text
    for match in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text):
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        rest = rest.replace(match.group(0), "", 1)
    if rest:
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds as Prometheus reads them, in the largest whole unit: 60 -> '1m'."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit in ("y", "w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds)}s"


# Grafana's rangeutil.roundInterval: (upper bound of the raw interval, interval)
_ROUND = (
    (0.015, 0.01),
    (0.035, 0.02),
    (0.075, 0.05),
    (0.15, 0.1),
    (0.35, 0.2),
    (0.75, 0.5),
    (1.5, 1),
    (3.5, 2),
    (7.5, 5),
    (12.5, 10),
    (17.5, 15),
    (25, 20),
    (45, 30),
    (90, 60),
    (210, 120),
    (450, 300),
    (750, 600),
    (1050, 900),
    (1500, 1200),
    (2700, 1800),
    (5400, 3600),
    (9000, 7200),
    (16200, 10800),
    (32400, 21600),
    (86400, 43200),
    (604800, 86400),
    (1814400, 604800),
    (3628800, 2592000),
)


def round_interval(seconds: float) -> float:
    for bound, interval in _ROUND:
        if seconds < bound:
            return interval
    return 31536000


def parse_time(text: str, now: float | None = None) -> float:
    """'now', 'now-1h', '-1h', 'now-7d/d', a Unix time or an ISO 8601 time, in Unix seconds."""
    from datetime import datetime

    now = time.time() if now is None else now
    text = text.strip()
    relative = re.fullmatch(r"(?:now)?(?:([+-])(\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y)))?(?:/([smhdwy]))?", text)
    if relative and text:
        sign, amount, rounding = relative.groups()
        at = now
        if amount:
            at += (1 if sign == "+" else -1) * duration_seconds(amount)
        if rounding:  # 'now/d': the start of the unit (UTC); weeks and years roughly
            at -= at % _UNIT_SECONDS[rounding]
        return at
    try:
        return float(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# --- escaping as Grafana's Prometheus data source does it ---------------------------------------


def regex_escape(value: str) -> str:
    """prometheusSpecialRegexEscape: a value inside a =~ matcher's string."""
    escaped = value.replace("\\", "\\\\\\\\").replace("'", "\\\\'")
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", escaped)


def plain_escape(value: str) -> str:
    """prometheusRegularEscape: one value in a string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class Variable:
    name: str
    type: str
    label: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (text, value)
    selected: list[str] = field(default_factory=list)  # values, ALL for "All"
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    hidden: bool = False

    @property
    def is_all(self) -> bool:
        return ALL in self.selected

    def values(self) -> list[str]:
        """The selected values, All expanded to every option."""
        if self.is_all:
            return [value for _, value in self.options if value != ALL]
        return list(self.selected)

    def shown(self) -> str:
        if self.is_all:
            return "All"
        texts = {value: text for text, value in self.options}
        return ", ".join(texts.get(value, value) for value in self.selected) or "(none)"


def _format(variable: Variable, fmt: str | None, prometheus: bool) -> str:
    values = variable.values()
    if variable.is_all and variable.all_value is not None and fmt in (None, "regex", "pipe", "raw"):
        return variable.all_value
    if fmt == "raw":
        return ",".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "json":
        return json.dumps(values if len(values) != 1 else values[0])
    if fmt == "doublequote":
        return ",".join(f'"{v}"' for v in values)
    if fmt == "singlequote":
        return ",".join(f"'{v}'" for v in values)
    if fmt == "text":
        return variable.shown()
    if fmt == "regex":
        escaped = [re.sub(r"([\\^$*+?.()|{}\[\]/])", r"\\\1", v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "queryparam":
        return "&".join(f"var-{variable.name}={v}" for v in values)
    # the Prometheus data source's own interpolation
    if not prometheus:
        return ",".join(values)
    if not variable.multi and not variable.include_all:
        return plain_escape(values[0]) if values else ""
    escaped = [regex_escape(v) for v in values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


@dataclass
class Scope:
    """The variables of one dashboard and the built-ins of one time range."""

    variables: dict[str, Variable]
    start: float
    end: float
    dashboard: str = ""

    def builtins(self, interval: float | None = None, rate_interval: float | None = None) -> dict[str, str]:
        span = self.end - self.start
        out = {
            "__range": format_duration(round(span)),
            "__range_s": str(round(span)),
            "__range_ms": str(round(span * 1000)),
            "__from": str(round(self.start * 1000)),
            "__to": str(round(self.end * 1000)),
            "__dashboard": self.dashboard,
        }
        if interval is not None:
            out["__interval"] = format_duration(interval)
            out["__interval_ms"] = str(round(interval * 1000))
        if rate_interval is not None:
            out["__rate_interval"] = format_duration(rate_interval)
        return out

    def interpolate(
        self,
        text: str,
        *,
        interval: float | None = None,
        rate_interval: float | None = None,
        prometheus: bool = True,
        extra: dict[str, str] | None = None,
    ) -> str:
        builtins = self.builtins(interval, rate_interval)
        if extra:
            builtins.update(extra)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2) or match.group(4)
            fmt = match.group(3) or match.group(6)
            if name in builtins:
                return builtins[name]
            variable = self.variables.get(name)
            if variable is None:
                return match.group(0)
            return _format(variable, fmt, prometheus)

        return VARIABLE_RE.sub(replace, text)


# --- resolving the templating list --------------------------------------------------------------

QueryFn = Callable[[str, str, Any], Awaitable[Any]]

_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)\s*$", re.S)
_LABEL_NAMES = re.compile(r"^label_names\((.*)\)\s*$", re.S)
_METRICS = re.compile(r"^metrics\((.+)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$", re.S)


def variable_query_text(spec: dict[str, Any]) -> str:
    query = spec.get("query")
    if isinstance(query, dict):
        query = query.get("query") or ""
    if not query:
        query = spec.get("definition") or ""
    return str(query)


def _sorted(values: list[str], sort: int) -> list[str]:
    if sort in (1, 2):
        return sorted(values, reverse=sort == 2)
    if sort in (3, 4):

        def number(text: str) -> float:
            found = re.search(r"-?\d+(?:\.\d+)?", text)
            return float(found.group(0)) if found else math.inf

        return sorted(values, key=number, reverse=sort == 4)
    if sort in (5, 6):
        return sorted(values, key=str.lower, reverse=sort == 6)
    return values


def _apply_regex(values: list[str], pattern: str) -> list[tuple[str, str]]:
    """The variable's regex: keep matches; a capture group (or text/value groups) picks the text."""
    if not pattern:
        return [(v, v) for v in values]
    body = pattern
    flags = 0
    slashed = re.fullmatch(r"/(.*)/([gimsuy]*)", pattern, re.S)
    if slashed:
        body = slashed.group(1)
        flags = re.I if "i" in slashed.group(2) else 0
    body = re.sub(r"\(\?<(\w+)>", r"(?P<\1>", body)
    compiled = re.compile(body, flags)
    out: list[tuple[str, str]] = []
    for value in values:
        match = compiled.search(value)
        if not match:
            continue
        groups = match.groupdict()
        if groups.get("value") is not None or groups.get("text") is not None:
            v = groups.get("value") or groups.get("text") or value
            out.append((groups.get("text") or v, v))
        elif match.groups():
            picked = next((g for g in match.groups() if g is not None), value)
            out.append((picked, picked))
        else:
            out.append((value, value))
    unique: dict[str, str] = {}
    for text, value in out:
        unique.setdefault(value, text)
    return [(text, value) for value, text in unique.items()]


def _split_custom(query: str) -> list[tuple[str, str]]:
    """custom variables: 'a,b,c' or 'text : value' pairs, commas escaped with a backslash."""
    parts = [p.replace("\\,", ",").strip() for p in re.split(r"(?<!\\),", query)]
    out = []
    for part in parts:
        if not part:
            continue
        if " : " in part:
            text, _, value = part.partition(" : ")
            out.append((text.strip(), value.strip()))
        else:
            out.append((part, part))
    return out


def _current(spec: dict[str, Any]) -> list[str]:
    value = (spec.get("current") or {}).get("value")
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


async def resolve_variables(
    dashboard: dict[str, Any],
    start: float,
    end: float,
    fetch: QueryFn,
    overrides: dict[str, Sequence[str]] | None = None,
) -> Scope:
    """Every variable of the templating list, in order (a later query may use an earlier one).

    `fetch(kind, promql_or_label, extra)` runs one look-up against Prometheus: kind is
    'label_values', 'label_names', 'series' or 'query'."""
    scope = Scope({}, start, end, str(dashboard.get("title", "")))
    overrides = overrides or {}
    for spec in (dashboard.get("templating") or {}).get("list") or []:
        name = str(spec.get("name") or "")
        if not name:
            continue
        kind = str(spec.get("type") or "query")
        variable = Variable(
            name=name,
            type=kind,
            label=str(spec.get("label") or name),
            multi=bool(spec.get("multi")),
            include_all=bool(spec.get("includeAll")),
            all_value=spec.get("allValue") or None,
            hidden=spec.get("hide") == 2,
        )
        options: list[tuple[str, str]] = []
        try:
            if kind == "query":
                options = await _query_options(scope, spec, fetch)
            elif kind == "custom":
                options = _split_custom(scope.interpolate(variable_query_text(spec), prometheus=False))
            elif kind in ("constant", "textbox"):
                value = variable_query_text(spec)
                current = _current(spec)
                if kind == "textbox" and current:
                    value = current[0]
                options = [(value, value)]
            elif kind == "interval":
                options = _split_custom(variable_query_text(spec))
                if spec.get("auto"):
                    count = int(spec.get("auto_count") or 30)
                    low = duration_seconds(str(spec.get("auto_min") or "10s"))
                    auto = format_duration(max(round_interval((end - start) / count), low))
                    options.insert(0, ("auto", auto))
            elif kind == "datasource":
                options = [("prometheus", "prometheus")]
            else:  # adhoc and others: nothing to substitute
                options = []
        except PrometheusUnavailable:
            raise
        except Exception as exc:  # a variable that cannot be resolved leaves its panels empty, as in Grafana
            log.warning("variable %s: %s", name, exc)
            options = []
        if variable.include_all:
            options.insert(0, ("All", ALL))
        variable.options = options
        values = [value for _, value in options]
        wanted = list(overrides.get(name) or _current(spec))
        if wanted == ["All"] and variable.include_all:
            wanted = [ALL]
        if kind == "interval" and wanted and spec.get("auto") and wanted[0] in ("$__auto_interval_" + name, "auto"):
            wanted = [values[0]] if values else []
        chosen = [w for w in wanted if w in values or (w == ALL and variable.include_all)]
        if name in overrides and not chosen and wanted:
            chosen = wanted  # an explicit value the options do not list (textbox-like use)
        if not chosen and values:
            chosen = [values[0]]
        if not variable.multi and len(chosen) > 1:
            chosen = chosen[:1]
        variable.selected = chosen
        scope.variables[name] = variable
    return scope


async def _query_options(scope: Scope, spec: dict[str, Any], fetch: QueryFn) -> list[tuple[str, str]]:
    query = scope.interpolate(variable_query_text(spec), prometheus=True).strip()
    values: list[str]
    if match := _LABEL_VALUES.match(query):
        selector, label = match.group(1), match.group(2)
        values = [str(v) for v in await fetch("label_values", label, selector.strip() if selector else None)]
    elif match := _LABEL_NAMES.match(query):
        values = [str(v) for v in await fetch("label_names", "", match.group(1).strip() or None)]
    elif match := _METRICS.match(query):
        names = [str(v) for v in await fetch("label_values", "__name__", None)]
        pattern = re.compile(match.group(1).strip())
        values = [n for n in names if pattern.search(n)]
    elif match := _QUERY_RESULT.match(query):
        values = [str(v) for v in await fetch("query_result", match.group(1), None)]
    else:  # a bare PromQL expression: Grafana runs it as query_result
        values = [str(v) for v in await fetch("query_result", query, None)]
    options = _apply_regex(values, str(spec.get("regex") or ""))
    sort = int(spec.get("sort") or 0)
    if sort:
        order = _sorted([t for t, _ in options], sort)
        by_text = dict(options)
        options = [(t, by_text[t]) for t in order]
    return options
