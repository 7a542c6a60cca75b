"""Integration settings are validated at start: one line naming file, key path and problem."""

from __future__ import annotations

import pytest
import yaml

from exporter.config import ConfigError, load_config


def write(tmp_path, integration: dict) -> str:
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump({"integrations": [integration]}))
    return str(path)


BASE = {"name": "shop", "kind": "shopify", "url": "https://example.myshopify.com", "token_env": "TEST_SHOPIFY_TOKEN",
        "locations": {"gid://shopify/Location/1": "online"}}


@pytest.mark.parametrize("change, expected", [
    ({"kind": "magento"}, "integrations.0.kind: unknown integration kind 'magento' (known: shopify, square, odoo, rest_json)"),
    ({"page_size": 0}, "integrations.0.page_size: Input should be greater than or equal to 1"),
    ({"pagesize": 10}, "integrations.0.pagesize: unknown key"),
    ({"api_version": "2025-02"}, "integrations.0.api_version: expected a Shopify API version"),
    ({"token_env": "NOT_SET_ANYWHERE_42"}, "integrations.0.token_env: environment variable NOT_SET_ANYWHERE_42 is not set"),
    ({"token_env": None}, "integrations.0.token_env: a shopify integration needs token_env or token_file"),
    ({"locations": {}}, "integrations.0.locations: map at least one remote location id"),
    ({"locations": {"a": "online", "b": "online"}}, "integrations.0.locations: remote locations 'a' and 'b' both map to 'online'"),
    ({"url": "ftp://x"}, "integrations.0.url: must be an http:// or https:// URL"),
    ({"kind": "odoo", "database": "db", "username": "u"}, "integrations.0.locations.gid://shopify/Location/1: Odoo location ids are integers"),
    ({"kind": "odoo"}, "integrations.0.database: required key is missing"),
    ({"kind": "rest_json", "sku_path": "sku", "location_path": "loc", "quantity_path": "q", "paging": "cursor"},
     "integrations.0.paging: cursor needs cursor_path"),
    ({"tolerance_units": -1}, "integrations.0.tolerance_units: Input should be greater than or equal to 0"),
])
def test_bad_integration_settings(tmp_path, change, expected):
    integration = {**BASE, **change}
    integration = {k: v for k, v in integration.items() if v is not None}
    path = write(tmp_path, integration)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_good_settings_load(tmp_path):
    config = load_config(write(tmp_path, {**BASE, "tolerance_units": 1, "missing_remote": "ignore"}))
    assert config.integrations[0].model_extra == {"tolerance_units": 1, "missing_remote": "ignore"}
