"""The comparison SQL is portable: the same seed in PostgreSQL gives the same result."""

from __future__ import annotations

import pytest
from integration_support import LOCATION_MAPS, make_collector, running_fake, seed_statements, value


@pytest.mark.postgres
async def test_square_comparison_against_postgresql(postgres_db):
    url, server, name = postgres_db
    server.psql(";\n".join(seed_statements()) + ";", database=name)
    remote1, local1 = next(iter(LOCATION_MAPS["square"].items()))
    async with running_fake("square") as fake:
        fake.control(page_size=9, drift={f"SKU-001@{remote1}": 2, f"SKU-002@{remote1}": -1})
        collector = make_collector("square", fake.url, url)
        try:
            families = await collector.collect()
        finally:
            await collector.close()
    assert value(families, "inventory_integration_fetch_success") == 1
    assert value(families, "inventory_integration_compared_skus", location=local1) == 30
    assert value(families, "inventory_integration_stock_mismatch_skus", location=local1) == 2
    assert value(families, "inventory_integration_accuracy_ratio") == pytest.approx(58 / 60)
    assert [m["sku"] for m in collector.api_views()["mismatches"]] == ["SKU-001", "SKU-002"]
