"""Daily demand per SKU-location: aggregated in SQL, then one dense numpy matrix.

Demand of a day is units sold minus units returned, floored at zero: sales are
movements of kind 'sale' with a negative quantity, returns of kind 'return' with a
positive one, so the day's net demand is minus the sum of their quantities. The floor
keeps a day whose returns exceed its sales from cancelling demand on other days
(returns of earlier sales are not negative demand). Movements with the wrong sign for
their kind are ignored. Days without movements are zero-demand days.

The database groups by (sku, location_id) within each UTC day, so Python receives at
most one row per SKU-location and day with movements; days are bounded by text
comparison of the ISO-8601 timestamps (the reference schema, docs/metrics.md), the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from exporter.db import SQLITE, Dialect, Row

# The statements one analytics cycle runs besides the daily demand, in one read-only
# transaction. Bounds are 'YYYY-MM-DD' text (:recent_since 'YYYY-MM-DDTHH:MM:SS', UTC);
# comparing them with ISO-8601 text timestamps orders by time.
STATEMENTS: dict[str, str] = {
    # Every SKU-location of an active product is a series, whether or not it sold.
    "stock": """
        SELECT s.sku, s.location_id, s.on_hand, COALESCE(s.reserved, 0),
               s.reorder_point, s.safety_stock, s.lead_time_days
        FROM stock_levels s JOIN products p ON p.sku = s.sku
        WHERE p.active = 1
    """,
    # On order: units of purchase orders not received yet.
    "open_purchase_orders": """
        SELECT sku, location_id, SUM(quantity)
        FROM purchase_orders
        WHERE status IN ('draft', 'sent')
        GROUP BY sku, location_id
    """,
    # Customer units still owed: lines of open and backordered orders not fulfilled yet.
    # Part of them is reserved (already out of on_hand - reserved); the rest is backordered
    # (recommendations.backorders).
    "open_customer_orders": """
        SELECT l.sku, o.location_id, SUM(l.quantity - l.fulfilled_quantity)
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        WHERE o.status IN ('open', 'backordered') AND l.quantity > l.fulfilled_quantity
        GROUP BY l.sku, o.location_id
    """,
    # Receipt movements of the SKU-locations with received purchase orders, from the
    # start of the matching window: each is matched to one order (safety_stock.match_receipts).
    "receipts": """
        SELECT m.sku, m.location_id, m.occurred_at
        FROM (SELECT DISTINCT sku, location_id FROM purchase_orders
              WHERE status = 'received' AND created_at >= :lead_time_match_since) po
        JOIN stock_movements m ON m.sku = po.sku AND m.location_id = po.location_id
        WHERE m.kind = 'receipt' AND m.occurred_at >= :lead_time_match_since
    """,
    # Demand of the last surge_window (sales minus returns, like the daily demand) and the
    # number of sales in it, up to now: what a daily forecast cannot see within the day (a
    # run on a SKU is many sales; one wholesale case is one).
    "recent_demand": """
        SELECT sku, location_id, -SUM(quantity), SUM(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END)
        FROM stock_movements
        WHERE occurred_at >= :recent_since
          AND ((kind = 'sale' AND quantity < 0) OR (kind = 'return' AND quantity > 0))
        GROUP BY sku, location_id
    """,
}

# Received purchase orders of the matching window, with `received_at` when the table has
# that (optional) column, else NULL in its place.
RECEIVED_PURCHASE_ORDERS = """
    SELECT sku, location_id, created_at, {received_at}
    FROM purchase_orders
    WHERE status = 'received' AND created_at >= :lead_time_match_since
"""

# Fails (and nothing else) when purchase_orders has no received_at column.
RECEIVED_AT_PROBE = "SELECT received_at FROM purchase_orders WHERE 1 = 0"


def base_statements(received_at: bool) -> dict[str, str]:
    """STATEMENTS and the received purchase orders, reading received_at when the table has it."""
    column = "received_at" if received_at else "NULL"
    return {**STATEMENTS, "received_purchase_orders": RECEIVED_PURCHASE_ORDERS.format(received_at=column)}


# One statement per day of the history, `:day_<i>` <= occurred_at < `:day_<i+1>` (the
# index range) and starting with that day (so text that is no timestamp is left out;
# the business collector counts it as movements_bad_timestamp). The SKU-location comes
# back as one text, sku + U+001F (the ASCII unit separator) + location_id: one string
# per row to build and one plain dict look-up, a second off a 100k-series cycle.
# Grouping one day at a time sorts small batches (SQLite has no hash aggregation, and
# one sort of the whole history was twice as slow), and each row needs no day column.
DEMAND_SQL = """
    SELECT {key}, -SUM(quantity)
    FROM stock_movements
    WHERE occurred_at >= :day_{i} AND occurred_at < :day_{next} AND substr(occurred_at, 1, 10) = :day_{i}
      AND ((kind = 'sale' AND quantity < 0) OR (kind = 'return' AND quantity > 0))
    GROUP BY sku, location_id
