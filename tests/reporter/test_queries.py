"""The figures' PromQL: string.Template placeholders, filled for a period (no Prometheus needed).

When the templates moved from a chain of str.replace() to string.Template, every figure's
and chart's PromQL was compared byte for byte with the old chain's, for the periods and
configs below; these tests pin the result.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from string import Template

import pytest

from reporter.config import parse_config
from reporter.figures.catalogue import CHART_PLACEHOLDERS, CHARTS, FIGURE_PLACEHOLDERS, SPECS
from reporter.figures.evaluate import render_chart_query, render_query
from reporter.periods import custom_period, period_containing

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WEEK = period_containing("weekly", date(2026, 11, 19), BERLIN)
SPRING_DAY = period_containing("daily", date(2026, 3, 29), BERLIN)  # 23 hours
QUARTER = period_containing("quarterly", date(2026, 10, 1), BERLIN)  # with a 25-hour day
HOUR = custom_period(datetime(2026, 11, 22, 6, 0, tzinfo=BERLIN), datetime(2026, 11, 22, 7, 0, tzinfo=BERLIN))
DEFAULT = parse_config({})
FINE = parse_config({"output": {"resolution": "1m"}, "prometheus": {"rule_evaluation_interval": "60s"}})
COARSE = parse_config({"output": {"resolution": "1h"}, "prometheus": {"rule_evaluation_interval": "0.5s"}})
SPEC = {spec.key: spec for spec in SPECS}


def test_templates_use_only_the_documented_placeholders():
    for spec in SPECS:
        for template in (spec.query, spec.fallback):
            if template is not None:
                parsed = Template(template)
                assert parsed.is_valid() and set(parsed.get_identifiers()) <= FIGURE_PLACEHOLDERS, spec.key
    for chart in CHARTS:
        parsed = Template(chart.query)
        assert parsed.is_valid() and set(parsed.get_identifiers()) <= CHART_PLACEHOLDERS, chart.key
    # every documented placeholder is one the renderers fill (an unfilled one raises KeyError)
    every_figure_placeholder = " ".join(f"${name}" for name in sorted(FIGURE_PLACEHOLDERS))
    assert "$" not in render_query(every_figure_placeholder, WEEK, DEFAULT)
    assert "$" not in render_chart_query(" ".join(f"${name}" for name in sorted(CHART_PLACEHOLDERS)), WEEK)


@pytest.mark.parametrize(
    "period, config, filled",
    [
        (WEEK, DEFAULT, "604800s 604799999ms:300s 604800 300 15 15000ms 604799999ms:15000ms 2678400s 777600s"),
        (SPRING_DAY, FINE, "82800s 82799999ms:60s 82800 60 60 60000ms 82799999ms:60000ms 2678400s 255600s"),
        (HOUR, COARSE, "3600s 3599999ms:3600s 3600 3600 0.5 500ms 3599999ms:500ms 2678400s 176400s"),
        (
            QUARTER,
            DEFAULT,
            "7952400s 7952399999ms:300s 7952400 300 15 15000ms 7952399999ms:15000ms 7952400s 8125200s",
        ),
    ],
)
def test_each_placeholder_is_filled_as_documented(period, config, filled):
    template = "$w $sub $seconds $step $eval $evalms $esub $before $wdays"
    assert set(Template(template).get_identifiers()) == FIGURE_PLACEHOLDERS
    assert render_query(template, period, config) == filled


@pytest.mark.parametrize(
    "key, period, config, promql",
    [
        (
            "service.request_rate_mean",
            SPRING_DAY,
            DEFAULT,
            "sum(increase(inventory_api_requests_total[82800s])) / 82800",
        ),
        (
            "business.stockout_sku_hours",
            WEEK,
            DEFAULT,
            "sum_over_time(sum(inventory_out_of_stock_skus)[604799999ms:300s]) * 300 / 3600",
        ),
        (
            "service.alert_firing_seconds",
            HOUR,
            COARSE,
            'sum by (alertname, severity) (count_over_time(ALERTS{alertstate="firing"}[3600s])) * 0.5',
        ),
        (
            "business.forecast_wape_ratio",
            WEEK,
            DEFAULT,
            "label_replace(last_over_time(inventory_forecast_day_abs_error_units[777600s]),"
            ' "part", "numerator", "", "") or label_replace('
            "last_over_time(inventory_forecast_day_actual_units[777600s]),"
            ' "part", "actual", "", "")',
        ),
        (
            "capacity.disk_growth_bytes",
            QUARTER,
            FINE,
            "max by (mountpoint) (inventory_host_disk_used_bytes)"
            " - max by (mountpoint) (inventory_host_disk_used_bytes offset 7952400s)",
        ),
    ],
)
def test_figure_promql(key, period, config, promql):
    assert render_query(SPEC[key].query, period, config) == promql


def test_chart_rate_window_is_one_step_and_at_least_five_minutes():
    error_ratio = next(chart for chart in CHARTS if chart.key == "service.error_ratio")
    # a quarter of 92 days and 1 hour: 300 points of 26520 s
    assert render_chart_query(error_ratio.query, QUARTER) == (
        '(sum(rate(inventory_api_requests_total{code=~"5.."}[26520s]))'
        " or 0 * sum(rate(inventory_api_requests_total[26520s])))"
        " / sum(rate(inventory_api_requests_total[26520s]))"
    )
    assert render_chart_query(error_ratio.query, HOUR).count("[300s]") == 3


def test_an_unknown_placeholder_fails_loudly():
    with pytest.raises(KeyError):
        render_query("sum(x[$window])", WEEK, DEFAULT)
