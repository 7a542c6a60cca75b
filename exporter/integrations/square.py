"""Square POS: inventory counts through the Inventory API.

`POST /v2/inventory/counts/batch-retrieve` filtered to the mapped location ids and the
IN_STOCK state (Square's sellable, on-hand quantity), cursor paged. Counts are keyed by
catalog object id (the item variation), and quantities are decimal strings. The SKU
comes from the variation's `item_variation_data.sku`, looked up once per counts page
with `POST /v2/catalog/batch-retrieve` (`sku_from: catalog`), or the variation id is
used as the SKU when the database stores Square ids (`sku_from: catalog_object_id`).

Every request pins `Square-Version` (`square_version`, default the version of the Square
OpenAPI definition the tests and the fake are bound to, tests/vendor/square/); Square
answers with the version it served, exported as inventory_integration_api_version_info.
A 429 RATE_LIMITED carries no Retry-After: HttpClient retries it with exponential backoff
and full jitter, as Square asks.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, field_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import HttpClient, JsonResponse, RemoteError

COUNTS_PATH = "/v2/inventory/counts/batch-retrieve"
CATALOG_PATH = "/v2/catalog/batch-retrieve"
LOCATIONS_PATH = "/v2/locations"


class SquareIntegration(CommonIntegration):
    kind: Literal["square"]
    square_version: str = "2025-01-23"
    page_size: int = Field(100, ge=1, le=1000)
    sku_from: Literal["catalog", "catalog_object_id"] = "catalog"

    @field_validator("square_version")
    @classmethod
    def _check_version(cls, version: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
            raise ValueError("expected a Square-Version date such as 2025-01-23")
        return version


class SquareConnector(Connector):
    kind = "square"
    Settings = SquareIntegration
    settings: SquareIntegration

    def __init__(self, integration_name: str, settings: CommonIntegration, client: HttpClient):
        super().__init__(integration_name, settings, client)
        self.requested_version = self.settings.square_version

    def _headers(self) -> dict[str, str]:
        token = self.client.secret.reveal() if self.client.secret else ""
        return {"Authorization": f"Bearer {token}", "Square-Version": self.settings.square_version}

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.client.request_json(method, path, json_body=body, headers=self._headers())
        data = response.data
        if not isinstance(data, dict):
            raise RemoteError("bad_response", f"{method} {path}: HTTP {response.status}: expected a JSON object")
        if response.status != 200 or data.get("errors"):
            raise RemoteError(*self._error(method, path, response))
        served = response.headers.get("Square-Version")
        if served:
            self.served_version = served
        return data

    def _error(self, method: str, path: str, response: JsonResponse) -> tuple[str, str]:
        errors = response.data.get("errors") if isinstance(response.data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        category, code = first.get("category", "?"), first.get("code", "?")
        detail = self.client.scrub(str(first.get("detail", "")))[:200]
        kind = "auth" if category == "AUTHENTICATION_ERROR" else "bad_response"
        return kind, f"{method} {path}: HTTP {response.status}: {category}/{code} {detail}".rstrip()

    async def probe(self) -> None:
        data = await self._call("GET", LOCATIONS_PATH)
        if not isinstance(data.get("locations", []), list):
            raise RemoteError("bad_response", f"GET {LOCATIONS_PATH}: locations is not a list")

    async def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"location_ids": locations, "states": ["IN_STOCK"], "limit": self.settings.page_size}
            if cursor:
                body["cursor"] = cursor
            data = await self._call("POST", COUNTS_PATH, body)
            counts = data.get("counts", [])
            if not isinstance(counts, list) or not all(isinstance(c, dict) for c in counts):
                raise RemoteError("bad_response", f"POST {COUNTS_PATH}: counts is not a list of objects")
            skus = await self._skus([c.get("catalog_object_id") for c in counts])
            rows = []
            for count in counts:
                if count.get("state", "IN_STOCK") != "IN_STOCK":
                    continue
                object_id = count.get("catalog_object_id")
                rows.append(RemoteRow(skus.get(object_id), str(count.get("location_id")), count.get("quantity")))
            yield rows
            cursor = data.get("cursor")
            if not cursor:
                return

    async def _skus(self, object_ids: list[Any]) -> dict[Any, Any]:
        ids = sorted({i for i in object_ids if isinstance(i, str) and i})
        if self.settings.sku_from == "catalog_object_id":
            return {i: i for i in ids}
        if not ids:
            return {}
        data = await self._call("POST", CATALOG_PATH, {"object_ids": ids, "include_related_objects": False})
        skus: dict[Any, Any] = {}
        for obj in data.get("objects", []) or []:
            if isinstance(obj, dict) and obj.get("type") == "ITEM_VARIATION":
                variation = obj.get("item_variation_data") or {}
                skus[obj.get("id")] = variation.get("sku") if isinstance(variation, dict) else None
        return skus
