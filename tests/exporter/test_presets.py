"""Preset files: shared SQL fragments (`shared:` and `{name}` lines) and the shipped presets."""

from __future__ import annotations

import re

import pytest

import exporter.presets as presets


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "_DIR", tmp_path)
    presets.load_preset.cache_clear()
    yield tmp_path
    presets.load_preset.cache_clear()


def test_a_shared_fragment_is_written_into_each_statement_that_names_it(preset_dir):
    (preset_dir / "shop.yml").write_text(
        "shared:\n"
        "  orders: |\n"
        "    WITH o AS (SELECT channel FROM orders WHERE note <> '{not a fragment}')\n"
        "metrics:\n"
        "  inventory_orders_due_total: |\n"
        "    {orders}\n"
        "    SELECT channel, COUNT(*) AS value FROM o GROUP BY channel\n"
        "  inventory_skus: |\n"
        "    SELECT 'wh' AS location, 1 AS value\n"
    )
    preset = presets.load_preset("shop")
    assert preset.metrics["inventory_orders_due_total"] == (
        "WITH o AS (SELECT channel FROM orders WHERE note <> '{not a fragment}')\n"
        "SELECT channel, COUNT(*) AS value FROM o GROUP BY channel\n"
    )
    assert preset.metrics["inventory_skus"] == "SELECT 'wh' AS location, 1 AS value\n"


def test_including_an_undefined_fragment_is_an_error_naming_it(preset_dir):
    (preset_dir / "shop.yml").write_text("metrics:\n  inventory_skus: |\n    {stock}\n    SELECT 1 AS value\n")
    with pytest.raises(ValueError, match=r"preset 'shop' includes \{stock\}, which shared: does not define"):
        presets.load_preset("shop")


@pytest.mark.parametrize("name", presets.preset_names())
def test_shipped_presets_leave_no_include_unexpanded(name):
    for metric, sql in presets.load_preset(name).metrics.items():
        assert not re.search(r"^\s*\{\w+\}\s*$", sql, re.MULTILINE), metric
