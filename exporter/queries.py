"""The business metrics' SQL over the reference schema (docs/metrics.md).

Every aggregation happens in the database; Python only turns the few grouped rows
into metric families. Statements are data: the same text runs on SQLite and
PostgreSQL, with the one fragment that differs (recognising an ISO-8601 timestamp
held as text) supplied by the dialect.

The stock statement reads stock_levels once for every per-location metric, since
that table is the large one (1M rows is a normal wholesaler); the data-quality
counts ride along in the same scans rather than costing scans of their own.
"""

from __future__ import annotations

from exporter.db import Dialect, Partitioned

ORDER_STATUSES = ("open", "fulfilled", "cancelled", "backordered")
# The bits of the service-level statement's `facts` column, lowest first.
SERVICE_LEVEL_FACTS = (
    "promise_ok",  # promised_at is ISO-8601 text
    "fulfilled_ok",  # fulfilled_at is ISO-8601 text
    "promise_passed",  # promised_at <= :now
    "by_promise",  # fulfilled_at <= promised_at
    "by_now",  # fulfilled_at <= :now
    "promised_recently",  # promised_at > :service_level_since
    "fulfilled_recently",  # fulfilled_at > :service_level_since
    "lines_full",  # every valid line shipped in full (or none)
    "has_promise",  # promised_at is not NULL
    "has_fulfilled",  # fulfilled_at is not NULL
)
MOVEMENT_KINDS = ("receipt", "sale", "return", "adjustment", "transfer_in", "transfer_out")
SYNC_STATUSES = ("running", "success", "failed")


# Quantities and costs beyond this are treated as invalid, never summed: a trillion
# units is no real stock, and sums of such values overflow to +Inf.
MAX_ABS_NUMBER = 1e15


def in_range(column: str) -> str:
    """True for a number within +-MAX_ABS_NUMBER; false for text (SQLite orders text after
    every number) and for NULL (as a CASE condition)."""
    limit = int(MAX_ABS_NUMBER)
    return f"({column} BETWEEN -{limit} AND {limit})"


