"""Integration connectors (Shopify, Square, Odoo, generic REST JSON).

Each kind is one module behind one small interface (base.Connector); the collector
that compares remote stock with the database is shared by all of them (collector.py).
Adding a kind means one new module and one line in CONNECTORS.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from pydantic import ValidationError

from servicekit.config import problem_text
from exporter.integrations.base import CommonSettings, Connector
from exporter.integrations.odoo import OdooConnector
from exporter.integrations.rest_json import RestJsonConnector
from exporter.integrations.shopify import ShopifyConnector
from exporter.integrations.square import SquareConnector

if TYPE_CHECKING:
    from exporter.collectors.base import Collector
    from exporter.config import Config, IntegrationConfig
    from exporter.db import Database

CONNECTORS: dict[str, type[Connector]] = {
    c.kind: c for c in (ShopifyConnector, SquareConnector, OdooConnector, RestJsonConnector)
}
KINDS: tuple[str, ...] = tuple(CONNECTORS)


def settings_for(integration: "IntegrationConfig") -> CommonSettings:
    """The kind-specific settings from the integration's extra keys (raises ValidationError)."""
    return CONNECTORS[integration.kind].Settings.model_validate(integration.model_extra or {})


def validate_integration(integration: "IntegrationConfig") -> tuple[str, str] | None:
    """Return (key, problem) for the first problem in one integration's settings."""
    if integration.kind not in KINDS:
        return "kind", f"unknown integration kind {integration.kind!r} (known: {', '.join(KINDS)})"
    connector = CONNECTORS[integration.kind]
    try:
        settings = settings_for(integration)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(part) for part in err["loc"])
        message = problem_text(err)
        if not key:
            # A check across keys names its key first: "paging: cursor needs cursor_path".
            key, _, message = message.partition(": ") if re.match(r"^\w+: ", message) else ("kind", "", message)
        return key, message
    if integration.token_env and integration.token_file:
        return "token_env", "set token_env or token_file, not both"
    if connector.needs_token and not (integration.token_env or integration.token_file):
        return "token_env", f"a {integration.kind} integration needs token_env or token_file"
    if integration.token_env and integration.token_env not in os.environ:
        return "token_env", f"environment variable {integration.token_env} is not set"
    if integration.token_file and not os.access(integration.token_file, os.R_OK):
        return "token_file", f"cannot read {integration.token_file}"
    if not integration.locations:
        return "locations", "map at least one remote location id to a database location id"
    targets: dict[str, str] = {}
    for remote, local in integration.locations.items():
        if local in targets:
            return "locations", (f"remote locations {targets[local]!r} and {remote!r} both map to {local!r}; "
                                 "map each database location once")
        targets[local] = remote
        if integration.kind == "odoo" and not remote.isdigit():
            return f"locations.{remote}", "Odoo location ids are integers (stock.location id)"
    overlap = set(settings.ignored_locations) & set(integration.locations)
    if overlap:
        return "ignored_locations", f"{sorted(overlap)[0]!r} is both mapped and ignored"
    return None


def build_integration_collectors(config: "Config", database: "Database") -> list["Collector"]:
    from exporter.integrations.collector import IntegrationCollector

    return [
        IntegrationCollector(integration, CONNECTORS[integration.kind], settings_for(integration), database)
        for integration in config.integrations
    ]
