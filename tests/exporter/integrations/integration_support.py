"""Helpers of the integration connector tests: the seed, fake vendor servers on 127.0.0.1
(the same fakes the demo runs) and collectors wired to them. Fixtures are in conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from prometheus_client.metrics_core import Metric

from demo.fakes import odoo as odoo_fake
from demo.fakes import rest_json as rest_fake
from demo.fakes import shopify as shopify_fake
from demo.fakes import square as square_fake
from demo.fakes.common import FakeState
from exporter.db import Database
from exporter.integrations import CONNECTORS, CommonIntegration
from exporter.integrations.collector import IntegrationCollector
from servicekit.snapshot import Snapshot

# 30 SKUs; the fakes' remote locations map to these database locations.
SKUS = [f"SKU-{i:03d}" for i in range(1, 31)]
LOCATION_MAPS = {
    "shopify": {"gid://shopify/Location/1001": "online", "gid://shopify/Location/1002": "wh-main"},
    "square": {"LNORTHSTORE01": "store-north", "LSOUTHSTORE02": "store-south"},
    "odoo": {"8": "wh-main", "21": "store-north"},
    "rest_json": {"A": "wh-main", "B": "online"},
}
TOKENS = {
    "shopify": "shpat_test_SECRET_6f1d2c",
    "square": "EAAAl_test_SECRET_9a8b7c",
    "odoo": "odoo-test-SECRET-pw-4e5f",
    "rest_json": "rest-test-SECRET-key-3c2b",
}
FAKES = {"shopify": shopify_fake, "square": square_fake, "odoo": odoo_fake, "rest_json": rest_fake}


def stock_row(sku_index: int, location: str) -> tuple[int, int]:
    """(on_hand, reserved) of the seeded database for one SKU-location."""
    return 10 + sku_index * 3 + len(location), sku_index % 3


def seed_statements() -> list[str]:
    locations = ["wh-main", "store-north", "store-south", "online"]
    out = [f"INSERT INTO locations (id, name, kind) VALUES ('{loc}', '{loc}', 'store')" for loc in locations]
    out += [f"INSERT INTO products (sku, name) VALUES ('{sku}', 'Product {sku}')" for sku in SKUS]
    for i, sku in enumerate(SKUS):
        for loc in locations:
            on_hand, reserved = stock_row(i, loc)
            out.append(
                "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, updated_at) "
                f"VALUES ('{sku}', '{loc}', {on_hand}, {reserved}, '2026-11-22T00:00:00Z')"
            )
    return out


def remote_stock(kind: str) -> dict[tuple[str, str], tuple[int, int]]:
    """What the fake lists when it agrees with the database."""
    stock = {}
    for remote, local in LOCATION_MAPS[kind].items():
        for i, sku in enumerate(SKUS):
            stock[(sku, remote)] = stock_row(i, local)
    return stock


class RunningFake:
    def __init__(self, kind: str, state: FakeState, url: str):
        self.kind, self.state, self.url = kind, state, url

    def control(self, **switches: Any) -> dict[str, Any]:
        self.state.control(switches)
        return self.state.status()


@asynccontextmanager
async def running_fake(kind: str, stock: dict | None = None) -> AsyncIterator[RunningFake]:
    state = FakeState(kind, TOKENS[kind], LOCATION_MAPS[kind], stock=remote_stock(kind) if stock is None else stock)
    runner = web.AppRunner(FAKES[kind].build_app(state), handler_cancellation=True, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield RunningFake(kind, state, f"http://{host}:{port}")
    finally:
        state.release.set()
        await runner.cleanup()


def integration_config(kind: str, url: str, name: str | None = None, **extra: Any) -> CommonIntegration:
    extra.setdefault("backoff", 0.02)
    extra.setdefault("retries", 2)
    extra.setdefault("request_timeout", 1.0)
    # What each fake says the exporter needs to read it (Odoo's database and login,
    # rest_json's paths): the same declaration the demo uses.
    for key, value in getattr(FAKES[kind], "INTEGRATION_SETTINGS", {}).items():
        extra.setdefault(key, value)
    data = {
        "name": name or kind,
        "kind": kind,
        "url": url,
        "token_env": f"TEST_{kind.upper()}_TOKEN",
        "interval": 60,
        "timeout": extra.pop("timeout", 5.0),
        "locations": extra.pop("locations", LOCATION_MAPS[kind]),
        **extra,
    }
    return CONNECTORS[kind].Settings.model_validate(data)


def make_collector(kind: str, url: str, db_url: str, **extra: Any) -> IntegrationCollector:
    config = integration_config(kind, url, **extra)
    return IntegrationCollector(config, CONNECTORS[kind], Database(db_url, timeout=5))


def render(families: list[Metric]) -> str:
    return Snapshot.render(families).text.decode()


def value(families: list[Metric], name: str, **labels: str) -> float | None:
    """The sample value of `name` whose labels include `labels`; None if absent."""
    for family in families:
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def samples(families: list[Metric], name: str) -> dict[tuple, float]:
    out = {}
    for family in families:
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out