def business_statements(dialect: Dialect) -> dict[str, str | Partitioned]:
    ts = dialect.valid_timestamp
    available = "(s.on_hand - COALESCE(s.reserved, 0))"
    valid = f"({in_range('s.on_hand')} AND {in_range('COALESCE(s.reserved, 0)')})"
    # NULL (no cost) and an invalid cost are both "no known cost".
    cost_ok = f"COALESCE({in_range('p.unit_cost')}, FALSE)"

    # An order line that can be measured: 1 to 1e15 units ordered, 0 to 1e15 shipped (a line
    # shipped beyond its quantity is filled; text, NULL and negatives are not numbers here).
    def line_ok(alias: str = "") -> str:
        q, f, limit = f"{alias}quantity", f"{alias}fulfilled_quantity", int(MAX_ABS_NUMBER)
        return f"({q} BETWEEN 1 AND {limit} AND {f} BETWEEN 0 AND {limit})"

    # What the service-level statement needs to know of an order, one bit each
    # (SERVICE_LEVEL_FACTS order; one integer GROUP BY term sorts faster than ten).
    facts = " + ".join(
        f"{1 << bit} * (CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for bit, condition in enumerate(
            (
                ts("o.promised_at"),
                ts("o.fulfilled_at"),
                "o.promised_at <= :now",
                "o.fulfilled_at <= o.promised_at",
                "o.fulfilled_at <= :now",
                "o.promised_at > :service_level_since",
                "o.fulfilled_at > :service_level_since",
                "COALESCE(l.n_filled, 0) = COALESCE(l.n_lines, 0)",
                "o.promised_at IS NOT NULL",
                "o.fulfilled_at IS NOT NULL",
            )
        )
    )
    return {
        # Per (location, currency): everything the stock metrics need, in one scan.
        # Rows with negative on_hand are skipped from the unit and value sums (and
        # counted as a data-quality issue); they still count as out of stock. A quantity
        # that is no number within +-1e15 (text in SQLite, an overflow) makes the row
        # invalid_quantity: counted as a SKU-location, in no sum, never out of stock.
        "stock": Partitioned(
            table="stock_levels",
            alias="s",
            group_columns=3,
            sql=f"""
            SELECT s.location_id, p.currency, p.active,
                   COUNT(*),
                   SUM(CASE WHEN {valid} AND s.on_hand >= 0 THEN s.on_hand ELSE 0 END),
                   SUM(CASE WHEN {valid} AND s.on_hand >= 0 THEN {available} ELSE 0 END),
                   SUM(CASE WHEN {valid} AND s.on_hand > 0 AND {cost_ok} THEN s.on_hand * p.unit_cost ELSE 0 END),
                   SUM(CASE WHEN {in_range("s.reorder_point")} AND {valid} AND {available} > 0
                             AND {available} <= s.reorder_point THEN 1 ELSE 0 END),
                   SUM(CASE WHEN {valid} AND {available} <= 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN {in_range("s.safety_stock")} AND {valid}
                             AND {available} < s.safety_stock THEN 1 ELSE 0 END),
                   SUM(CASE WHEN {valid} AND s.on_hand < 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN {valid} AND s.on_hand > 0 AND NOT {cost_ok} THEN 1 ELSE 0 END),
                   SUM(CASE WHEN s.reorder_point IS NULL THEN 1 ELSE 0 END),
                   SUM(CASE WHEN {valid} THEN 0 ELSE 1 END)
            FROM stock_levels s LEFT JOIN products p ON p.sku = s.sku
            WHERE {{rows}}
            GROUP BY s.location_id, p.currency, p.active
        """,
        ),
        "orders": f"""
            SELECT channel, status, COUNT(*), SUM(CASE WHEN {ts("created_at")} THEN 0 ELSE 1 END)
            FROM orders GROUP BY channel, status
        """,
        # Cancelled orders are excluded; an order counts as fulfilled by its status.
        "fulfillment": f"""
            SELECT channel,
                   SUM(CASE WHEN status = 'fulfilled' THEN 1 ELSE 0 END),
                   COUNT(*)
            FROM orders
            WHERE status IN ('open', 'fulfilled', 'backordered')
              AND {ts("created_at")} AND created_at >= :since
            GROUP BY channel
        """,
        # Customer service level (docs/metrics.md, "Service level"): one pass over orders
        # and one over order_lines. The rows are grouped by channel, status and the few
        # facts the definitions need (is the promise a timestamp, has it passed, was the
        # order fulfilled by it, ...: SERVICE_LEVEL_FACTS, one bit each, worked out once a
        # row); the collector combines them into due, on time, in full and the window.
        "service_level": f"""
            WITH line AS (
                SELECT order_id,
                       COUNT(*) AS n_all,
                       SUM(CASE WHEN {line_ok()} THEN 1 ELSE 0 END) AS n_lines,
                       SUM(CASE WHEN {line_ok()} AND fulfilled_quantity >= quantity THEN 1 ELSE 0 END) AS n_filled,
                       SUM(CASE WHEN {line_ok()} THEN quantity ELSE 0 END) AS units,
                       SUM(CASE WHEN {line_ok()}
                                THEN CASE WHEN fulfilled_quantity >= quantity THEN quantity
                                          ELSE fulfilled_quantity END
                                ELSE 0 END) AS shipped
                FROM order_lines
                GROUP BY order_id
            )
            SELECT o.channel, o.status, {facts} AS facts,
                   COUNT(*),
                   SUM(COALESCE(l.n_lines, 0)), SUM(COALESCE(l.n_filled, 0)),
                   SUM(COALESCE(l.units, 0)), SUM(COALESCE(l.shipped, 0)),
                   MIN(CASE WHEN o.status = 'backordered' AND {ts("o.created_at")} THEN o.created_at END),
                   SUM(COALESCE(l.n_all, 0) - COALESCE(l.n_lines, 0))
            FROM orders o LEFT JOIN line l ON l.order_id = o.id
            GROUP BY 1, 2, 3
        """,
        # Demand exposed to a stock-out, now: open and backordered orders with a line not
        # shipped in full whose SKU is out of stock (available <= 0, an active product) at
        # the order's location. Lines of other orders cost one index lookup each.
        "stockout_exposure": f"""
            WITH exposed AS (
                SELECT DISTINCT l.order_id
                FROM order_lines l
                JOIN orders x ON x.id = l.order_id
                JOIN stock_levels s ON s.sku = l.sku AND s.location_id = x.location_id
                JOIN products p ON p.sku = s.sku
                WHERE x.status IN ('open', 'backordered') AND p.active = 1
                  AND {line_ok("l.")} AND l.fulfilled_quantity < l.quantity
                  AND {valid} AND {available} <= 0
            )
            SELECT o.channel, COUNT(e.order_id)
            FROM orders o LEFT JOIN exposed e ON e.order_id = o.id
            GROUP BY o.channel
        """,
        "movements": Partitioned(
            table="stock_movements",
            alias="m",
            group_columns=2,
            sql=f"""
            SELECT m.kind, m.source, COUNT(*),
                   SUM(CASE WHEN {ts("m.occurred_at")} THEN 0 ELSE 1 END),
                   SUM(CASE WHEN p.sku IS NULL THEN 1 ELSE 0 END)
            FROM stock_movements m LEFT JOIN products p ON p.sku = m.sku
            WHERE {{rows}}
            GROUP BY m.kind, m.source
        """,
        ),
        "last_movement": f"SELECT MAX(occurred_at) FROM stock_movements WHERE {ts('occurred_at')}",
        "audit_unlogged": """
            SELECT COUNT(*) FROM stock_movements m
            WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.movement_id = m.id)
        """,
        "syncs": """
            SELECT integration, status, COUNT(*), SUM(CASE WHEN conflicts > 0 THEN conflicts ELSE 0 END),
                   SUM(CASE WHEN conflicts < 0 THEN 1 ELSE 0 END)
            FROM integration_syncs GROUP BY integration, status
        """,
        "sync_last_success": f"""
            SELECT integration, MAX(finished_at) FROM integration_syncs
            WHERE status = 'success' AND {ts("finished_at")}
            GROUP BY integration
        """,
        "syncs_bad_timestamp": f"""
            SELECT COUNT(*) FROM integration_syncs
            WHERE NOT {ts("started_at")} OR (finished_at IS NOT NULL AND NOT {ts("finished_at")})
        """,
        # Out-of-order rows: a sync that finished before it started.
        "syncs_out_of_order": f"""
            SELECT COUNT(*) FROM integration_syncs
            WHERE finished_at IS NOT NULL AND {ts("started_at")} AND {ts("finished_at")}
              AND finished_at < started_at
        """,
    }
