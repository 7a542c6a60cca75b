"""Integration settings are validated at start: one line naming file, key path and problem."""

from __future__ import annotations

from typing import Literal, get_args

import pytest
import yaml
from pydantic import ValidationError

from exporter.config import load_config
from exporter.integrations import CONNECTORS, KINDS, Integration
from exporter.integrations.odoo import OdooIntegration
from exporter.integrations.shopify import ShopifyIntegration
from servicekit.config import ConfigError


def write(tmp_path, integration: dict) -> str:
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump({"integrations": [integration]}))
    return str(path)


BASE = {
    "name": "shop",
    "kind": "shopify",
    "url": "https://example.myshopify.com",
    "token_env": "TEST_SHOPIFY_TOKEN",
    "locations": {"gid://shopify/Location/1": "online"},
}


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"kind": "magento"},
            "integrations.0.kind: unknown kind 'magento', expected one of 'shopify', 'square', 'odoo', 'rest_json'",
        ),
        ({"page_size": 0}, "integrations.0.page_size: Input should be greater than or equal to 1"),
        ({"pagesize": 10}, "integrations.0.pagesize: unknown key"),
        ({"api_version": "2025-02"}, "integrations.0.api_version: expected a Shopify API version"),
        (
            {"token_env": "NOT_SET_ANYWHERE_42"},
            "integrations.0.token_env: environment variable NOT_SET_ANYWHERE_42 is not set",
        ),
        ({"token_env": None}, "integrations.0.token_env: a shopify integration needs token_env or token_file"),
        ({"locations": {}}, "integrations.0.locations: map at least one remote location id"),
        (
            {"locations": {"a": "online", "b": "online"}},
            "integrations.0.locations: remote locations 'a' and 'b' both map to 'online'",
        ),
        ({"url": "ftp://x"}, "integrations.0.url: must be an http:// or https:// URL"),
        (
            {"kind": "odoo", "database": "db", "username": "u"},
            "integrations.0.locations.gid://shopify/Location/1: Odoo location ids are integers",
        ),
        ({"kind": "odoo"}, "integrations.0.database: required key is missing"),
        (
            {"kind": "rest_json", "sku_path": "sku", "location_path": "loc", "quantity_path": "q", "paging": "cursor"},
            "integrations.0.paging: cursor needs cursor_path",
        ),
        ({"tolerance_units": -1}, "integrations.0.tolerance_units: Input should be greater than or equal to 0"),
        ({"name": "shop-1"}, "integrations.0.name: must be letters, digits and underscores"),
        ({"token_file": "/nonexistent/token"}, "integrations.0.token_env: set token_env or token_file, not both"),
        (
            {"token_env": None, "token_file": "/nonexistent/token"},
            "integrations.0.token_file: cannot read /nonexistent/token",
        ),
    ],
)
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
    integration = config.integrations[0]
    assert isinstance(integration, ShopifyIntegration)
    assert (integration.tolerance_units, integration.missing_remote, integration.page_size) == (1.0, "ignore", 50)


REST = {**BASE, "kind": "rest_json", "sku_path": "sku", "location_path": "loc", "quantity_path": "q"}


def test_rest_json_may_go_without_a_secret(tmp_path):
    config = load_config(write(tmp_path, {k: v for k, v in REST.items() if k != "token_env"}))
    assert (config.integrations[0].token_env, config.integrations[0].token_file) == (None, None)


@pytest.mark.parametrize(
    "integrations, expected",
    [
        # The kind's model reports at the key, without the union's tag ("rest_json") in the path.
        ([{k: v for k, v in REST.items() if k != "sku_path"}], "integrations.0.sku_path: required key is missing"),
        # Each kind owns its keys: Square's sku_from is no Shopify key.
        ([{**BASE, "sku_from": "catalog"}], "integrations.0.sku_from: unknown key"),
        (
            [BASE, {**REST, "name": "wms", "paging": "sideways"}],
            "integrations.1.paging: Input should be 'link', 'cursor' or 'none'",
        ),
        ([{k: v for k, v in BASE.items() if k != "kind"}], "integrations.0.kind: required key is missing"),
        # A key blamed by a check across keys keeps its name even when it reads like a tag.
        (
            [
                {
                    **BASE,
                    "kind": "odoo",
                    "database": "db",
                    "username": "u",
                    "locations": {"8": "wh", "shopify": "online"},
                }
            ],
            "integrations.0.locations.shopify: Odoo location ids are integers (stock.location id)",
        ),
        (
            [{**BASE, "ignored_locations": ["gid://shopify/Location/1"]}],
            "integrations.0.ignored_locations: 'gid://shopify/Location/1' is both mapped and ignored",
        ),
    ],
)
def test_union_reports_the_whole_line(tmp_path, integrations, expected):
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump({"integrations": integrations}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {expected}"


def test_integration_names_are_unique(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump({"integrations": [BASE, {**BASE, "locations": {"gid://shopify/Location/2": "x"}}]}))
    with pytest.raises(ConfigError, match="duplicate name 'shop'") as err:
        load_config(path)
    assert str(err.value) == f"{path}: integrations.1.name: duplicate name 'shop'"


def test_api_probe_targets_are_unique(tmp_path):
    path = tmp_path / "exporter.yml"
    probe = {"target": "api", "url": "http://127.0.0.1:8080/health"}
    path.write_text(yaml.safe_dump({"api_probes": [probe, {**probe, "url": "http://127.0.0.1:8081/health"}]}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: api_probes.1.target: duplicate target 'api'"


def test_odoo_model_rejects_location_ids_that_are_not_integers():
    odoo = {**BASE, "kind": "odoo", "database": "inventory", "username": "exporter"}
    with pytest.raises(ValidationError) as err:
        OdooIntegration.model_validate({**odoo, "locations": {"8": "wh-main", "WH/Stock": "store"}})
    [error] = err.value.errors()
    assert error["ctx"]["key"] == ("locations", "WH/Stock")
    assert OdooIntegration.model_validate({**odoo, "locations": {"8": "wh-main"}}).locations == {"8": "wh-main"}
    # The rule is Odoo's: the same ids are fine for Shopify.
    assert ShopifyIntegration.model_validate({**BASE, "locations": {"WH/Stock": "store"}}).kind == "shopify"


def test_database_sql_required_unless_reference_schema(tmp_path):
    path = tmp_path / "exporter.yml"
    document = {
        "database": {"url": "sqlite:///x.db", "schema": "custom"},
        "integrations": [
            {**BASE, "database_sql": "SELECT sku, location, available FROM v"},
            {**BASE, "name": "second"},
        ],
    }
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: integrations.1.database_sql: required when database.schema is not")
    document["integrations"][1]["database_sql"] = "SELECT sku, location, available FROM v"
    path.write_text(yaml.safe_dump(document))
    assert [i.name for i in load_config(path).integrations] == ["shop", "second"]


def test_registry_and_union_agree():
    members = get_args(get_args(Integration)[0])
    assert {m.model_fields["kind"].annotation for m in members} == {Literal[kind] for kind in KINDS}
    assert set(members) == {connector.Settings for connector in CONNECTORS.values()}
    assert all(get_args(c.Settings.model_fields["kind"].annotation) == (kind,) for kind, c in CONNECTORS.items())
