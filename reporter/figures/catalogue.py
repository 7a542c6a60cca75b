"""Every figure and chart of a report, as data: its key, section, unit, PromQL and objective.

A figure is evaluated once at the period's end (or start) with a range of exactly the
period's length, so each period sees only its own samples (reporter/figures/evaluate.py);
a figure with day_sums (forecast WAPE and bias) instead reads its period's days' sums,
published in the two days after each day ($wdays).
The PromQL is a string.Template; its placeholders:
  $w       the period as a range, e.g. 604800s
  $sub     a subquery over the period at the report resolution, e.g. 604799999ms:300s
           (one millisecond short, so the point at the period's start, which belongs to
           the period before, is not counted twice)
  $step    the resolution in seconds
  $seconds the period's length in seconds
  $eval    the rule evaluation interval in seconds
  $evalms  the rule evaluation interval as a duration in milliseconds, e.g. 15000ms
  $esub    a subquery over the period at the rule evaluation interval, e.g. 604799999ms:15000ms
  $before  the lookback for "the last value before the period": the period's length
           and at least 31 days, e.g. 2678400s (used as [$before] offset $w)
  $wdays   the period and the DAY_SUMS_LAG (2 days) after it, e.g. 777600s: a figure with
           day_sums is evaluated DAY_SUMS_LAG after the period's end and looks back this
           far, from the period's start, to see every one of its days' sums
and a chart's: $rw, the rate window (at least 5m and at least one step).
A figure without PromQL is derived from other figures (error budget, memory ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.figures.service_level import service_level_specs
from reporter.figures.spec import FigureSpec, day_sums, db_count

FIGURE_PLACEHOLDERS = frozenset({"w", "sub", "step", "seconds", "eval", "evalms", "esub", "before", "wdays"})
CHART_PLACEHOLDERS = frozenset({"rw"})

SECTIONS = {
    "service": "Service",
    "business": "Business",
    "integrations": "Integrations",
    "enhancer": "Enhancer",
    "capacity": "Capacity",
}

_REQUESTS = "sum(increase(inventory_api_requests_total[$w]))"
_ERRORS = 'sum(increase(inventory_api_requests_total{code=~"5.."}[$w]))'
_QUANTILE = "histogram_quantile({q}, sum by (le) (increase(inventory_api_request_duration_seconds_bucket[$w])))"
# The API is up at a moment when every scrape of it (`up`) and every probe of it
# (`inventory_api_up`) says so; a moment with neither (Prometheus down) does not count.
_API_UP = 'min(up{job="inventory-api"} or inventory_api_up)'
_FIRING = 'ALERTS{alertstate="firing"}'
_FAILED_RUNS = 'inventory_integration_sync_runs_total{status="failed"}'
_VERIFIED = 'inventory_enhancer_verified_actions_total{group="acted"}'
_EFFECT = 'inventory_enhancer_verified_effect_total{{group="acted",direction="{direction}"}}'


SPECS: list[FigureSpec] = [
    # Service: the inventory API's requests (counter and histogram from its middleware).
    FigureSpec(
        "service.availability_ratio",
        "service",
        "Availability (share of time up)",
        "ratio",
        f"avg_over_time({_API_UP}[$sub])",
        better="higher",
        objective=lambda o: o.availability,
        description="share of the period's moments (at the report resolution) when every scrape and "
        "probe of the inventory API succeeded",
    ),
    FigureSpec(
        "service.request_success_ratio",
        "service",
        "Request success (non-5xx share of requests served)",
        "ratio",
        f"1 - ({_ERRORS} or vector(0)) / {_REQUESTS}",
        better="higher",
        # The request SLO's objective; reporter/config.py has one objective for both so far.
        objective=lambda o: o.request_success,
        description="requests not answered 5xx over requests served; an outage serves none",
    ),
    FigureSpec(
        "service.error_budget_remaining_ratio",
        "service",
        "Error budget left (5xx requests)",
        "ratio",
        None,
        better="higher",
        objective=lambda o: 0.0,
        description="1 - (1 - request success) / (1 - request objective); below 0 the budget is overspent",
    ),
    FigureSpec(
        "service.error_ratio",
        "service",
        "Error ratio (5xx)",
        "ratio",
        f"({_ERRORS} or vector(0)) / {_REQUESTS}",
        better="lower",
    ),
    FigureSpec("service.request_rate_mean", "service", "Request rate, mean", "per_second", f"{_REQUESTS} / $seconds"),
    FigureSpec(
        "service.request_rate_peak",
        "service",
        "Request rate, peak (5m)",
        "per_second",
        "max_over_time(sum(rate(inventory_api_requests_total[5m]))[$sub])",
    ),
    FigureSpec(
        "service.latency_p50_seconds", "service", "Latency p50", "seconds", _QUANTILE.format(q=0.5), better="lower"
    ),
    FigureSpec(
        "service.latency_p95_seconds",
        "service",
        "Latency p95",
        "seconds",
        _QUANTILE.format(q=0.95),
        better="lower",
        objective=lambda o: o.latency_p95_seconds,
        objective_op="<=",
    ),
    FigureSpec(
        "service.latency_p99_seconds", "service", "Latency p99", "seconds", _QUANTILE.format(q=0.99), better="lower"
    ),
    FigureSpec(
        "service.performance_score_mean",
        "service",
        "Performance score, mean",
        "score",
        "avg(avg_over_time(job:inventory_api_performance_score:weighted_avg5m[$w]))",
        better="higher",
        objective=lambda o: o.performance_score,
    ),
    FigureSpec(
        "service.alert_firing_seconds",
        "service",
        "Alert firing time",
        "seconds",
        'sum by (alertname, severity) (count_over_time(ALERTS{alertstate="firing"}[$w])) * $eval',
        by=("alertname", "severity"),
        better="lower",
        absent_note="did not fire",
    ),
    FigureSpec(
        "service.alert_episodes",
        "service",
        "Alert firings",
        "count",
        # A firing starts at a rule evaluation that finds the alert firing when the one
        # before did not; pending never counts. 0 for an alert still firing from before.
        f"sum by (alertname, severity) (sum_over_time(({_FIRING} unless {_FIRING} offset $evalms)[$esub]))"
        f" or sum by (alertname, severity) (0 * count_over_time({_FIRING}[$w]))",
        by=("alertname", "severity"),
        better="lower",
        absent_note="did not fire",
    ),
    # Business: the exporter's stock and order gauges, the analytics sums.
    FigureSpec(
        "business.stock_value_start",
        "business",
        "Stock value at start",
        "money",
        "sum by (currency) (inventory_stock_value)",
        by=("currency",),
        at="start",
    ),
    FigureSpec(
        "business.stock_value_end",
        "business",
        "Stock value at end",
        "money",
        "sum by (currency) (inventory_stock_value)",
        by=("currency",),
    ),
    FigureSpec(
        "business.stockout_sku_hours",
        "business",
        "Stock-out SKU-hours",
        "sku_hours",
        "sum_over_time(sum(inventory_out_of_stock_skus)[$sub]) * $step / 3600",
        better="lower",
    ),
    FigureSpec(
        "business.low_stock_skus_mean",
        "business",
        "Low-stock SKUs, mean",
        "count",
        "sum(avg_over_time(inventory_low_stock_skus[$w]))",
        better="lower",
    ),
    FigureSpec(
        "business.below_safety_stock_skus_mean",
        "business",
        "Below safety stock SKUs, mean",
        "count",
        "sum(avg_over_time(inventory_below_safety_stock_skus[$w]))",
        better="lower",
    ),
    FigureSpec(
        "business.fulfillment_ratio",
        "business",
        "Order fulfilment (orders fulfilled / orders created)",
        "ratio",
        f"({db_count('inventory_orders_fulfilled_total', 'channel')}"
        f" or 0 * {db_count('inventory_orders_created_total', 'channel')})"
        f" / {db_count('inventory_orders_created_total', 'channel')}",
        by=("channel",),
        better="higher",
        objective=lambda o: o.fulfillment,
    ),
    FigureSpec(
        "business.forecast_wape_ratio",
        "business",
        "Forecast WAPE (one day ahead)",
        "ratio",
        day_sums("inventory_forecast_day_abs_error_units"),
        better="lower",
        day_sums=True,
        description="sum over the period's days of |one-day-ahead forecast - actual| over the sum of actual demand",
    ),
    FigureSpec(
        "business.forecast_bias_ratio",
        "business",
        "Forecast bias (one day ahead, > 0: over-forecast)",
        "ratio",
        day_sums("inventory_forecast_day_error_units"),
        better="zero",
        day_sums=True,
        description="sum over the period's days of (one-day-ahead forecast - actual) over the sum of actual demand",
    ),
    FigureSpec(
        "business.reorder_recommended_skus_mean",
        "business",
        "Reorder recommendations (SKU-locations), mean",
        "count",
        "sum(avg_over_time(inventory_reorder_recommended_skus[$w]))",
    ),
    FigureSpec(
        "business.reorder_recommended_units_mean",
        "business",
        "Units recommended to order, mean",
        "units",
        "sum(avg_over_time(inventory_reorder_recommended_units[$w]))",
    ),
    # Integrations.
    FigureSpec(
        "integrations.accuracy_ratio",
        "integrations",
        "Inventory record accuracy",
        "ratio",
        "avg by (integration) (avg_over_time(inventory_integration_accuracy_ratio[$w]))",
        by=("integration",),
        better="higher",
        objective=lambda o: o.integration_accuracy,
    ),
    FigureSpec(
        "integrations.mismatch_skus_mean",
        "integrations",
        "Mismatching SKU-locations, mean",
        "count",
        "sum by (integration) (avg_over_time(inventory_integration_stock_mismatch_skus[$w]))",
        by=("integration",),
        better="lower",
    ),
    FigureSpec(
        "integrations.staleness_max_seconds",
        "integrations",
        "Longest time since a successful sync",
        "seconds",
        "max by (integration) (max_over_time("
        "(time() - inventory_integration_last_sync_success_timestamp_seconds)[$sub]))",
        by=("integration",),
        better="lower",
        objective=lambda o: o.sync_staleness,
        objective_op="<=",
    ),
    FigureSpec(
        "integrations.failed_syncs",
        "integrations",
        "Failed syncs",
        "count",
        # 0 for an integration that synced in the period without a failed row.
        f"sum by (integration) ({db_count(_FAILED_RUNS, 'integration')})"
        " or 0 * max by (integration) (last_over_time(inventory_integration_sync_runs_total[$w]))",
        by=("integration",),
        better="lower",
        whole=True,
    ),
    FigureSpec(
        "integrations.conflicts",
        "integrations",
        "Sync conflicts",
        "count",
        f"sum by (integration) ({db_count('inventory_integration_sync_conflicts_total', 'integration')})",
        by=("integration",),
        better="lower",
        whole=True,
    ),
    # Enhancer.
    FigureSpec(
        "enhancer.actions",
        "enhancer",
        "Actions",
        "count",
        "sum by (rule, outcome) (increase(inventory_enhancer_actions_total[$w]))",
        by=("rule", "outcome"),
        whole=True,
    ),
    # The effect of the enhancer's actions verified in the period (enhancer/effect.py): the
    # counters grow at each verification, so a period without one says so and repeats nothing.
    FigureSpec(
        "enhancer.verified_actions",
        "enhancer",
        "Actions verified",
        "count",
        f"sum by (rule) (increase({_VERIFIED}[$w]))",
        by=("rule",),
        whole=True,
    ),
    FigureSpec(
        "enhancer.effect_mean",
        "enhancer",
        "Effect of the actions verified (against the counterfactual; > 0 better, in the rule's unit)",
        "signal",
        f"(sum by (rule) (increase({_EFFECT.format(direction='better')}[$w]))"
        f" - sum by (rule) (increase({_EFFECT.format(direction='worse')}[$w])))"
        f" / (sum by (rule) (increase({_VERIFIED}[$w])) > 0.5)",
        by=("rule",),
        better="higher",
        absent_note="no action verified",
    ),
    # Capacity (monthly and quarterly by default).
    FigureSpec(
        "capacity.cpu_peak_ratio",
        "capacity",
        "CPU peak",
        "ratio",
        "max(max_over_time(inventory_host_cpu_utilization_ratio[$w]))",
        better="lower",
        objective=lambda o: o.capacity_peak,
        objective_op="<=",
    ),
    FigureSpec(
        "capacity.cpu_mean_ratio",
        "capacity",
        "CPU mean",
        "ratio",
        "avg(avg_over_time(inventory_host_cpu_utilization_ratio[$w]))",
        better="lower",
    ),
    FigureSpec(
        "capacity.memory_peak_bytes",
        "capacity",
        "Memory used, peak",
        "bytes",
        "max(max_over_time(inventory_host_memory_used_bytes[$w]))",
        better="lower",
    ),
    FigureSpec(
        "capacity.memory_total_bytes",
        "capacity",
        "Memory installed",
        "bytes",
        "max(max_over_time(inventory_host_memory_total_bytes[$w]))",
    ),
    FigureSpec(
        "capacity.memory_peak_ratio",
        "capacity",
        "Memory peak / installed",
        "ratio",
        None,
        better="lower",
        objective=lambda o: o.capacity_peak,
        objective_op="<=",
    ),
    FigureSpec(
        "capacity.disk_peak_ratio",
        "capacity",
        "Disk used, peak / size",
        "ratio",
        "max by (mountpoint) (max_over_time(inventory_host_disk_used_bytes[$w]))"
        " / max by (mountpoint) (max_over_time(inventory_host_disk_total_bytes[$w]))",
        by=("mountpoint",),
        better="lower",
        objective=lambda o: o.capacity_peak,
        objective_op="<=",
    ),
    FigureSpec(
        "capacity.disk_growth_bytes",
        "capacity",
        "Disk growth over the period",
        "bytes",
        "max by (mountpoint) (inventory_host_disk_used_bytes)"
        " - max by (mountpoint) (inventory_host_disk_used_bytes offset $w)",
        by=("mountpoint",),
        better="lower",
    ),
    FigureSpec(
        "capacity.disk_days_until_full",
        "capacity",
        "Days until the disk is full (linear trend)",
        "days",
        "(max by (mountpoint) (inventory_host_disk_total_bytes)"
        " - max by (mountpoint) (predict_linear(inventory_host_disk_used_bytes[$w], 0)))"
        " / max by (mountpoint) (deriv(inventory_host_disk_used_bytes[$w])) / 86400",
        by=("mountpoint",),
        better="higher",
        objective=lambda o: o.days_until_full,
        positive_only=True,
    ),
]
# The customer service-level figures (issue 20) live in a module of their own.
SPECS += service_level_specs()
FIGURE_KEYS = frozenset(spec.key for spec in SPECS)


@dataclass(frozen=True)
class ChartSpec:
    key: str
    section: str
    title: str
    unit: str
    query: str  # placeholder $rw: the rate window
    legend: str | None = None


CHARTS: list[ChartSpec] = [
    ChartSpec(
        "service.request_rate",
        "service",
        "Requests per second",
        "per_second",
        "sum(rate(inventory_api_requests_total[$rw]))",
    ),
    ChartSpec(
        "service.error_ratio",
        "service",
        "Error ratio (5xx)",
        "ratio",
        '(sum(rate(inventory_api_requests_total{code=~"5.."}[$rw]))'
        " or 0 * sum(rate(inventory_api_requests_total[$rw])))"
        " / sum(rate(inventory_api_requests_total[$rw]))",
    ),
    ChartSpec(
        "service.latency_p95",
        "service",
        "Latency p95",
        "seconds",
        "histogram_quantile(0.95, sum by (le) (rate(inventory_api_request_duration_seconds_bucket[$rw])))",
    ),
    ChartSpec(
        "business.stock_value",
        "business",
        "Stock value",
        "money",
        "sum by (currency) (inventory_stock_value)",
        legend="currency",
    ),
    ChartSpec("business.out_of_stock", "business", "Out-of-stock SKUs", "count", "sum(inventory_out_of_stock_skus)"),
    ChartSpec(
        "integrations.accuracy",
        "integrations",
        "Inventory record accuracy",
        "ratio",
        "avg by (integration) (inventory_integration_accuracy_ratio)",
        legend="integration",
    ),
    ChartSpec("capacity.cpu", "capacity", "CPU utilisation", "ratio", "max(inventory_host_cpu_utilization_ratio)"),
    ChartSpec(
        "capacity.disk",
        "capacity",
        "Disk used / size",
        "ratio",
        "max by (mountpoint) (inventory_host_disk_used_bytes / inventory_host_disk_total_bytes)",
        legend="mountpoint",
    ),
]
