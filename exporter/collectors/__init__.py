"""The collector registry: one factory per collector, built from the config.

Adding a collector means one new module and one line in `build_collectors`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, CollectorBase

if TYPE_CHECKING:
    from exporter.config import Config

__all__ = ["Collector", "CollectorBase", "build_collectors"]

log = logging.getLogger("exporter")


def build_collectors(config: Config) -> list[Collector]:
    from exporter.collectors.analytics import AnalyticsCollector
    from exporter.collectors.api_probes import ApiProbeCollector
    from exporter.collectors.business import BusinessCollector
    from exporter.collectors.host import HostCollector
    from exporter.db import Database
    from exporter.integrations import build_integration_collectors

    planned = config.collector_names()
    if config.analytics.enabled and "analytics" not in planned:
        log.info(
            "analytics off: it reads the reference schema's tables and database.schema is %r; "
            "set analytics.enabled: false to silence this line",
            config.database.schema_,
        )
    database = Database(config.database.connection_url(), timeout=config.database.timeout)
    collectors: list[Collector] = []
    if "host" in planned:
        collectors.append(HostCollector(config.host))
    if "business" in planned:
        collectors.append(BusinessCollector(database, config.database, config.business))
    if "analytics" in planned:
        collectors.append(AnalyticsCollector.from_config(config))
    if "api_probes" in planned:
        collectors.append(ApiProbeCollector(config.api_probes, config.api_probe_settings))
    collectors.extend(build_integration_collectors(config, database))
    return collectors
