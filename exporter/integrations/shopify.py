"""Shopify: stock from the GraphQL Admin API (REST is legacy since 2024-10).

`inventoryItems` (cursor paging) with each item's `inventoryLevels` and the
`available` quantity. Shopify limits by calculated query cost with a leaky bucket per
app and store; every response reports it in `extensions.cost.throttleStatus`. The
connector paces itself from that report: before each request it waits until the
bucket, refilled at `restoreRate`, covers the query's requested cost, so a long
catalogue fetch runs at the restore rate without THROTTLED errors. If one happens
anyway (a fresh process does not know the bucket), it waits for the restore and retries.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, field_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import RemoteError

log = logging.getLogger("exporter.integrations.shopify")

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

# Shopify refuses any single query priced above this many points.
SINGLE_QUERY_MAX_COST = 1000.0
# A run gives up after this many THROTTLED answers in a row (each waited out).
_MAX_THROTTLED_RETRIES = 5
# Margin on the projected bucket: the server's clock ran a little ahead of our reading.
_PACING_MARGIN_SECONDS = 0.05


class ShopifyIntegration(CommonIntegration):
    kind: Literal["shopify"]
    api_version: str = "2025-01"
    # 50 items x 5 levels stays under Shopify's 1000-point single-query limit; an item
    # stocked at more locations has the rest fetched with inventoryItem(id:).
    page_size: int = Field(50, ge=1, le=250)
    levels_per_item: int = Field(5, ge=1, le=250)

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, version: str) -> str:
        if not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", version):
            raise ValueError("expected a Shopify API version such as 2025-01 (quarterly) or unstable")
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
