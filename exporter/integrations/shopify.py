"""Shopify: stock from the GraphQL Admin API (REST is legacy since 2024-10).

Two ways to read the catalogue, both validated against Shopify's published schema of the
pinned version (tests/vendor/shopify/, tests/exporter/integrations/test_shopify_documents.py):

* Paged: `inventoryItems` (cursor paging) with each item's `inventoryLevels` and the
  `available` quantity. Shopify limits by calculated query cost with a leaky bucket per
  app and store; every response reports it in `extensions.cost.throttleStatus`. The
  connector paces itself from that report: before each request it waits until the
  bucket, refilled at `restoreRate`, covers the query's requested cost, so a long
  catalogue fetch runs at the restore rate without THROTTLED errors. If one happens
  anyway (a fresh process does not know the bucket), it waits for the restore and retries.
* Bulk (`bulk: auto` above `bulk_threshold` SKU-locations, or `bulk: always`): one
  `bulkOperationRunQuery` mutation (10 points), a few `bulkOperation(id:)` polls, then the
  JSONL result is streamed line by line from Shopify's signed storage URL (no token is
  sent there). Each inventory level line carries its item's SKU, so rows go out as they
  arrive, whatever the file's size. When Shopify cannot run it (an operation already
  running for the app and shop, FAILED, CANCELED, EXPIRED) the paged path serves the run
  and the reason is logged once.

Every answer names the API version Shopify served (`X-Shopify-API-Version`); it is kept
in `served_version` and one WARNING is logged when it is not the configured one (Shopify
serves the oldest supported version to a request for one past its support window).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, field_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import RemoteError
from servicekit.config import Duration

log = logging.getLogger("exporter.integrations.shopify")

# The version whose schema is vendored in tests/vendor/shopify/ and validated against.
DEFAULT_API_VERSION = "2026-07"

ITEMS_QUERY = """query InventoryPage($first: Int!, $after: String, $levels: Int!) {
  inventoryItems(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      sku
      inventoryLevels(first: $levels) {
        pageInfo { hasNextPage endCursor }
        nodes { location { id } quantities(names: ["available"]) { name quantity } }
      }
    }
  }
}"""

ITEM_LEVELS_QUERY = """query ItemLevels($id: ID!, $levels: Int!, $after: String) {
  inventoryItem(id: $id) {
    inventoryLevels(first: $levels, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { location { id } quantities(names: ["available"]) { name quantity } }
    }
  }
}"""

PROBE_QUERY = "query Probe { shop { name } }"

# How big the catalogue is, for `bulk: auto`: one variant is one inventory item (1 point).
COUNT_QUERY = """query CatalogueSize($limit: Int) {
  productVariantsCount(limit: $limit) { count precision }
}"""

# The bulk query: connections through edges/node, the item's id for the nested levels
# (Shopify's bulk rules). A level's line carries the item's SKU itself, so it can be
# compared without its parent line.
BULK_INVENTORY_QUERY = """{
  inventoryItems {
    edges {
      node {
        id
        inventoryLevels {
          edges {
            node {
              item { sku }
              location { id }
              quantities(names: ["available"]) { name quantity }
            }
          }
        }
      }
    }
  }
}"""

BULK_RUN_MUTATION = """mutation BulkInventory($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

BULK_POLL_QUERY = """query BulkPoll($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl }
}"""

# Every document the connector can send, by name (the schema test validates them all).
DOCUMENTS = {
    "probe": PROBE_QUERY,
    "items": ITEMS_QUERY,
    "item_levels": ITEM_LEVELS_QUERY,
    "count": COUNT_QUERY,
    "bulk_run": BULK_RUN_MUTATION,
    "bulk_poll": BULK_POLL_QUERY,
}
# Documents sent as the `query` argument of bulkOperationRunQuery (also bulk rules apply).
BULK_DOCUMENTS = {"bulk_inventory": BULK_INVENTORY_QUERY}

# Shopify refuses any single query priced above this many points.
SINGLE_QUERY_MAX_COST = 1000.0
# A run gives up after this many THROTTLED answers in a row (each waited out).
_MAX_THROTTLED_RETRIES = 5
# Margin on the projected bucket: the server's clock ran a little ahead of our reading.
_PACING_MARGIN_SECONDS = 0.05


# Rows handed to the collector at a time while a bulk result streams in.
_BULK_BATCH = 2000


class ShopifyIntegration(CommonIntegration):
    kind: Literal["shopify"]
    api_version: str = DEFAULT_API_VERSION
    # 50 items x 5 levels stays under Shopify's 1000-point single-query limit; an item
    # stocked at more locations has the rest fetched with inventoryItem(id:).
    page_size: int = Field(50, ge=1, le=250)
    levels_per_item: int = Field(5, ge=1, le=250)
    # Bulk Operations API: `auto` above bulk_threshold SKU-locations (product variants x
    # mapped locations, from one count query), `always`, or `never` (paged only).
    bulk: Literal["auto", "always", "never"] = "auto"
    bulk_threshold: int = Field(10000, ge=0)
    # First wait before polling a bulk operation; later waits grow to 10x this.
    bulk_poll_interval: Duration = 1.0

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, version: str) -> str:
        if not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", version):
            raise ValueError("expected a Shopify API version such as 2026-07 (quarterly) or unstable")
        return version


