"""Purchase recommendations: reorder on the inventory position, order up to the order-up-to level.

    position  = available + on_order - backordered
              = (on_hand - reserved) + on_order - backordered
    due       : position <= ROP
    quantity  = ceil_to_pack(S - position)       (S = d (L + R) + SS, safety_stock.py)

skipped when that is not positive. This is the textbook inventory position (on hand +
on order - backorders) with the units reserved for customer orders taken out as well
(they are committed, not free to sell). The two customer terms never overlap:

- on_order: units of purchase orders in status draft or sent;
- reserved: stock_levels.reserved, units held on the shelf for open customer orders;
- backordered: units customers are still owed (lines of open and backordered orders,
  quantity - fulfilled_quantity) beyond what is reserved for them:
  max(0, outstanding - reserved). So position = on_hand + on_order - max(reserved, outstanding).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from exporter.db import Row

# Computed quantities like 12.000000000001 come from float noise, not from demand.
_EPSILON = 1e-9


def ceil_to_pack(quantity: np.ndarray, pack_size: int) -> np.ndarray:
    """Round up to a whole number of packs (a quantity <= 0 stays <= 0)."""
    return np.ceil(np.asarray(quantity, dtype=np.float64) / pack_size - _EPSILON) * pack_size


def units_by_series(rows: list[Row], series_index: dict[tuple[str, str], int], n_series: int) -> np.ndarray:
    """Units per series from (sku, location, units) rows; rows of other SKU-locations are left out."""
    total = np.zeros(n_series)
    for sku, location, units in rows:
        i = series_index.get((sku, location))
        if i is not None and units is not None:
            total[i] += float(units)
    return total


def open_orders(rows: list[Row], series_index: dict[tuple[str, str], int], n_series: int) -> np.ndarray:
    """Units on open purchase orders per series, from (sku, location, units) rows."""
    return units_by_series(rows, series_index, n_series)


def backorders(outstanding: np.ndarray, reserved: np.ndarray) -> np.ndarray:
    """Customer units owed beyond those reserved for them: max(0, outstanding - reserved)."""
    owed: np.ndarray = np.maximum(outstanding - reserved, 0.0)
    return owed


def inventory_position(available: np.ndarray, on_order: np.ndarray, backordered: np.ndarray) -> np.ndarray:
    position: np.ndarray = available + on_order - backordered
    return position


def recommended_quantities(
    position: np.ndarray, reorder_point: np.ndarray, order_up_to: np.ndarray, pack_size: int
) -> np.ndarray:
    """Units to order per series; 0 where no order is recommended."""
    due = position <= reorder_point + _EPSILON
    quantity = ceil_to_pack(order_up_to - position, pack_size)
    return np.where(due & (quantity > 0), quantity, 0.0)


def _units(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def reason(
    *,
    available: float,
    on_order: float,
    backordered: float,
    position: float,
    reorder_point: float,
    order_up_to: float,
    safety: float,
    daily_demand: float,
    method: str,
    lead_time: float,
    lead_time_source: str,
    review_period_days: float,
    pack_size: int,
    quantity: float,
) -> str:
    """Why this quantity, in words a buyer can check."""
    if method == "no_history":
        demand = "no demand in the history"
    else:
        demand = f"forecast {daily_demand:.2f}/day ({method})"
    if lead_time == 0:
        lead = "zero lead time, so the reorder point is only the safety stock"
    else:
        lead = f"lead time {lead_time:g} d ({lead_time_source})"
    terms = f"available {_units(available)}"
    if on_order > 0:
        terms += f" + {_units(on_order)} on open purchase orders"
    if backordered > 0:
        terms += f" - {_units(backordered)} backordered"
    text = (
        f"inventory position {_units(position)} ({terms}) is at or below the reorder point {reorder_point:.2f} "
        f"({demand}; {lead}; safety stock {safety:.2f} over lead time + {review_period_days:g} d review period); "
        f"order up to {order_up_to:.2f} (demand over lead time + review period, plus safety stock) "
        f"minus the position {_units(position)}"
    )
    if pack_size > 1:
        text += f", rounded up to packs of {pack_size}"
    return text + f": {_units(quantity)} units"


def recommendation_views(
    indices: np.ndarray,
    *,
    skus: list[str],
    locations: list[str],
    quantity: np.ndarray,
    available: np.ndarray,
    on_order: np.ndarray,
    backordered: np.ndarray,
    position: np.ndarray,
    daily_demand: np.ndarray,
    reorder_point: np.ndarray,
    order_up_to: np.ndarray,
    safety: np.ndarray,
    methods: Mapping[int, str],
    lead_time: np.ndarray,
    lead_time_source: np.ndarray,
    review_period_days: float,
    pack_size: int,
) -> list[dict[str, Any]]:
    """The JSON items of /api/v1/recommendations, one per recommended SKU-location."""
    views = []
    for i in indices.tolist():
        views.append(
            {
                "sku": skus[i],
                "location": locations[i],
                "quantity": int(quantity[i]),
                "reason": reason(
                    available=float(available[i]),
                    on_order=float(on_order[i]),
                    backordered=float(backordered[i]),
                    position=float(position[i]),
                    reorder_point=float(reorder_point[i]),
                    order_up_to=float(order_up_to[i]),
                    safety=float(safety[i]),
                    daily_demand=float(daily_demand[i]),
                    method=methods[i],
                    lead_time=float(lead_time[i]),
                    lead_time_source=str(lead_time_source[i]),
                    review_period_days=review_period_days,
                    pack_size=pack_size,
                    quantity=float(quantity[i]),
                ),
                "reorder_point": round(float(reorder_point[i]), 3),
                "order_up_to": round(float(order_up_to[i]), 3),
                "safety_stock": round(float(safety[i]), 3),
                "available": _number(available[i]),
                "on_order": _number(on_order[i]),
                "backordered": _number(backordered[i]),
                "position": _number(position[i]),
                "forecast_daily_demand": round(float(daily_demand[i]), 4),
                "method": methods[i],
                "lead_time_days": float(lead_time[i]),
            }
        )
    return views
