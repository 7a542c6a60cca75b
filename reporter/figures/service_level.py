"""The report's customer service-level figures (issue 20): on time, OTIF, in full, fill
rate and backorders, per channel, in the Business section.

The period ratios divide the growth of the exporter's counters of decided orders
(inventory_orders_due_total and the on-time, in-full and OTIF counters, docs/metrics.md
"Service level") over the period, so a week or a month weighs each day by its orders.
The fill rates and backorders have no counters: they are time statistics of the
exporter's gauges (a mean of the trailing-window fill rate, the peak backorder age).

Registered in reporter/figures/catalogue.py with `SPECS += service_level_specs()`; both
build on reporter/figures/spec.py.

Objectives: reporter/config.py's `objectives` (`on_time`, `otif`, `fill_rate`,
`backorder_age_seconds`). The OTIF objective is the alert's OTIF_TARGET_RATIO
(prometheus/rules/business.alerts.yml) and the backorder age its
BACKORDER_MAX_AGE_SECONDS; tests/exporter/test_service_level.py checks that they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reporter.figures.spec import FigureSpec, db_count

if TYPE_CHECKING:
    from reporter.config import Objectives

KEYS = (
    "business.on_time_ratio",
    "business.otif_ratio",
    "business.in_full_ratio",
    "business.orders_due",
    "business.unit_fill_ratio_mean",
    "business.line_fill_ratio_mean",
    "business.backorders_mean",
    "business.stockout_exposed_orders_mean",
    "business.backorder_oldest_age_max_seconds",
)


def objective(name: str) -> Callable[[Objectives], float]:
    """The config's objective `name` (reporter/config.py Objectives)."""
    return lambda objectives: float(getattr(objectives, name))


def service_level_specs() -> list[FigureSpec]:
    due = db_count("inventory_orders_due_total", "channel")

    def share(counter: str) -> str:
        # 0 (not "no data") for a channel with orders due and none of this kind; 0/0 for a
        # channel with none due ("undefined").
        return f"({db_count(counter, 'channel')} or 0 * {due}) / {due}"

    return [
        FigureSpec(
            "business.on_time_ratio",
            "business",
            "Orders on time (of orders due)",
            "ratio",
            share("inventory_orders_on_time_total"),
            by=("channel",),
            better="higher",
            objective=objective("on_time"),
            description="orders fulfilled by their promise / orders due, both counted at the moment each order "
            "was decided (fulfilled on time, or its promise passed)",
        ),
        FigureSpec(
            "business.otif_ratio",
            "business",
            "Orders on time and in full (OTIF)",
            "ratio",
            share("inventory_orders_otif_total"),
            by=("channel",),
            better="higher",
            objective=objective("otif"),
            description="perfect orders (on time, every line shipped in full) / orders due",
        ),
        FigureSpec(
            "business.in_full_ratio",
            "business",
            "Orders in full (of orders due)",
            "ratio",
            share("inventory_orders_in_full_total"),
            by=("channel",),
            better="higher",
            description="orders fulfilled with every line in full / orders due; a late order counts in full "
            "when it ships",
        ),
        FigureSpec(
            "business.orders_due",
            "business",
            "Orders due (with a promise)",
            "count",
            due,
            by=("channel",),
            whole=True,
            description="orders decided in the period: the weight of the service-level ratios",
        ),
        FigureSpec(
            "business.unit_fill_ratio_mean",
            "business",
            "Unit fill rate, mean of the trailing-window rate",
            "ratio",
            "avg by (channel) (avg_over_time(inventory_order_unit_fill_ratio[$w]))",
            by=("channel",),
            better="higher",
            objective=objective("fill_rate"),
            description="units shipped / units ordered of the orders due in the exporter's trailing window "
            "(24 h by default), averaged over the period's samples",
        ),
        FigureSpec(
            "business.line_fill_ratio_mean",
            "business",
            "Line fill rate, mean of the trailing-window rate",
            "ratio",
            "avg by (channel) (avg_over_time(inventory_order_line_fill_ratio[$w]))",
            by=("channel",),
            better="higher",
        ),
        FigureSpec(
            "business.backorders_mean",
            "business",
            "Backorders, mean",
            "count",
            "max by (channel) (avg_over_time(inventory_backorders[$w]))",
            by=("channel",),
            better="lower",
        ),
        FigureSpec(
            "business.stockout_exposed_orders_mean",
            "business",
            "Orders waiting on a stock-out, mean",
            "count",
            "max by (channel) (avg_over_time(inventory_orders_stockout_exposed[$w]))",
            by=("channel",),
            better="lower",
            description="open and backordered orders short of a SKU out of stock at their location, averaged "
            "over the period's samples",
        ),
        FigureSpec(
            "business.backorder_oldest_age_max_seconds",
            "business",
            "Oldest backorder, peak age",
            "seconds",
            "max by (channel) (max_over_time(inventory_backorder_oldest_age_seconds[$w]))",
            by=("channel",),
            better="lower",
            objective=objective("backorder_age_seconds"),
            objective_op="<=",
            description="the longest any backordered order had waited at a sample of the period",
        ),
    ]
