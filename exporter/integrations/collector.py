"""The collector shared by every integration: probe, stream, compare, build families.

One run: probe the remote's health; if it answers, read the database's available
stock (on_hand - reserved) of the mapped locations into a dict, then stream the remote
stock page by page and compare each row as it arrives. Only the database side is held
in memory; remote pages are dropped once compared, and the mismatch list keeps only
the largest differences in a bounded heap.

Failures of the remote are results, not exceptions: a user needs
`inventory_integration_up 0` and the request counters exactly when the remote is down,
and the runner drops every family of a collector that raises. So a remote failure is
reported as up 0 (probe failed) or `inventory_integration_fetch_success 0` (stock
fetch or comparison failed), and the comparison families are left out until the next
good run. Only a bug raises (collector_success 0). See docs/integrations.md.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorBase
from exporter.db import Database, DatabaseUnavailable, OffThread, QueryError
from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import Deadline, HttpClient, RemoteError, RequestStats, load_secret
from exporter.integrations.quantities import parse_quantity

log = logging.getLogger("exporter.integrations")

DATA_QUALITY_CHECKS = ("unmapped_location", "unknown_sku", "missing_sku", "duplicate_row", "bad_quantity")

# Share of the collector's timeout the run may use, so it ends on its own terms (up 0
# with counters) before the runner cancels it (every family dropped).
_RUN_BUDGET = 0.9


def database_statements(locations: list[str], settings: CommonIntegration) -> tuple[dict[str, str], dict[str, str]]:
    """SQL (portable across SQLite, PostgreSQL, MySQL) for the database side of the comparison."""
    if settings.database_sql:
        return {"stock": settings.database_sql}, {}
    params = {f"loc{i}": loc for i, loc in enumerate(locations)}
    placeholders = ", ".join(f":{name}" for name in params)
    return {
        "stock": (
            "SELECT sku, location_id, on_hand - COALESCE(reserved, 0) AS available "
            f"FROM stock_levels WHERE location_id IN ({placeholders})"
        ),
        "skus": "SELECT sku FROM products",
    }, params


def _number(value: Any) -> float:
    return float(value) if value is not None else 0.0


@dataclass
class Comparison:
    """The outcome of one successful run."""

    compared: dict[str, int]
    mismatched: dict[str, int]
    issues: dict[str, int]
    mismatches: list[dict[str, Any]]

    @property
    def accuracy(self) -> float | None:
        total = sum(self.compared.values())
        if not total:
            return None
        return (total - sum(self.mismatched.values())) / total


@dataclass
class _Compare:
    """Incremental comparison state for one run."""

    database: dict[tuple[str, str], float]
    known_skus: set[str]
    settings: CommonIntegration
    mapping: dict[str, str] = field(init=False)  # remote location id -> database location id
    ignored: frozenset[str] = field(init=False)
    compared: dict[str, int] = field(default_factory=dict)
    mismatched: dict[str, int] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=lambda: {c: 0 for c in DATA_QUALITY_CHECKS})
    seen: set[tuple[str, str]] = field(default_factory=set)
    heap: list[tuple[float, str, str, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mapping = self.settings.locations
        self.ignored = frozenset(self.settings.ignored_locations)
        for location in self.mapping.values():
            self.compared.setdefault(location, 0)
            self.mismatched.setdefault(location, 0)

    def add_page(self, rows: list[RemoteRow]) -> None:
        for row in rows:
            if row.location in self.ignored:
                continue
            location = self.mapping.get(row.location)
            if location is None:
                self.issues["unmapped_location"] += 1
                continue
            if row.sku is None or not isinstance(row.sku, (str, int)) or str(row.sku).strip() == "":
                self.issues["missing_sku"] += 1
                continue
            sku = str(row.sku)
            if sku not in self.known_skus:
                self.issues["unknown_sku"] += 1
                continue
            key = (sku, location)
            if key in self.seen:
                self.issues["duplicate_row"] += 1
                continue
            self.seen.add(key)
            # A known SKU without a stock row at this location has 0 in the database.
            database = self.database.pop(key, 0.0)
            quantity = parse_quantity(row.quantity)
            if quantity is None or (quantity < 0 and not self.settings.allow_negative):
                # Listed but unusable: neither compared nor treated as missing.
                self.issues["bad_quantity"] += 1
                continue
            self._compare(sku, location, database, quantity)

    def finish(self) -> Comparison:
        if self.settings.missing_remote == "zero":
            for (sku, location), available in self.database.items():
                if (sku, location) not in self.seen:
                    self._compare(sku, location, available, 0.0)
        self.database.clear()
        mismatches = [
            {
                "integration": self.settings.name,
                "sku": str(sku),
                "location": location,
                "database": _plain(db),
                "remote": _plain(remote),
                "difference": _plain(remote - db),
            }
            for _, sku, location, db, remote in sorted(self.heap, key=lambda e: (-e[0], str(e[1]), e[2]))
        ]
        return Comparison(dict(self.compared), dict(self.mismatched), dict(self.issues), mismatches)

    def _compare(self, sku: str, location: str, database: float, remote: float) -> None:
        self.compared[location] = self.compared.get(location, 0) + 1
        difference = abs(remote - database)
        if difference <= self.settings.tolerance_units:
            return
        self.mismatched[location] = self.mismatched.get(location, 0) + 1
        size = self.settings.mismatch_list_size
        if not size:
            return
        # Min-heap of the `size` largest differences; ties keep the smaller SKU.
        entry = (difference, _neg_key(sku), location, database, remote)
        if len(self.heap) < size:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            heapq.heapreplace(self.heap, entry)


class _NegKey(str):
    """A str that sorts in reverse, so the min-heap evicts the larger SKU on ties."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


