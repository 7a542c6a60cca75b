"""What every collector is: a name, an interval, a timeout and one `collect()`.

A collector only computes metric families (or raises). The runner alone schedules it,
enforces the timeout, and reports success, duration and last success.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client.metrics_core import Metric


class Collector(Protocol):
    name: str  # becomes the `collector` label: host, business, api_probes, integration_<name>
    interval: float  # seconds between the starts of two runs
    timeout: float  # a run taking longer is cancelled and counts as failed

    async def collect(self) -> list[Metric]:
        """Compute this collector's families; raise on failure."""
        ...

    def api_views(self) -> dict[str, Any]:
        """JSON documents computed by the last successful run, by name (may be empty).

        The server merges them under /api/v1/<name>: for example the integration
        collectors' `mismatches` and the analytics collector's `recommendations`.
        """
        ...

    def failing_statements(self) -> dict[str, str]:
        """Statements of a collector that still runs which failed on their own last run,
        with their reasons (the business collector's missing tables or broken mappings);
        the landing page lists them."""
        ...

    async def close(self) -> None:
        """Release sessions, pools and threads."""
        ...


class CollectorBase:
    """Defaults for the optional parts of the interface."""

    name: str
    interval: float
    timeout: float

    def api_views(self) -> dict[str, Any]:
        return {}

    def failing_statements(self) -> dict[str, str]:
        return {}

    async def close(self) -> None:
        return None
