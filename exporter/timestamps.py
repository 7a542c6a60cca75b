"""Timestamps as the reference schema stores them: UTC ISO-8601 text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(text: Any) -> float | None:
    """ISO-8601 text (UTC, 'Z', '+00:00' or no offset) or a datetime -> Unix seconds; None if unparsable."""
    if text is None:
        return None
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(str(text).strip())
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