def _neg_key(sku: str) -> _NegKey:
    return _NegKey(sku)


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class IntegrationCollector(CollectorBase):
    def __init__(self, integration: CommonIntegration, connector_class: type[Connector], database: Database):
        self.integration = integration
        self.name = f"integration_{integration.name}"
        self.interval = integration.interval
        self.timeout = integration.timeout
        # Its own Database object: the runner may interrupt the business collector's
        # query on timeout, and that must never abort this one (and vice versa).
        self.database = Database(database.url, timeout=database.timeout)
        self.stats = RequestStats()
        self.client = HttpClient(
            integration.name,
            integration.url,
            self.stats,
            request_timeout=integration.request_timeout,
            retries=integration.retries,
            backoff=integration.backoff,
            body_size_limit=integration.body_size_limit,
            tls=integration.tls_config,
        )
        self.connector = connector_class(integration.name, integration, self.client)
        self.up: int | None = None
        self.fetch_success: int | None = None
        self.last_fetch_success: float | None = None
        self.last_comparison: Comparison | None = None
        self._last_problem = ""
        self._db_running = OffThread(self.database)

    async def collect(self) -> list[Metric]:
        self.client.deadline = Deadline(self.timeout * _RUN_BUDGET)
        try:
            self.client.secret = load_secret(self.integration.token_env, self.integration.token_file)
            await self.connector.probe()
        except RemoteError as exc:
            self.up = 0
            self.fetch_success = 0
            self.last_comparison = None
            self._problem(f"health probe failed: {self.client.scrub(str(exc))}{_hint(exc, self.integration)}")
            return self.families()
        self.up = 1
        try:
            comparison = await self._fetch_and_compare()
        except RemoteError as exc:
            self._fetch_failed(f"stock fetch failed: {self.client.scrub(str(exc))}{_hint(exc, self.integration)}")
        except (DatabaseUnavailable, QueryError) as exc:
            self._fetch_failed(f"reading the database failed: {exc}")
        else:
            self.fetch_success = 1
            self.last_fetch_success = time.time()
            self.last_comparison = comparison
            if self._last_problem:
                log.info("integration %s recovered", self.integration.name)
                self._last_problem = ""
        return self.families()

    def _fetch_failed(self, problem: str) -> None:
        self.fetch_success = 0
        self.last_comparison = None
        self._problem(problem)

    def _problem(self, problem: str) -> None:
        # One line when a problem starts or changes, not one per run while it lasts.
        if problem != self._last_problem:
            log.warning("integration %s: %s", self.integration.name, problem)
        self._last_problem = problem

    async def _fetch_and_compare(self) -> Comparison:
        database, known = await self._read_database()
        state = _Compare(database, known, self.integration)
        async for page in self.connector.stream(list(self.integration.locations)):
            state.add_page(page)
        return state.finish()

    async def _read_database(self) -> tuple[dict[tuple[str, str], float], set[str]]:
        if not self._db_running.done():  # a failed fetch of this run, not of the collector
            raise QueryError("stock", RuntimeError(self._db_running.busy))
        locations = sorted(set(self.integration.locations.values()))
        statements, params = database_statements(locations, self.integration)
        results = await self._db_running.run(self.database.fetch_all, statements, params)
        wanted = set(locations)
        database: dict[tuple[str, str], float] = {}
        known: set[str] = set()
        for sku, location, available in results["stock"].rows:
            if sku is None:
                continue
            known.add(str(sku))
            if location in wanted:
                database[(str(sku), str(location))] = _number(available)
        if "skus" in results:
            known.update(str(row[0]) for row in results["skus"].rows if row[0] is not None)
        return database, known

    def api_views(self) -> dict[str, Any]:
        if self.last_comparison is None:
            return {}  # no fresh comparison: say nothing rather than something stale
        return {"mismatches": list(self.last_comparison.mismatches)}

    async def close(self) -> None:
        await self.client.close()
        self.database.interrupt()
        self.database.dispose()

    def _version_family(self) -> Metric | None:
        requested, served = self.connector.requested_version, self.connector.served_version
        if requested is None and served is None:
            return None  # an API without versions
        info = GaugeMetricFamily(
            "inventory_integration_api_version_info",
            "API version the exporter requests and the one the remote last said it served (empty: not known yet).",
            labels=["integration", "requested", "served"],
        )
        info.add_metric([self.integration.name, requested or "", served or ""], 1)
        return info

    def families(self) -> list[Metric]:
        name = self.integration.name
        out: list[Metric] = []
        up = GaugeMetricFamily(
            "inventory_integration_up",
            "1 if the last health probe of the integration succeeded.",
            labels=["integration"],
        )
        up.add_metric([name], self.up or 0)
        out.append(up)
        fetch = GaugeMetricFamily(
            "inventory_integration_fetch_success",
            "1 if the last stock fetch and comparison with the database succeeded.",
            labels=["integration"],
        )
        fetch.add_metric([name], self.fetch_success or 0)
        out.append(fetch)

        requests = CounterMetricFamily(
            "inventory_integration_requests",
            "Requests to the remote API by HTTP status (or timeout, connection_error, truncated when there was none).",
            labels=["integration", "code"],
        )
        for code, count in sorted(self.stats.by_code.items()):
            requests.add_metric([name, code], count)
        out.append(requests)
        throttled = CounterMetricFamily(
            "inventory_integration_throttled_requests",
            "Requests the remote refused for its rate limit (HTTP 429 or Shopify THROTTLED).",
            labels=["integration"],
        )
        throttled.add_metric([name], self.stats.throttled)
        out.append(throttled)
        duration = HistogramMetricFamily(
            "inventory_integration_request_duration_seconds",
            "Duration of requests to the remote API.",
            labels=["integration"],
            unit="seconds",
        )
        duration.add_metric([name], self.stats.cumulative_buckets(), self.stats.duration_sum)
        out.append(duration)
        if self.stats.headroom is not None:
            headroom = GaugeMetricFamily(
                "inventory_integration_rate_limit_headroom_ratio",
                "Share of the remote's rate limit still available after the last request.",
                labels=["integration"],
            )
            headroom.add_metric([name], self.stats.headroom)
            out.append(headroom)
        version = self._version_family()
        if version is not None:
            out.append(version)
        if self.last_fetch_success is not None:
            last = GaugeMetricFamily(
                "inventory_integration_last_fetch_success_timestamp_seconds",
                "Unix time of the last successful stock fetch and comparison.",
                labels=["integration"],
                unit="seconds",
            )
            last.add_metric([name], self.last_fetch_success)
            out.append(last)

        comparison = self.last_comparison
        if comparison is None:
            return out
        mismatch = GaugeMetricFamily(
            "inventory_integration_stock_mismatch_skus",
            "SKU-locations whose remote available quantity differs from the database's by more than the tolerance.",
            labels=["integration", "location"],
        )
        compared = GaugeMetricFamily(
            "inventory_integration_compared_skus",
            "SKU-locations compared with the database in the last run.",
            labels=["integration", "location"],
        )
        for location in sorted(comparison.compared):
            mismatch.add_metric([name, location], comparison.mismatched.get(location, 0))
            compared.add_metric([name, location], comparison.compared[location])
        out.extend([mismatch, compared])
        accuracy = comparison.accuracy
        if accuracy is not None:
            ratio = GaugeMetricFamily(
                "inventory_integration_accuracy_ratio",
                "Matching over compared SKU-locations (inventory record accuracy).",
                labels=["integration"],
            )
            ratio.add_metric([name], accuracy)
            out.append(ratio)
        quality = GaugeMetricFamily(
            "inventory_integration_data_quality_issues",
            "Remote rows skipped in the last comparison, by check.",
            labels=["integration", "check"],
        )
        for check in DATA_QUALITY_CHECKS:
            quality.add_metric([name, check], comparison.issues.get(check, 0))
        out.append(quality)
        return out


def _hint(exc: RemoteError, integration: CommonIntegration) -> str:
    if exc.kind != "auth":
        return ""
    source = f"token_env {integration.token_env}" if integration.token_env else f"token_file {integration.token_file}"
    return f" (bad credentials: check {source})"
