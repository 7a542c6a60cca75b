"""Ready-made mappings of real systems' databases: `database.schema: <name>`.

A preset is one YAML file beside this module, `<name>.yml`:

    description: "Odoo 18 stock, sales and purchase (PostgreSQL)"
    dialects: [postgresql]
    metrics:
      inventory_skus: |
        SELECT ... AS location, COUNT(*) AS value FROM ...

SQL that several statements share (a chain of CTEs) is written once under `shared:`
and included with `{name}` on a line of its own in each statement:

    shared:
      orders: |
        WITH o AS (SELECT ...)
    metrics:
      inventory_orders_due_total: |
        {orders}
        SELECT channel, COUNT(*) AS value FROM o GROUP BY channel

Each statement returns the built-in metric's label columns and a `value` column, like
an override (docs/configuration.md, "Map your own schema"). A metric the preset does
not map is not published. The user's own `business.overrides` win over the preset's.
Each preset is documented in docs/presets/<name>.md and tested against a database
built from that system's own published definitions (tests/exporter/presets/<name>/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from exporter.business_catalogue import METRICS

_DIR = Path(__file__).resolve().parent
# `{name}` alone on a line (indentation allowed): where a shared fragment goes.
_INCLUDE = re.compile(r"^[ \t]*\{(\w+)\}[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    dialects: tuple[str, ...]
    metrics: dict[str, str]


def preset_names() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.yml"))


@cache
def load_preset(name: str) -> Preset:
    """The shipped preset `name`; ValueError if there is none or it is malformed."""
    if name not in preset_names():
        raise ValueError(f"no preset {name!r}")
    data = yaml.safe_load((_DIR / f"{name}.yml").read_text(encoding="utf-8"))
    metrics = data.get("metrics") or {}
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:  # a shipped file, so this is our bug; the tests load every preset
        raise ValueError(f"preset {name!r} maps unknown metrics {unknown}")
    shared = {k: str(v).rstrip("\n") for k, v in (data.get("shared") or {}).items()}

    def include(match: re.Match[str]) -> str:
        if match.group(1) not in shared:
            raise ValueError(f"preset {name!r} includes {{{match.group(1)}}}, which shared: does not define")
        return shared[match.group(1)]

    return Preset(
        name=name,
        description=str(data.get("description", "")),
        dialects=tuple(data.get("dialects") or ()),
        metrics={k: _INCLUDE.sub(include, str(v)) for k, v in metrics.items()},
    )
