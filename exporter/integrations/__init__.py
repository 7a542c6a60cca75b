"""Integration connectors (Shopify, Square, Odoo, generic REST JSON): the registry.

Each kind is one module with its config model (a CommonIntegration with `kind: Literal`)
and its connector behind one small interface (base.Connector); the collector that
compares remote stock with the database is shared by all of them (collector.py).
Adding a kind means one new module, one line in CONNECTORS and one member of Integration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from exporter.integrations.base import CommonIntegration, Connector
from exporter.integrations.odoo import OdooConnector, OdooIntegration
from exporter.integrations.rest_json import RestJsonConnector, RestJsonIntegration
from exporter.integrations.shopify import ShopifyConnector, ShopifyIntegration
from exporter.integrations.square import SquareConnector, SquareIntegration

if TYPE_CHECKING:
    from exporter.collectors.base import Collector
    from exporter.config import Config
    from exporter.db import Database

CONNECTORS: dict[str, type[Connector]] = {
    c.kind: c for c in (ShopifyConnector, SquareConnector, OdooConnector, RestJsonConnector)
}
KINDS: tuple[str, ...] = tuple(CONNECTORS)

# One entry of the config's `integrations`: `kind` picks the model that validates the rest,
# so every problem is reported at its own key (integrations.0.sku_path), never the tag.
Integration = Annotated[
    ShopifyIntegration | SquareIntegration | OdooIntegration | RestJsonIntegration,
    Field(discriminator="kind"),
]

__all__ = ["CONNECTORS", "KINDS", "CommonIntegration", "Connector", "Integration", "build_integration_collectors"]


def build_integration_collectors(config: Config, database: Database) -> list[Collector]:
    from exporter.integrations.collector import IntegrationCollector

    return [
        IntegrationCollector(integration, CONNECTORS[integration.kind], database) for integration in config.integrations
    ]
