"""What the business collector can publish: its metrics, its statements and its checks.

A plain data module (no collector, no SQL) so that the config can validate overrides
and schemas without importing the collector, and docs and tests read one list.

The reference schema's statements (exporter/queries.py) each produce a fixed set of
metrics; a metric mapped by the user (or by a preset) replaces its built-in
definition, and a built-in statement runs only while one of its metrics is still
unmapped and the database says it has the reference schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    type: str  # gauge | counter
    help: str
    labels: tuple[str, ...]


METRICS: dict[str, MetricSpec] = {
    "inventory_skus": MetricSpec("gauge", "Stock-level rows (SKU-locations) of active products.", ("location",)),
    "inventory_on_hand_units": MetricSpec(
        "gauge", "Sum of on_hand of active products; rows with negative or invalid on_hand skipped.", ("location",)
    ),
    "inventory_available_units": MetricSpec(
        "gauge",
        "Sum of on_hand - reserved of active products; rows with negative or invalid on_hand skipped.",
        ("location",),
    ),
    "inventory_stock_value": MetricSpec(
        "gauge", "Sum of on_hand x unit_cost over rows with on_hand > 0 and a known cost.", ("location", "currency")
    ),
    "inventory_low_stock_skus": MetricSpec(
        "gauge", "Rows with reorder_point set and 0 < on_hand - reserved <= reorder_point.", ("location",)
    ),
    "inventory_out_of_stock_skus": MetricSpec("gauge", "Rows with on_hand - reserved <= 0.", ("location",)),
    "inventory_below_safety_stock_skus": MetricSpec(
        "gauge", "Rows with safety_stock set and on_hand - reserved < safety_stock.", ("location",)
    ),
    "inventory_orders": MetricSpec("gauge", "Orders by current status.", ("channel", "status")),
    # Counters derived from database rows: a counter only while rows are never deleted
    # (docs/metrics.md); every channel with an order publishes both, the fulfilled one at 0
    # until its first fulfilled order.
    "inventory_orders_created_total": MetricSpec(
        "counter", "Orders ever created: rows in orders, any status.", ("channel",)
    ),
    "inventory_orders_fulfilled_total": MetricSpec(
        "counter", "Orders fulfilled: rows in orders with status fulfilled.", ("channel",)
    ),
    "inventory_order_fulfillment_ratio": MetricSpec(
        "gauge", "Fulfilled over non-cancelled orders created in the trailing window.", ("channel",)
    ),
    # Customer service level (docs/metrics.md, "Service level"): an order with a promise is
    # due once it is fulfilled or its promise has passed, whichever comes first.
    "inventory_orders_due_total": MetricSpec(
        "counter", "Orders due: not cancelled, with a promise, fulfilled or past their promise.", ("channel",)
    ),
    "inventory_orders_on_time_total": MetricSpec(
        "counter", "Due orders fulfilled by their promise (fulfilled_at <= promised_at).", ("channel",)
    ),
    "inventory_orders_in_full_total": MetricSpec(
        "counter", "Due orders fulfilled with every line shipped in full.", ("channel",)
    ),
    "inventory_orders_otif_total": MetricSpec(
        "counter", "Due orders fulfilled on time and in full (perfect orders).", ("channel",)
    ),
    "inventory_order_on_time_ratio": MetricSpec(
        "gauge", "On time over due orders decided in the trailing service-level window.", ("channel",)
    ),
    "inventory_order_otif_ratio": MetricSpec(
        "gauge", "On time and in full over due orders decided in the trailing service-level window.", ("channel",)
    ),
    "inventory_order_line_fill_ratio": MetricSpec(
        "gauge", "Lines shipped in full over lines of the due orders decided in the window.", ("channel",)
    ),
    "inventory_order_unit_fill_ratio": MetricSpec(
        "gauge", "Units shipped (capped at ordered) over units ordered, due orders decided in the window.", ("channel",)
    ),
    "inventory_backorders": MetricSpec("gauge", "Orders with status backordered.", ("channel",)),
    "inventory_backorder_oldest_age_seconds": MetricSpec(
        "gauge", "Age (now - created_at) of the oldest backordered order.", ("channel",)
    ),
    "inventory_orders_stockout_exposed": MetricSpec(
        "gauge",
        "Open or backordered orders with a line short of a SKU out of stock at the order's location.",
        ("channel",),
    ),
    "inventory_stock_movements_total": MetricSpec(
        "counter", "Rows in stock_movements; every known kind of a source from 0.", ("kind", "source")
    ),
    "inventory_last_stock_movement_timestamp_seconds": MetricSpec(
        "gauge", "Unix time of the newest stock movement.", ()
    ),
    "inventory_audit_unlogged_movements": MetricSpec("gauge", "Stock movements with no audit_log row.", ()),
    "inventory_integration_sync_runs_total": MetricSpec(
        "counter", "Rows in integration_syncs; every known status of an integration from 0.", ("integration", "status")
    ),
    "inventory_integration_sync_conflicts_total": MetricSpec(
        "counter", "Sum of conflicts over integration_syncs rows.", ("integration",)
    ),
    "inventory_integration_last_sync_success_timestamp_seconds": MetricSpec(
        "gauge", "Unix time of the newest finished successful sync.", ("integration",)
    ),
}


@dataclass(frozen=True)
class BuiltinStatement:
    """A statement over the reference schema: the metrics and data-quality checks it yields."""

    metrics: tuple[str, ...]
    checks: tuple[str, ...]
    tables: tuple[str, ...]


STOCK_METRICS = (
    "inventory_skus",
    "inventory_on_hand_units",
    "inventory_available_units",
    "inventory_stock_value",
    "inventory_low_stock_skus",
    "inventory_out_of_stock_skus",
    "inventory_below_safety_stock_skus",
)

SERVICE_LEVEL_METRICS = (
    "inventory_orders_due_total",
    "inventory_orders_on_time_total",
    "inventory_orders_in_full_total",
    "inventory_orders_otif_total",
    "inventory_order_on_time_ratio",
    "inventory_order_otif_ratio",
    "inventory_order_line_fill_ratio",
    "inventory_order_unit_fill_ratio",
    "inventory_backorders",
    "inventory_backorder_oldest_age_seconds",
)

BUILTIN_STATEMENTS: dict[str, BuiltinStatement] = {
    "stock": BuiltinStatement(
        STOCK_METRICS,
        (
            "negative_on_hand",
            "invalid_quantity",
            "null_unit_cost",
            "null_reorder_point",
            "stock_unknown_sku",
            "missing_label",
            "invalid_utf8",
        ),
        ("stock_levels", "products"),
    ),
    "orders": BuiltinStatement(
        ("inventory_orders", "inventory_orders_created_total", "inventory_orders_fulfilled_total"),
        ("unknown_order_status", "orders_bad_timestamp", "missing_label", "invalid_utf8"),
        ("orders",),
    ),
    "fulfillment": BuiltinStatement(
        ("inventory_order_fulfillment_ratio",), ("missing_label", "invalid_utf8"), ("orders",)
    ),
    "service_level": BuiltinStatement(
        SERVICE_LEVEL_METRICS,
        ("order_line_invalid_quantity", "orders_bad_service_timestamp", "missing_label", "invalid_utf8"),
        ("orders", "order_lines"),
    ),
    "stockout_exposure": BuiltinStatement(
        ("inventory_orders_stockout_exposed",),
        ("missing_label", "invalid_utf8"),
        ("orders", "order_lines", "stock_levels", "products"),
    ),
    "movements": BuiltinStatement(
        ("inventory_stock_movements_total",),
        ("unknown_movement_kind", "movements_bad_timestamp", "movements_unknown_sku", "missing_label", "invalid_utf8"),
        ("stock_movements", "products"),
    ),
    "last_movement": BuiltinStatement(
        ("inventory_last_stock_movement_timestamp_seconds",), ("movements_bad_timestamp",), ("stock_movements",)
    ),
    "audit_unlogged": BuiltinStatement(("inventory_audit_unlogged_movements",), (), ("stock_movements", "audit_log")),
    "syncs": BuiltinStatement(
        ("inventory_integration_sync_runs_total", "inventory_integration_sync_conflicts_total"),
        ("unknown_sync_status", "negative_conflicts", "missing_label", "invalid_utf8"),
        ("integration_syncs",),
    ),
    "sync_last_success": BuiltinStatement(
        ("inventory_integration_last_sync_success_timestamp_seconds",),
        ("syncs_bad_timestamp", "missing_label", "invalid_utf8"),
        ("integration_syncs",),
    ),
    # Pure data-quality statements: they run while the statement they check runs.
    "syncs_bad_timestamp": BuiltinStatement((), ("syncs_bad_timestamp",), ("integration_syncs",)),
    "syncs_out_of_order": BuiltinStatement((), ("syncs_out_of_order",), ("integration_syncs",)),
}

# The data-quality statements ride along with the metric statement over the same table.
CHECK_COMPANIONS: dict[str, str] = {"syncs_bad_timestamp": "syncs", "syncs_out_of_order": "syncs"}

# Checks on the values that mapped statements (overrides, presets, custom metrics) return.
VALUE_CHECKS = ("null_value", "non_numeric_value", "non_finite_value", "duplicate_labels")

# Published on the reference schema: the checks of the built-in statements.
REFERENCE_CHECKS: tuple[str, ...] = tuple(
    dict.fromkeys(check for statement in BUILTIN_STATEMENTS.values() for check in statement.checks)
)
DATA_QUALITY_CHECKS: tuple[str, ...] = REFERENCE_CHECKS + tuple(c for c in VALUE_CHECKS if c not in REFERENCE_CHECKS)

# database.schema: the reference schema, a schema the user maps entirely, or a preset.
REFERENCE_SCHEMA = "reference"
CUSTOM_SCHEMA = "custom"


def builtin_statements_needed(mapped: set[str]) -> list[str]:
    """Built-in statements that still yield a metric nobody mapped, with their companions."""
    needed = [
        name
        for name, statement in BUILTIN_STATEMENTS.items()
        if statement.metrics and not set(statement.metrics) <= mapped
    ]
    needed += [name for name, parent in CHECK_COMPANIONS.items() if parent in needed]
    return needed
