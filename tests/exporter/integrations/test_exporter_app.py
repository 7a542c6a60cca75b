"""The real exporter (config file, Runner, HTTP app) with three integrations against the
fakes: /metrics and /api/v1/mismatches show the comparison, a failing integration does
not disturb the others, and no secret appears in logs, metrics, errors or the JSON API."""

from __future__ import annotations

import logging

import aiohttp
import yaml
from aiohttp import web
from integration_support import LOCATION_MAPS, TOKENS, running_fake

from exporter.collectors import build_collectors
from exporter.config import load_config
from exporter.runner import Runner
from exporter.server import build_app


async def test_exporter_serves_integrations_and_never_leaks_secrets(inventory_db, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_fake("shopify") as shopify, running_fake("square") as square, running_fake("odoo") as odoo:
        shopify.control(drift={"SKU-004@gid://shopify/Location/1001": -4})
        odoo.control(error="401")  # wrong password at the WMS
        config_path = tmp_path / "exporter.yml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "database": {"url": inventory_db},
                    "business": {"enabled": False},
                    "host": {"enabled": False},
                    "integrations": [
                        {
                            "name": "shopify",
                            "kind": "shopify",
                            "url": shopify.url,
                            "token_env": "TEST_SHOPIFY_TOKEN",
                            "timeout": "3s",
                            "locations": LOCATION_MAPS["shopify"],
                            "page_size": 7,
                        },
                        {
                            "name": "square",
                            "kind": "square",
                            "url": square.url,
                            "token_env": "TEST_SQUARE_TOKEN",
                            "timeout": "3s",
                            "locations": LOCATION_MAPS["square"],
                        },
                        {
                            "name": "odoo",
                            "kind": "odoo",
                            "url": odoo.url,
                            "token_env": "TEST_ODOO_TOKEN",
                            "timeout": "3s",
                            "database": "inventory",
                            "username": "exporter",
                            "locations": LOCATION_MAPS["odoo"],
                        },
                    ],
                }
            )
        )
        config = load_config(config_path)
        runner = Runner(build_collectors(config))
        app_runner = web.AppRunner(build_app(runner))
        await app_runner.setup()
        site = web.TCPSite(app_runner, "127.0.0.1", 0)
        await site.start()
        host, port = app_runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        try:
            for collector in runner.collectors:
                await runner.run_once(collector)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/metrics") as resp:
                    metrics = await resp.text()
                async with session.get(f"{base}/api/v1/mismatches") as resp:
                    assert resp.status == 200
                    mismatches_text = await resp.text()
                    mismatches = (await resp.json())["data"]
                async with session.get(f"{base}/api/v1/mismatches?integration=square") as resp:
                    square_only = (await resp.json())["data"]
                async with session.get(f"{base}/") as resp:
                    landing = await resp.text()
        finally:
            await runner.stop()
            await app_runner.cleanup()

    assert 'inventory_exporter_collector_success{collector="integration_shopify"} 1.0' in metrics
    assert 'inventory_exporter_collector_success{collector="integration_odoo"} 1.0' in metrics
    assert 'inventory_integration_up{integration="odoo"} 0.0' in metrics
    assert 'inventory_integration_up{integration="shopify"} 1.0' in metrics
    assert 'inventory_integration_up{integration="square"} 1.0' in metrics
    assert 'inventory_integration_stock_mismatch_skus{integration="shopify",location="online"} 1.0' in metrics
    assert 'inventory_integration_accuracy_ratio{integration="square"} 1.0' in metrics
    assert 'inventory_integration_requests_total{code="200",integration="shopify"}' in metrics
    assert 'inventory_integration_request_duration_seconds_bucket{integration="square",le="+Inf"}' in metrics
    assert "inventory_integration_data_quality_issues{" in metrics
    assert "inventory_data_quality_issues{" not in metrics  # the business collector's family
    assert mismatches == [
        {
            "integration": "shopify",
            "sku": "SKU-004",
            "location": "online",
            "database": mismatches[0]["database"],
            "remote": mismatches[0]["database"] - 4,
            "difference": -4,
        }
    ]
    assert square_only == []
    assert "bad credentials: check token_env TEST_ODOO_TOKEN" in caplog.text
    for secret in TOKENS.values():
        for where, text in (
            ("logs", caplog.text),
            ("metrics", metrics),
            ("mismatches", mismatches_text),
            ("landing page", landing),
        ):
            assert secret not in text, f"secret in {where}"
