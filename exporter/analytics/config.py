"""Settings of the analytics collector (the `analytics:` section of exporter.yml).

Lengths of history and of lead and review times are numbers of days (the unit of the
demand series); the collector's own interval and timeout are durations ("5m", "60s").
"""

from __future__ import annotations

from pydantic import Field, model_validator

from servicekit.config import Duration, Model


class AnalyticsConfig(Model):
    enabled: bool = True
    # Forecasts change slowly and cost more than the other queries: a slower interval.
    interval: Duration = 300.0
    timeout: Duration = 60.0
    # Within a UTC day the demand history is re-read at most this often (it only changes
    # through back-dated movements); a new day or new SKU-locations re-read it at once.
    demand_refresh: Duration = 3600.0

    # Daily demand history, ending yesterday (UTC).
    history_days: int = Field(default=90, ge=2, le=3650)
    # Cycle service level: probability of no stock-out during a replenishment lead time.
    service_level: float = Field(default=0.95, ge=0.5, lt=1.0)
    # Lead time when neither stock_levels.lead_time_days nor purchase-order history gives one.
    lead_time_days: float = Field(default=7.0, ge=0.0)
    # Lead-time standard deviation when purchase-order history gives none.
    lead_time_std_days: float = Field(default=0.0, ge=0.0)
    # Received purchase orders created this far back are lead-time observations.
    lead_time_history_days: int = Field(default=365, ge=1, le=3650)
    # A SKU-location needs this many observed lead times before they replace the defaults.
    min_lead_time_samples: int = Field(default=3, ge=2)
    # R: time between two ordering decisions. Safety stock covers lead time + R, and an
    # order brings the inventory position up to d (L + R) + safety stock (0: continuous review).
    review_period_days: float = Field(default=7.0, ge=0.0)
    # Recommended quantities are rounded up to a multiple of this.
    pack_size: int = Field(default=1, ge=1)
    # The last N days of the history are forecast from the days before them to measure accuracy.
    accuracy_window_days: int = Field(default=14, ge=1)
    # A series with a larger share of zero-demand days is intermittent: Croston (SBA), else SES.
    intermittent_zero_share: float = Field(default=0.5, ge=0.0, le=1.0)
    ses_alpha: float = Field(default=0.2, gt=0.0, le=1.0)
    croston_alpha: float = Field(default=0.1, gt=0.0, le=1.0)
    # Stored safety_stock / reorder_point count as a gap only when off by more than this ratio.
    gap_tolerance_ratio: float = Field(default=0.2, ge=0.0)
    # A demand surge (a run on a SKU, which a daily forecast cannot see within the day): the
    # units sold over the last `surge_window` reach `surge_factor` times the forecast for that
    # time and at least `surge_min_units` in at least `surge_min_sales` sales, and at that
    # pace the stock lasts less than `surge_cover` (inventory_demand_surge_skus, alert
    # InventoryDemandSurge). The defaults are what kept a simulated healthy month free of
    # false surges, and a wholesale case out of them (docs/analytics.md).
    surge_window: Duration = 10800.0
    surge_factor: float = Field(default=4.0, gt=1.0)
    surge_min_units: float = Field(default=10.0, ge=1.0)
    surge_min_sales: int = Field(default=3, ge=1)
    surge_cover: Duration = 86400.0

    @model_validator(mode="after")
    def _check_windows(self) -> AnalyticsConfig:
        if not 0 < self.surge_window <= 86400:
            raise ValueError(f"surge_window ({self.surge_window:g}s) must be more than 0 and at most 1d")
        if self.surge_cover <= 0:
            raise ValueError(f"surge_cover ({self.surge_cover:g}s) must be more than 0")
        if self.accuracy_window_days >= self.history_days:
            raise ValueError(
                f"accuracy_window_days ({self.accuracy_window_days}) must be less than "
                f"history_days ({self.history_days}): the forecast is fitted on the days before the window"
            )
        return self
