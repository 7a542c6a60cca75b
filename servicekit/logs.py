"""Structured logging for every service: logfmt-like text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time

# Context a service attaches with `extra=` (the enhancer's rule and action); kept as
# fields of their own in JSON lines.
EXTRA_FIELDS = ("rule", "action_id", "labels")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in EXTRA_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s")

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
