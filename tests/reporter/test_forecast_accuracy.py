"""Issue 18: the report's forecast WAPE and bias are those of the period's days, from
the analytics' one-day-ahead sums per UTC day (tests/reporter/dataset.py, DAY_SUMS).

The expected numbers are the per-day truths added up by hand; the figure of before
the fix (the time-average of the trailing-window gauges) is asked from the same
Prometheus to show that it is another number.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import zoneinfo
from datetime import UTC, date, datetime

import pytest
import yaml

from reporter.cli import main
from reporter.figures.evaluate import _day_sums_values, period_days
from reporter.periods import period_containing
from reporter.prometheus import Sample
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def report(prometheus, out, kind: str, end: float) -> dict[str, dict]:
    path = out / "reporter.yml"
    path.write_text(yaml.safe_dump(base_config(prometheus.url, out / "archive")))
    assert main(["--config", str(path), "--period", kind, "--end", day(end), "--format", "json"]) == 0
    (directory,) = [p for p in (out / "archive").iterdir() if p.is_dir()]
    data = json.loads((directory / f"{directory.name}.json").read_text())
    return {f["key"]: f for f in data["figures"] if f["key"].startswith("business.forecast_")}


@pytest.mark.prometheus
def test_weekly_wape_is_the_sum_of_the_days_errors_over_their_actuals(prometheus, tmp_path):
    got = report(prometheus, tmp_path, "weekly", d.B + 3 * d.DAY)
    # five light days of 120 units with 12 off (+6 each), the heavy day B+5d of 1500 units
    # with 600 off (-450), day X of 300 units with 45 off (+15)
    abs_error, error, actual = 5 * 12 + 600 + 45, 5 * 6 - 450 + 15, 5 * 120 + 1500 + 300
    assert (abs_error, error, actual) == (705, -405, 2400)
    wape, bias = got["business.forecast_wape_ratio"], got["business.forecast_bias_ratio"]
    assert wape["value"] == pytest.approx(705 / 2400, rel=1e-12)  # 29.4 %
    assert bias["value"] == pytest.approx(-405 / 2400, rel=1e-12)  # -16.9 %
    # the mean of the daily WAPEs would be 15 %: here the heavy day weighs by its units
    assert sum([0.1] * 5 + [0.4, 0.15]) / 7 == pytest.approx(0.15)
    # the week before lacks day A+2d (the analytics was down all the next day): no ratio
    assert wape["previous"] is None and bias["previous"] is None
    assert "6 of 7 days" in wape["previous_note"] and day(d.A + 2 * d.DAY) in wape["previous_note"]

    # the figure of before the fix, on the same Prometheus: the trailing 3-day sums,
    # averaged over the week, mix in the days before it and weigh the heavy day once
    old = (
        "sum(avg_over_time(inventory_forecast_abs_error_units[604800s]))"
        " / sum(avg_over_time(inventory_forecast_actual_units[604800s]))"
    )
    query = urllib.parse.urlencode({"query": old, "time": d.E})
    with urllib.request.urlopen(f"{prometheus.url}/api/v1/query?{query}", timeout=20) as answer:
        (sample,) = json.load(answer)["data"]["result"]
    before_fix = float(sample["value"][1])
    # 948 / 4380 = 21.6 % if each day's window held all day (windows ending B-1d .. B+5d:
    # 90/600, 72/520, 54/440, 36/360 three times, 624/1740); cycles run 2 minutes past midnight
    assert before_fix == pytest.approx(948 / 4380, abs=1e-3)
    assert abs(before_fix - wape["value"]) > 0.07


@pytest.mark.prometheus
def test_a_daily_report_just_after_midnight_has_the_day(prometheus, tmp_path):
    # day X's sums exist only from the first analytics cycle after midnight (E + 2 minutes)
    # until E + 30 minutes: what Prometheus holds when the report runs at 00:30
    first = min(t for (name, labels), points in d.SERIES.items() for t, _ in points if ("day", day(d.X)) in labels)
    assert d.E < first < d.E + 10 * d.MINUTE
    got = report(prometheus, tmp_path, "daily", d.X)
    wape, bias = got["business.forecast_wape_ratio"], got["business.forecast_bias_ratio"]
    assert wape["value"] == pytest.approx(45 / 300) and bias["value"] == pytest.approx(15 / 300)
    # the day before is the heavy day, and only it: no trailing window bleeds in
    assert wape["previous"] == pytest.approx(600 / 1500) and bias["previous"] == pytest.approx(-450 / 1500)


@pytest.mark.prometheus
def test_a_day_whose_sums_were_never_published_is_not_enough_data(prometheus, tmp_path):
    lost = d.A + 2 * d.DAY
    got = report(prometheus, tmp_path, "daily", lost)
    wape = got["business.forecast_wape_ratio"]
    assert wape["value"] is None
    assert wape["note"] == f"not enough data: sums for 0 of 1 days (none for {day(lost)})"
    assert wape["previous"] == pytest.approx(30 / 200)


# ---- without Prometheus -------------------------------------------------------------


def sample(day_: str, part: str, value: float, instance: str = "a:9") -> Sample:
    return Sample({"day": day_, "part": part, "instance": instance, "job": "inventory-exporter"}, value)


WEEK = period_containing("weekly", date(2026, 11, 19), UTC)  # 2026-11-16 .. 2026-11-22


def test_period_days_are_the_utc_days_with_the_same_dates():
    assert [day(t) for t in period_days(WEEK)] == [f"2026-11-{n}" for n in range(16, 23)]
    for zone in ("Europe/Berlin", "America/New_York", "Asia/Kolkata"):
        local = period_containing("daily", date(2026, 3, 29), zoneinfo.ZoneInfo(zone))
        assert [day(t) for t in period_days(local)] == ["2026-03-29"], zone
    month = period_containing("monthly", date(2026, 3, 5), zoneinfo.ZoneInfo("Europe/Berlin"))
    assert [day(t) for t in period_days(month)] == [f"2026-03-{n:02d}" for n in range(1, 32)]


def test_day_sums_each_day_once_one_instance_per_day():
    samples = []
    for n, (numerator, actual) in enumerate([(10, 100)] * 6 + [(400, 1000)]):
        samples += [sample(f"2026-11-{16 + n}", "numerator", numerator), sample(f"2026-11-{16 + n}", "actual", actual)]
    # a replica that read the heavy day before its last rows: the fuller one counts, not both
    samples += [sample("2026-11-22", "numerator", 300, "b:9"), sample("2026-11-22", "actual", 900, "b:9")]
    # days outside the week are left out
    samples += [
        sample("2026-11-15", "numerator", 999),
        sample("2026-11-15", "actual", 1),
        sample("2026-11-23", "actual", 5),
    ]
    ((value, note),) = _day_sums_values(samples, WEEK).values()
    assert value == pytest.approx((6 * 10 + 400) / (6 * 100 + 1000)) and note is None


def test_day_sums_missing_or_empty():
    assert _day_sums_values([], WEEK) == {}
    one_day = [sample("2026-11-16", "numerator", 1), sample("2026-11-16", "actual", 10)]
    ((value, note),) = _day_sums_values(one_day, WEEK).values()
    assert value is None
    assert note == "not enough data: sums for 1 of 7 days (none for 2026-11-17, 2026-11-18, 2026-11-19 and 3 more)"
    quiet = []
    for n in range(7):
        quiet += [sample(f"2026-11-{16 + n}", "numerator", 0), sample(f"2026-11-{16 + n}", "actual", 0)]
    assert _day_sums_values(quiet, WEEK) == {(): (None, "undefined (no demand)")}
