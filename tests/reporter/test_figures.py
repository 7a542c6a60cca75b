"""Every figure of the JSON against the number worked out from the samples.

The reports run through the real CLI against a real Prometheus holding the dataset.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime

import pytest
import yaml

from reporter.cli import main
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config
from tests.reporter.expected import expected

pytestmark = pytest.mark.prometheus


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def figures_by_key(report: dict) -> dict[tuple[str, tuple], dict]:
    return {(f["key"], tuple(sorted(f["labels"].items()))): f for f in report["figures"]}


def assert_close(actual, wanted, what: str) -> None:
    if wanted is None:
        assert actual is None, f"{what}: expected no data, got {actual}"
        return
    assert actual is not None, f"{what}: expected {wanted}, got no data"
    assert math.isclose(actual, wanted, rel_tol=1e-6, abs_tol=1e-9), f"{what}: {actual} != {wanted}"


@pytest.fixture(scope="module")
def weekly(prometheus, tmp_path_factory):
    out = tmp_path_factory.mktemp("weekly")
    path = out / "reporter.yml"
    path.write_text(yaml.safe_dump(base_config(prometheus.url, out / "archive")))
    code = main(
        [
            "--config",
            str(path),
            "--period",
            "weekly",
            "--end",
            day(d.B + 3 * d.DAY),
            "--format",
            "json,csv,html",
            "--log-level",
            "warning",
        ]
    )
    assert code == 0
    year, week, _ = datetime.fromtimestamp(d.B, UTC).isocalendar()
    return out / "archive" / f"weekly-{year}-W{week:02d}"


def test_weekly_period_is_the_dataset_week(weekly):
    report = json.loads((weekly / f"{weekly.name}.json").read_text())
    assert report["period"]["start_ts"] == d.B and report["period"]["end_ts"] == d.E
    assert report["previous_period"]["start_ts"] == d.A and report["previous_period"]["end_ts"] == d.B
    assert [s["name"] for s in report["sections"]] == ["service", "business", "integrations", "enhancer", "capacity"]


def test_every_weekly_figure_matches_the_worked_out_number(weekly):
    report = json.loads((weekly / f"{weekly.name}.json").read_text())
    got = figures_by_key(report)
    current, previous = expected(d.B, d.E), expected(d.A, d.B)
    wanted_keys = set(current) | set(previous)
    # a label set seen only in one week is a figure with "no data" on the other side
    assert set(got) == wanted_keys, set(got) ^ wanted_keys
    for key, figure in got.items():
        assert_close(figure["value"], current.get(key), f"{key} this week")
        assert_close(figure["previous"], previous.get(key), f"{key} previous week")
        if current.get(key) is not None and previous.get(key) is not None:
            assert_close(figure["delta"], current[key] - previous[key], f"{key} delta")
        else:
            assert figure["delta"] is None


def test_known_values_and_no_made_up_zeros(weekly):
    """A few figures spelled out, so the expectations are readable without the model."""
    got = figures_by_key(json.loads((weekly / f"{weekly.name}.json").read_text()))
    # the API was down 2 hours of the week's 168; never the week before
    availability = got[("service.availability_ratio", ())]
    assert availability["objective_met"] is False and availability["previous_objective_met"] is True
    assert math.isclose(availability["value"], 1 - 2 / 168, rel_tol=1e-9) and availability["previous"] == 1.0
    # 0.024 of 12 requests/s failed this week (plus two bursts), 0.005 of 10 the week before
    success = got[("service.request_success_ratio", ())]
    assert 0.997 < success["value"] < 0.998 and math.isclose(success["previous"], 0.9995, rel_tol=1e-4)
    assert math.isclose(got[("service.request_rate_peak", ())]["value"], 42.0, rel_tol=1e-9)
    assert math.isclose(got[("service.request_rate_peak", ())]["previous"], 20.0, rel_tol=1e-9)
    assert (
        got[("service.alert_firing_seconds", (("alertname", "InventoryAPIHighErrorRatio"), ("severity", "warning")))][
            "value"
        ]
        == 105 * 60
    )
    # three firings; the pending-only episode is none
    assert (
        got[("service.alert_episodes", (("alertname", "InventoryAPIHighErrorRatio"), ("severity", "warning")))]["value"]
        == 3
    )
    assert got[("integrations.failed_syncs", (("integration", "shopify"),))]["value"] == 5
    assert got[("integrations.failed_syncs", (("integration", "shopify"),))]["previous"] == 2
    # odoo's first failure ever, and 0 (not "no data") for the week it only succeeded
    odoo = got[("integrations.failed_syncs", (("integration", "odoo"),))]
    assert odoo["value"] == 1 and odoo["previous"] == 0
    assert got[("enhancer.actions", (("outcome", "success"), ("rule", "resync-stale")))]["value"] == 3
    # the previous week lacks one day's forecast sums: not enough data, not a ratio of 6 days
    wape = got[("business.forecast_wape_ratio", ())]
    assert wape["value"] is not None and wape["previous"] is None and wape["delta"] is None
    assert wape["previous_note"] == f"not enough data: sums for 6 of 7 days (none for {d.utc_date(d.A + 2 * d.DAY)})"
    # square stalled 2 hours: its longest staleness is about 2 h
    stale = got[("integrations.staleness_max_seconds", (("integration", "square"),))]
    assert 7000 < stale["value"] <= 7200 + 300 and stale["objective_met"] is False


def test_csv_has_the_json_figures(weekly):
    report = json.loads((weekly / f"{weekly.name}.json").read_text())
    rows = list(csv.DictReader((weekly / f"{weekly.name}.csv").open()))
    assert len(rows) == len(report["figures"])
    for row, figure in zip(rows, report["figures"]):
        assert row["key"] == figure["key"]
        if figure["value"] is None:
            assert row["value"] == ""
        else:
            assert float(row["value"]) == figure["value"]


def test_changes_worst_first(weekly):
    report = json.loads((weekly / f"{weekly.name}.json").read_text())
    kinds = [c["kind"] for c in report["changes"]]
    ranks = {"missed_objective": 0, "lost_data": 1, "worse": 2, "moved": 3, "better": 4, "met_objective": 5}
    assert kinds == sorted(kinds, key=ranks.get)
    by_key = {(c["key"], tuple(sorted(c["labels"].items()))): c for c in report["changes"]}
    assert by_key[("service.availability_ratio", ())]["kind"] == "missed_objective"
    assert "99.9" in by_key[("service.availability_ratio", ())]["text"]
    assert by_key[("business.fulfillment_ratio", (("channel", "online"),))]["kind"] == "missed_objective"
    # no forecast change: the previous week has no WAPE to compare with
    assert ("business.forecast_wape_ratio", ()) not in by_key
    assert by_key[("integrations.accuracy_ratio", (("integration", "square"),))]["kind"] == "missed_objective"
    # pos fulfilment moved 0.5 %: under the 10 % threshold, so not listed
    assert ("business.fulfillment_ratio", (("channel", "pos"),)) not in by_key
    assert by_key[("service.latency_p95_seconds", ())]["kind"] == "worse"
    assert kinds[0] == "missed_objective"


def test_daily_report_inside_the_gap_says_no_data(prometheus, write_config, tmp_path, capsys):
    config = write_config(base_config(prometheus.url, tmp_path / "archive"))
    gap_day = day(d.GAP[0])
    code, out, err = run(
        ["--config", str(config), "--period", "daily", "--end", gap_day, "--format", "json,html"], capsys
    )
    assert code == 0, err
    report = json.loads((tmp_path / "archive" / f"daily-{gap_day}" / f"daily-{gap_day}.json").read_text())
    got = figures_by_key(report)
    current, previous = (
        expected(d.GAP[0], d.GAP[1], capacity=False),
        expected(d.GAP[0] - d.DAY, d.GAP[0], capacity=False),
    )
    for key, figure in got.items():
        assert_close(figure["value"], current.get(key), f"{key} gap day")
        assert_close(figure["previous"], previous.get(key), f"{key} day before")
    for key in (
        "business.stock_value_end",
        "business.stockout_sku_hours",
        "business.low_stock_skus_mean",
        "business.below_safety_stock_skus_mean",
    ):
        matching = [f for (k, _), f in got.items() if k == key]
        assert matching and all(f["value"] is None for f in matching), key
        assert all(f["previous"] is not None for f in matching), key
    html = (tmp_path / "archive" / f"daily-{gap_day}" / f"daily-{gap_day}.html").read_text()
    assert "no data" in html
    assert [s["name"] for s in report["sections"]] == ["service", "business", "integrations", "enhancer"]
