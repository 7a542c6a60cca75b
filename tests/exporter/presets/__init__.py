"""Real systems' schemas, built from their own published definitions, for the presets' tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from exporter.business_catalogue import SERVICE_LEVEL_METRICS
from exporter.collectors.business import BusinessCollector
from exporter.config import load_config
from exporter.db import Database
from tests.exporter.test_business import samples

# What both presets map. Neither Odoo nor ERPNext has per-warehouse safety stock, an audit
# log of stock moves or a table of integration sync runs (docs/presets/*.md, "Not mapped").
MAPPED = (
    "inventory_skus",
    "inventory_on_hand_units",
    "inventory_available_units",
    "inventory_stock_value",
    "inventory_low_stock_skus",
    "inventory_out_of_stock_skus",
    "inventory_orders",
    "inventory_order_fulfillment_ratio",
    "inventory_stock_movements_total",
    "inventory_last_stock_movement_timestamp_seconds",
)
# Both also map the whole service level (issue 20), the stock-out exposure and the order counters.
SERVICE_LEVEL_MAPPED = (
    "inventory_orders_created_total",
    "inventory_orders_fulfilled_total",
    *SERVICE_LEVEL_METRICS,
    "inventory_orders_stockout_exposed",
)

# Naive, as both systems store datetimes (Odoo in UTC; ERPNext in the site's zone, read as UTC).
NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


async def collect_with_schema(
    url: str, schema: str, tmp_path: Path, extra: str = "", now: datetime | None = None
) -> dict[tuple, float]:
    """One business cycle through the config file a user writes: `database: {url, schema}`;
    `now` (naive UTC) fixes the exporter's clock (:now, :since, :service_level_since)."""
    path = tmp_path / "exporter.yml"
    path.write_text(f"database:\n  url: {url}\n  schema: {schema}\n{extra}")
    config = load_config(path)
    collector = BusinessCollector(Database(config.database.url, timeout=10), config.database, config.business)
    if now is not None:
        fixed = now.replace(tzinfo=UTC)
        collector.clock = lambda: fixed
    try:
        return samples(await collector.collect())
    finally:
        await collector.close()