"""


def demand_statements(days: int, dialect: Dialect = SQLITE) -> dict[str, str]:
    # The key is built by the dialect: on MySQL `||` is a logical OR, not concatenation.
    key = dialect.concat("sku", "'\x1f'", "location_id")
    return {f"demand:{i}": DEMAND_SQL.format(key=key, i=i, next=i + 1) for i in range(days)}


SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Window:
    """The history: `days` consecutive UTC days ending the day before `today`."""

    today: date
    days: int

    @property
    def start(self) -> date:
        return self.today - timedelta(days=self.days)

    def day_bounds(self) -> dict[str, str]:
        """Parameters of demand_statements: the first instant of each day and of today."""
        start = self.start
        return {f"day_{i}": (start + timedelta(days=i)).isoformat() for i in range(self.days + 1)}


@dataclass(frozen=True)
class Series:
    """One row per SKU-location of an active product, in the order of the matrix rows."""

    skus: list[str]
    locations: list[str]
    location_codes: np.ndarray  # int index into location_names
    location_names: list[str]
    on_hand: np.ndarray
    reserved: np.ndarray
    stored_reorder_point: np.ndarray  # NaN where NULL
    stored_safety_stock: np.ndarray  # NaN where NULL
    stored_lead_time_days: np.ndarray  # NaN where NULL

    def __len__(self) -> int:
        return len(self.skus)

    @property
    def available(self) -> np.ndarray:
        available: np.ndarray = self.on_hand - self.reserved
        return available

    def index(self) -> dict[tuple[str, str], int]:
        return {key: i for i, key in enumerate(zip(self.skus, self.locations))}

    def joined_index(self) -> dict[str, int]:
        """Keys as the demand statements return them: sku + U+001F + location_id."""
        return {f"{sku}{SEPARATOR}{location}": i for i, (sku, location) in enumerate(zip(self.skus, self.locations))}


def _floats(values: tuple[Any, ...]) -> np.ndarray:
    """Nullable numeric column -> float array with NaN for NULL."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def load_series(rows: list[Row]) -> Series:
    # Rows with a NULL key cannot be named in the API; the business collector counts them.
    rows = [r for r in rows if r[0] is not None and r[1] is not None]
    if not rows:
        empty = np.zeros(0)
        return Series([], [], np.zeros(0, dtype=np.int64), [], empty, empty, empty, empty, empty)
    skus, locations, on_hand, reserved, reorder_point, safety_stock, lead_time = zip(*rows)
    location_names = sorted(set(locations))
    codes = {name: i for i, name in enumerate(location_names)}
    return Series(
        skus=[str(s) for s in skus],
        locations=[str(loc) for loc in locations],
        location_codes=np.array([codes[loc] for loc in locations], dtype=np.int64),
        location_names=[str(loc) for loc in location_names],
        on_hand=np.array(on_hand, dtype=np.float64),
        reserved=np.array(reserved, dtype=np.float64),
        stored_reorder_point=_floats(reorder_point),
        stored_safety_stock=_floats(safety_stock),
        stored_lead_time_days=_floats(lead_time),
    )


@dataclass(frozen=True)
class DemandMatrix:
    values: np.ndarray  # float64, series x days, >= 0
    unknown_series_rows: int  # grouped rows (SKU-location-day) whose SKU-location is not a series


# One day of demand as day_entries returns it: (series indexes, their demand, rows of unknown series).
DayEntries = tuple[np.ndarray, np.ndarray, int]


def day_entries(rows: list[Row], series_index: dict[str, int]) -> DayEntries:
    """One day's grouped (sku + U+001F + location_id, demand) rows -> (series, demand, unknown rows).

    Compact arrays (12 bytes a row) instead of row tuples, so a cycle can drop each
    day's rows as soon as they arrive.
    """
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0), 0
    keys, demand = zip(*rows)
    get = series_index.get
    # One dict look-up per grouped row is the only per-row Python work; the rest is numpy.
    series = np.array([get(key, -1) for key in keys], dtype=np.int64)
    quantity = np.array(demand, dtype=np.float64)
    known = series >= 0
    return series[known], quantity[known], int(len(rows) - known.sum())


def matrix_from_days(days: list[DayEntries], series_count: int) -> DemandMatrix:
    """Per-day entries (from day_entries) -> the dense series x days matrix."""
    values = np.zeros((len(days), series_count))  # filled one day (row) at a time, transposed at the end
    unknown = 0
    for day, (series, quantity, skipped) in enumerate(days):
        values[day, series] = quantity  # GROUP BY made each series unique per day
        unknown += skipped
    np.maximum(values, 0.0, out=values)
    return DemandMatrix(np.ascontiguousarray(values.T), unknown)


def demand_matrix(days: list[list[Row]], series_index: dict[str, int]) -> DemandMatrix:
    """Per day, grouped (sku + U+001F + location_id, demand) rows -> dense series x days matrix."""
    return matrix_from_days([day_entries(rows, series_index) for rows in days], len(series_index))
