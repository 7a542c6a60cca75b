"""Quantities as remote APIs send them, shared by the connectors and the comparison."""

from __future__ import annotations

import math
from typing import Any


def parse_quantity(raw: Any) -> float | None:
    """A number, or a decimal string such as Square's "12.0"; None for anything else."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None
