"""Settings of the analytics collector (the `analytics:` section of exporter.yml)."""

from __future__ import annotations

from exporter.config_types import Duration, Model


class AnalyticsConfig(Model):
    enabled: bool = True
    # Forecasts change slowly and cost more than the other queries: a slower interval.
    interval: Duration = 300.0
    timeout: Duration = 60.0
