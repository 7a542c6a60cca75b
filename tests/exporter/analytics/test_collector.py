"""The `analytics` collector: its metrics, the recommendations JSON view, config and registration."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import build_collectors
from exporter.collectors.analytics import AnalyticsCollector
from exporter.config import Config, load_config
from exporter.db import Database
from exporter.runner import Runner
from exporter.server import build_app
from servicekit.config import ConfigError
from tests.conftest import ROOT
from tests.exporter.analytics import dataset
from tests.exporter.analytics.test_worked_examples import A_QTY, ACCURACY, B_QTY, D_QTY, DAY_AHEAD, E_QTY, G_QTY


def samples(families) -> dict[tuple, float]:
    out = {}
    for family in families:
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def collector(sqlite_db):
    dataset.load(f"sqlite:///{sqlite_db}")
    collector = AnalyticsCollector(Database(f"sqlite:///{sqlite_db}"), dataset.CONFIG, clock=lambda: dataset.NOW)
    yield collector
    collector.database.dispose()


async def test_metrics_per_location(collector):
    found = samples(await collector.collect())
    assert value(found, "inventory_reorder_recommended_skus", location="wh") == 3
    assert value(found, "inventory_reorder_recommended_units", location="wh") == A_QTY + B_QTY + G_QTY
    assert value(found, "inventory_reorder_recommended_skus", location="store") == 2
    assert value(found, "inventory_reorder_recommended_units", location="store") == D_QTY + E_QTY
    # store: D (3/day) and E (2/day) have nothing available; C sells nothing and is left out.
    assert value(found, "inventory_stock_cover_seconds", location="store") == 0
    wh_demand = 4.10546875 + 6 / 7 + 0.25 + 5
    assert value(found, "inventory_stock_cover_seconds", location="wh") == pytest.approx(
        (12 + 10 + 50 + 30) / wh_demand * 86400
    )
    assert value(found, "inventory_forecast_daily_demand_units", location="wh") == pytest.approx(wh_demand)
    assert value(found, "inventory_forecast_abs_error_units") == pytest.approx(ACCURACY["abs_error"])
    assert value(found, "inventory_forecast_actual_units") == ACCURACY["actual"]
    assert value(found, "inventory_forecast_error_units") == pytest.approx(ACCURACY["error"])
    # the last closed day, 2026-05-10, one day ahead; its start as a Unix time
    for part in ("abs_error", "actual", "error"):
        name = f"inventory_forecast_day_{part}_units"
        assert value(found, name, day="2026-05-10") == pytest.approx(DAY_AHEAD[part]), part
    assert value(found, "inventory_forecast_day_timestamp_seconds") == 1778371200  # 2026-05-10T00:00:00Z
    for location, method, count in [
        ("wh", "ses", 2),
        ("wh", "croston_sba", 2),
        ("wh", "no_history", 0),
        ("store", "ses", 2),
        ("store", "croston_sba", 0),
        ("store", "no_history", 1),
    ]:
        assert value(found, "inventory_forecast_series", location=location, method=method) == count
    # Stored vs computed (tolerance 20 %): A's reorder point 10 < 18.5 and B's 30 > 14.7;
    # safety stock: G's 5 < 16.4 and A's 4 < 6.2 (over lead time + review period; 4 is less
    # than 0.8 * 6.2 = 4.96 and more than one unit below).
    assert value(found, "inventory_reorder_point_gap_skus", location="wh", direction="below") == 1
    assert value(found, "inventory_reorder_point_gap_skus", location="wh", direction="above") == 1
    assert value(found, "inventory_safety_stock_gap_skus", location="wh", direction="below") == 2
    assert value(found, "inventory_safety_stock_gap_skus", location="wh", direction="above") == 0
    assert value(found, "inventory_safety_stock_gap_skus", location="store", direction="below") == 0
    assert value(found, "inventory_analytics_skipped_rows", check="movement_unknown_sku_location") == 11
    # No label carries a SKU.
    assert not any(dict(labels).get("sku") for _, labels in found)
    assert {dict(labels).get("location") for _, labels in found} <= {"wh", "store", None}


async def test_recommendations_view_through_runner_and_http(collector, aiohttp_client):
    runner = Runner([collector])
    client = await aiohttp_client(build_app(runner))
    try:
        await runner.run_once(collector)
        assert runner.states["analytics"].success, runner.states["analytics"].last_error
        response = await client.get("/api/v1/recommendations", params={"location": "store"})
        assert response.status == 200
        data = (await response.json())["data"]
        assert [(item["sku"], item["quantity"]) for item in data] == [("D", D_QTY), ("E", E_QTY)]
        assert data[0]["on_order"] == 9 and data[0]["method"] == "ses"
        metrics = await (await client.get("/metrics")).text()
        parsed = {f.name: f for f in text_string_to_metric_families(metrics)}
        assert 'inventory_exporter_collector_success{collector="analytics"} 1.0' in metrics
        assert "inventory_reorder_recommended_units" in parsed
    finally:
        await runner.stop()


async def test_failure_is_reported_not_raised(tmp_path):
    missing = Database(f"sqlite:///{tmp_path / 'missing.db'}")
    collector = AnalyticsCollector(missing, dataset.CONFIG, clock=lambda: dataset.NOW)
    runner = Runner([collector])
    await runner.run_once(collector)
    state = runner.states["analytics"]
    assert not state.success and "cannot connect" in state.last_error
    assert runner.api_view("recommendations") is None
    await runner.stop()


def test_config_defaults_and_registration(tmp_path):
    config = Config()
    assert config.analytics.history_days == 90 and config.analytics.service_level == 0.95
    assert config.analytics.pack_size == 1 and config.analytics.interval == 300
    assert "analytics" in [c.name for c in build_collectors(config)]
    disabled = Config.model_validate({"analytics": {"enabled": False}})
    assert "analytics" not in [c.name for c in build_collectors(disabled)]
    path = tmp_path / "exporter.yml"
    path.write_text("analytics:\n  interval: 10m\n  lead_time_days: 0\n  review_period_days: 3.5\n")
    loaded = load_config(path).analytics
    assert loaded.interval == 600 and loaded.lead_time_days == 0 and loaded.review_period_days == 3.5


@pytest.mark.parametrize(
    "body, problem",
    [
        ("analytics:\n  service_level: 1.2\n", "analytics.service_level: Input should be less than 1"),
        ("analytics:\n  pack_size: 0\n", "analytics.pack_size: Input should be greater than or equal to 1"),
        ("analytics:\n  alpha: 0.3\n", "analytics.alpha: unknown key"),
        ("analytics:\n  interval: soon\n", "analytics.interval: invalid duration"),
        (
            "analytics:\n  history_days: 10\n  accuracy_window_days: 10\n",
            "analytics: accuracy_window_days (10) must be",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, body, problem):
    path = tmp_path / "exporter.yml"
    path.write_text(body)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: {problem}"), str(error.value)
    assert "\n" not in str(error.value)


def test_bad_config_exits_2_from_the_command_line(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("analytics:\n  ses_alpha: 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "analytics.ses_alpha" in lines[0], result.stderr
