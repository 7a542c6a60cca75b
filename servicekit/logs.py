"""Structured logging for every service: logfmt-like text or one JSON object per line.

One record is one line whatever it holds: a label value with a newline, a carriage
return or an ANSI escape cannot forge or hide a line. The text format writes control
characters as escapes (\\n, \\r, \\x1b) and puts a trace on the record's own line; JSON
escapes them too. Both mask the password of any URL and credential-named query
parameters (servicekit.secrets.redact), wherever the text came from.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from servicekit.secrets import redact

# Context a service attaches with `extra=` (the enhancer's rule and action); kept as
# fields of their own in JSON lines.
EXTRA_FIELDS = ("rule", "action_id", "labels")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: all end or
# rewrite a line in some terminal, pager or log shipper.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    """`text` on one line: control characters as \\n, \\r, \\t, \\xNN or \\uNNNN."""
    return _CONTROL.sub(lambda m: _NAMED.get(m[0]) or _code(m[0]), text)


def _code(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return redact("\n".join(parts)) if parts else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        entry.update({name: getattr(record, name) for name in EXTRA_FIELDS if hasattr(record, name)})
        trace = _trace(self, record)
        if trace is not None:
            entry["exc"] = trace
        # json escapes C0 controls; the rest of _CONTROL is valid JSON but splits lines for some readers
        return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`ts=... level=... logger=... msg=...`, the message (and a trace, as `exc=`) on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"ts={_timestamp(record)} level={record.levelname} logger={record.name} "
            f"msg={escape_control(redact(record.getMessage()))}"
        )
        trace = _trace(self, record)
        return line if trace is None else f"{line} exc={escape_control(trace)}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return _timestamp(record)


def setup_logging(fmt: str = "text", level: str = "info", logger: str = "") -> None:
    """One stderr handler in the chosen format on `logger` (the root logger by default).

    A service embedded in another process (the reporter called from Python) passes its
    own logger name, so its records still propagate to whatever the host attached.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("servicekit")
    target = logging.getLogger(logger)
    target.handlers[:] = [h for h in target.handlers if h.get_name() != "servicekit"] + [handler]
    target.setLevel(level.upper())
    # aiohttp's access log would log every scrape.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
