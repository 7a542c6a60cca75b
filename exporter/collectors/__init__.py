"""The collector registry: one factory per collector, built from the config.

Adding a collector means one new module and one line in `build_collectors`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from exporter.business_catalogue import REFERENCE_SCHEMA
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

    collectors: list[Collector] = []
    if config.host.enabled:
        collectors.append(HostCollector(config.host))
    database = Database(config.database.url, timeout=config.database.timeout)
    if config.business.enabled:
        collectors.append(BusinessCollector(database, config.database, config.business))
    if config.analytics.enabled and config.database.schema_ != REFERENCE_SCHEMA:
        # Its inputs (demand history, receipts, open purchase orders) are reference tables.
        log.info(
            "analytics off: it reads the reference schema's tables and database.schema is %r; "
            "set analytics.enabled: false to silence this line",
            config.database.schema_,
        )
    elif config.analytics.enabled:
        collectors.append(AnalyticsCollector.from_config(config))
    if config.api_probes:
        collectors.append(ApiProbeCollector(config.api_probes, config.api_probe_settings))
    collectors.extend(build_integration_collectors(config, database))
    return collectors