class CostBucket:
    """Our view of Shopify's leaky bucket, from the last throttleStatus."""

    def __init__(self) -> None:
        self.maximum: float | None = None
        self.available = 0.0
        self.restore_rate = 0.0
        self.at = 0.0

    def update(self, status: dict[str, Any]) -> None:
        self.maximum = float(status["maximumAvailable"])
        self.available = float(status["currentlyAvailable"])
        self.restore_rate = float(status["restoreRate"])
        self.at = time.monotonic()

    def projected(self) -> float:
        assert self.maximum is not None
        return min(self.maximum, self.available + self.restore_rate * (time.monotonic() - self.at))

    def wait_for(self, cost: float) -> float:
        """Seconds until the bucket holds `cost` (0 if it does, or we know nothing yet)."""
        if self.maximum is None or self.restore_rate <= 0:
            return 0.0
        missing = min(cost, self.maximum) - self.projected()
        return 0.0 if missing <= 0 else missing / self.restore_rate + _PACING_MARGIN_SECONDS

    def headroom(self) -> float | None:
        if not self.maximum:
            return None
        return max(0.0, min(1.0, self.available / self.maximum))


class ShopifyConnector(Connector):
    kind = "shopify"
    Settings = ShopifyIntegration
    settings: ShopifyIntegration

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.bucket = CostBucket()
        # Requested cost by query, learnt from responses (same query shape, same cost).
        self.query_costs: dict[str, float] = {}
        self.page_size = self.settings.page_size
        self.requested_version = self.settings.api_version
        self._warned_served: str | None = None
        # Fallback reasons already logged at WARNING (each once per process).
        self._fallbacks_logged: set[str] = set()
        # How the last run read the catalogue: "paged" or "bulk" (tests and logs).
        self.last_mode: str | None = None

    @property
    def path(self) -> str:
        return f"/admin/api/{self.settings.api_version}/graphql.json"

    async def probe(self) -> None:
        data = await self.graphql(PROBE_QUERY, {})
        if not isinstance(data.get("shop"), dict):
            raise RemoteError("bad_response", "probe: response has no shop")

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        throttled = 0
        while True:
            # A query not sent yet is assumed to cost the single-query maximum: waiting a
            # little once is cheaper than a THROTTLED answer.
            cost = self.query_costs.get(query, SINGLE_QUERY_MAX_COST)
            await self.client.sleep(self.bucket.wait_for(cost), "Shopify cost throttle")
            response = await self.client.request_json(
                "POST",
                self.path,
                json_body={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": self.client.secret.reveal() if self.client.secret else ""},
            )
            self._note_version(response.headers.get("X-Shopify-API-Version"))
            body = response.data
            if not isinstance(body, dict):
                raise RemoteError("bad_response", f"POST {self.path}: HTTP {response.status}: expected a JSON object")
            self._read_cost(body)
            requested = _requested_cost(body)
            if requested is not None:
                self.query_costs[query] = requested
            errors = body.get("errors")
            if response.status == 200 and _is_throttled(errors):
                self.client.stats.throttled += 1
                throttled += 1
                if throttled > _MAX_THROTTLED_RETRIES:
                    raise RemoteError("rate_limited", f"POST {self.path}: THROTTLED {throttled} times in a row")
                wait = self.bucket.wait_for(self.query_costs.get(query, 0.0)) or 1.0
                log.debug("integration %s: THROTTLED, waiting %.2fs for the bucket", self.integration, wait)
                await self.client.sleep(wait, "Shopify THROTTLED")
                continue
            if errors:
                raise RemoteError(
                    _error_kind(errors),
                    f"POST {self.path}: HTTP {response.status}: {self.client.scrub(_error_text(errors))}",
                )
            if response.status != 200:
                raise RemoteError("http", f"POST {self.path}: HTTP {response.status}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise RemoteError("bad_response", f"POST {self.path}: response has no data")
            return data

    def _note_version(self, served: str | None) -> None:
        if not served:
            return
        self.served_version = served
        if served != self.requested_version and served != self._warned_served:
            self._warned_served = served
            log.warning(
                "integration %s: Shopify served API version %s, not the configured %s "
                "(a version past its support window is served as the oldest supported one); "
                "set api_version to a supported version",
                self.integration,
                served,
                self.requested_version,
            )

    def _read_cost(self, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") if isinstance(body.get("extensions"), dict) else None
        if not isinstance(cost, dict):
            return
        try:
            self.bucket.update(cost["throttleStatus"])
        except (KeyError, TypeError, ValueError):
            return
        self.client.stats.headroom = self.bucket.headroom()

    async def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        if await self._use_bulk():
            operation = await self._start_bulk()
            url = await self._wait_for_bulk(operation) if operation else None
            if url is not None:
                self.last_mode = "bulk"
                if url:
                    async for rows in self._bulk_rows(url):
                        yield rows
                return
        self.last_mode = "paged"
        async for rows in self._paged():
            yield rows

    # --- bulk ---------------------------------------------------------------------

    async def _use_bulk(self) -> bool:
        mode = self.settings.bulk
        if mode != "auto":
            return mode == "always"
        mapped = max(1, len(self.settings.locations))
        limit = self.settings.bulk_threshold // mapped + 1
        data = await self.graphql(COUNT_QUERY, {"limit": limit})
        try:
            count = int(data["productVariantsCount"]["count"])
        except (KeyError, TypeError, ValueError):
            self._fall_back("count", "the catalogue size is unknown (productVariantsCount)")
            return False
        return count * mapped > self.settings.bulk_threshold

    def _fall_back(self, reason: str, why: str) -> None:
        """Say once per reason that the paged queries serve this run instead of bulk."""
        level = logging.DEBUG if reason in self._fallbacks_logged else logging.WARNING
        self._fallbacks_logged.add(reason)
        log.log(
            level,
            "integration %s: bulk operation not used: %s; reading the catalogue with paged queries",
            self.integration,
            self.client.scrub(why),
        )

    async def _start_bulk(self) -> str | None:
        """The new operation's id, or None (logged) when Shopify will not run one now."""
        data = await self.graphql(BULK_RUN_MUTATION, {"query": BULK_INVENTORY_QUERY})
        try:
            payload = data["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            operation = payload.get("bulkOperation")
        except (KeyError, TypeError, AttributeError):
            raise RemoteError("bad_response", f"POST {self.path}: unexpected bulkOperationRunQuery answer") from None
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = str(first.get("code") or "INVALID")
            message = str(first.get("message") or "")[:200]
            if code == "OPERATION_IN_PROGRESS":
                limit = "five" if (self.served_version or self.requested_version or "") >= "2026-01" else "one"
                self._fall_back(
                    code,
                    f"another bulk query operation is running for this app and shop ({limit} at a time "
                    f"on API version {self.served_version or self.requested_version}): {message}",
                )
            else:
                self._fall_back(code, f"bulkOperationRunQuery refused it: {code}: {message}")
            return None
        if not isinstance(operation, dict) or not operation.get("id"):
            raise RemoteError("bad_response", f"POST {self.path}: bulkOperationRunQuery returned no operation")
        return str(operation["id"])

    async def _wait_for_bulk(self, operation: str) -> str | None:
        """Poll until the operation ends: its result URL ("" for an empty result), or
        None (logged) when it FAILED, was CANCELED or EXPIRED."""
        wait = self.settings.bulk_poll_interval
        while True:
            await self.client.sleep(wait, "Shopify bulk operation")
            wait = min(wait * 1.5, self.settings.bulk_poll_interval * 10)
            data = await self.graphql(BULK_POLL_QUERY, {"id": operation})
            current = data.get("bulkOperation")
            if not isinstance(current, dict):
                raise RemoteError("bad_response", f"POST {self.path}: bulk operation {operation} not found")
            status = current.get("status")
            if status in ("CREATED", "RUNNING", "CANCELING"):
                continue
            if status == "COMPLETED":
                return str(current.get("url") or "")
            detail = f"bulk operation {operation} ended {status}"
            if current.get("errorCode"):
                detail += f" ({current['errorCode']})"
            if current.get("partialDataUrl"):
                # Part of the catalogue compared as if it were all of it would report the
                # rest as missing: the partial file is left unread.
                detail += f"; its partial data ({current.get('objectCount')} objects) is not used"
            self._fall_back(str(status), detail)
            return None

    async def _bulk_rows(self, url: str) -> AsyncIterator[list[RemoteRow]]:
        """Stream the JSONL result: item lines, then their levels' lines (`__parentId`)."""
        rows: list[RemoteRow] = []
        number = 0
        # A signed storage URL outside the shop: no access token goes there.
        async for line in self.client.stream_lines(url, headers=None):
            number += 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "__parentId" not in record:
                    continue  # an inventory item's own line
                sku = (record.get("item") or {}).get("sku")
                rows.extend(_level_rows(sku, [record]))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise RemoteError(
                    "bad_response", f"bulk result line {number}: unexpected content ({_shape(exc)})"
                ) from None
            if len(rows) >= _BULK_BATCH:
                yield rows
                rows = []
        if rows:
            yield rows

    # --- paged --------------------------------------------------------------------

    async def _paged(self) -> AsyncIterator[list[RemoteRow]]:
        after: str | None = None
        variables = {"first": self.page_size, "levels": self.settings.levels_per_item}
        while True:
            try:
                data = await self.graphql(ITEMS_QUERY, {**variables, "after": after})
            except RemoteError as exc:
                if exc.kind != "max_cost" or variables["first"] == 1:
                    raise
                # Shopify's cost rules may price the query above 1000 points: halve the page and go on.
                variables["first"] = self.page_size = max(1, variables["first"] // 2)
                log.warning(
                    "integration %s: query over Shopify's cost limit; page_size lowered to %d",
                    self.integration,
                    self.page_size,
                )
                self.query_costs.pop(ITEMS_QUERY, None)
                continue
            try:
                connection = data["inventoryItems"]
                nodes = connection["nodes"]
                page_info = connection["pageInfo"]
                rows: list[RemoteRow] = []
                for node in nodes:
                    levels = node["inventoryLevels"]
                    rows.extend(_level_rows(node.get("sku"), levels["nodes"]))
                    if levels["pageInfo"]["hasNextPage"]:
                        rows.extend(
                            await self._more_levels(node["id"], node.get("sku"), levels["pageInfo"]["endCursor"])
                        )
                has_next = bool(page_info["hasNextPage"])
                after = page_info.get("endCursor")
            except (KeyError, TypeError, AttributeError) as exc:
                raise RemoteError(
                    "bad_response", f"POST {self.path}: unexpected response shape ({_shape(exc)})"
                ) from None
            yield rows
            if not has_next:
                return
            if not after:
                raise RemoteError("bad_response", f"POST {self.path}: hasNextPage without endCursor")

    async def _more_levels(self, item_id: str, sku: Any, after: str) -> list[RemoteRow]:
        rows: list[RemoteRow] = []
        while True:
            data = await self.graphql(
                ITEM_LEVELS_QUERY, {"id": item_id, "levels": self.settings.levels_per_item, "after": after}
            )
            levels = data["inventoryItem"]["inventoryLevels"]
            rows.extend(_level_rows(sku, levels["nodes"]))
            if not levels["pageInfo"]["hasNextPage"]:
                return rows
            after = levels["pageInfo"]["endCursor"]


def _level_rows(sku: Any, levels: list[dict[str, Any]]) -> list[RemoteRow]:
    rows = []
    for level in levels:
        location = level["location"]["id"]
        quantity = None
        for entry in level.get("quantities") or []:
            if entry.get("name") == "available":
                quantity = entry.get("quantity")
                break
        rows.append(RemoteRow(sku, str(location), quantity))
    return rows


def _is_throttled(errors: Any) -> bool:
    if not isinstance(errors, list):
        return False
    return any(isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)


def _requested_cost(body: dict[str, Any]) -> float | None:
    try:
        return float(body["extensions"]["cost"]["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return None


def _error_kind(errors: Any) -> str:
    if isinstance(errors, list):
        codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
        if "ACCESS_DENIED" in codes:
            return "auth"
        if "MAX_COST_EXCEEDED" in codes:
            return "max_cost"
    return "bad_response"


def _error_text(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = (first.get("extensions") or {}).get("code")
        text = str(first.get("message", "error"))
        text = f"{code}: {text}" if code else text
    else:
        text = str(errors)
    return text[:200]


def _shape(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:120]
