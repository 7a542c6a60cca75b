"""Purchase recommendations: order up to the reorder point plus demand over the review period.

For each SKU-location whose available stock (on_hand - reserved) is at or below its
reorder point:

    quantity = ceil_to_pack(ROP + d * review_period - available - open_po_units)

skipped when that is not positive (open purchase orders already cover it). Open
purchase orders are those in status draft or sent.
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


def open_orders(rows: list[Row], series_index: dict[tuple[str, str], int], n_series: int) -> np.ndarray:
    """Units on open purchase orders per series, from (sku, location, units) rows."""
    on_order = np.zeros(n_series)
    for sku, location, units in rows:
        i = series_index.get((sku, location))
        if i is not None and units is not None:
            on_order[i] += float(units)
    return on_order


def recommended_quantities(
    available: np.ndarray,
    on_order: np.ndarray,
    daily_demand: np.ndarray,
    reorder_point: np.ndarray,
    review_period_days: float,
    pack_size: int,
) -> np.ndarray:
    """Units to order per series; 0 where no order is recommended."""
    order_up_to = reorder_point + daily_demand * review_period_days
    due = available <= reorder_point + _EPSILON
    quantity = ceil_to_pack(order_up_to - available - on_order, pack_size)
    return np.where(due & (quantity > 0), quantity, 0.0)


def _units(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def reason(
    *,
    available: float,
    reorder_point: float,
    safety: float,
    daily_demand: float,
    method: str,
    lead_time: float,
    lead_time_source: str,
    review_period_days: float,
    on_order: float,
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
    text = (
        f"available {_units(available)} is at or below the reorder point {reorder_point:.2f} "
        f"({demand}; {lead}; safety stock {safety:.2f}); "
        f"order up to {reorder_point + daily_demand * review_period_days:.2f} "
        f"(reorder point + {review_period_days:g} d of demand)"
    )
    if on_order > 0:
        text += f" minus {_units(on_order)} already on open purchase orders"
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
    daily_demand: np.ndarray,
    reorder_point: np.ndarray,
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
                    reorder_point=float(reorder_point[i]),
                    safety=float(safety[i]),
                    daily_demand=float(daily_demand[i]),
                    method=methods[i],
                    lead_time=float(lead_time[i]),
                    lead_time_source=str(lead_time_source[i]),
                    review_period_days=review_period_days,
                    on_order=float(on_order[i]),
                    pack_size=pack_size,
                    quantity=float(quantity[i]),
                ),
                "reorder_point": round(float(reorder_point[i]), 3),
                "safety_stock": round(float(safety[i]), 3),
                "available": float(available[i]) if not float(available[i]).is_integer() else int(available[i]),
                "on_order": float(on_order[i]) if not float(on_order[i]).is_integer() else int(on_order[i]),
                "forecast_daily_demand": round(float(daily_demand[i]), 4),
                "method": methods[i],
                "lead_time_days": float(lead_time[i]),
            }
        )
    return views
