"""Integration connectors (Shopify, Square, Odoo, generic REST JSON).

Each kind is one module behind one small interface; the collector that compares
remote stock with the database is shared by all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.collectors.base import Collector
    from exporter.config import Config, IntegrationConfig
    from exporter.db import Database

KINDS: tuple[str, ...] = ()


def validate_integration(integration: "IntegrationConfig") -> tuple[str, str] | None:
    """Return (key, problem) for the first problem in one integration's settings."""
    if integration.kind not in KINDS:
        known = ", ".join(KINDS) or "none yet"
        return "kind", f"unknown integration kind {integration.kind!r} (known: {known})"
    return None


def build_integration_collectors(config: "Config", database: "Database") -> list["Collector"]:
    return []
