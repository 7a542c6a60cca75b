"""Real systems' schemas, built from their own published definitions, for the presets' tests."""

from __future__ import annotations

from pathlib import Path

from exporter.collectors.business import BusinessCollector
from exporter.config import load_config
from exporter.db import Database
from tests.exporter.test_business import samples


async def collect_with_schema(url: str, schema: str, tmp_path: Path, extra: str = "") -> dict[tuple, float]:
    """One business cycle through the config file a user writes: `database: {url, schema}`."""
    path = tmp_path / "exporter.yml"
    path.write_text(f"database:\n  url: {url}\n  schema: {schema}\n{extra}")
    config = load_config(path)
    collector = BusinessCollector(Database(config.database.url, timeout=10), config.database, config.business)
    try:
        return samples(await collector.collect())
    finally:
        await collector.close()
