"""Odoo WMS: stock quants over the external JSON-RPC API.

`common.authenticate` gives the user id; `object.execute_kw` runs `stock.quant`
`search_read` on the mapped (integer) location ids, paged with limit/offset and ordered
by product and location, so the several quants of one product at one location (lots,
packages) arrive next to each other and are summed as they stream. Available is
`quantity - reserved_quantity`. `product_id` arrives as [id, "display name"]; the SKU
is the product's `default_code`, read with `product.product` `search_read` once per
page for the products not seen yet in this run.

Odoo answers errors inside an HTTP 200 as a JSON-RPC `error` object; access errors
(`AccessDenied`, `AccessError`) are reported as bad credentials or missing rights.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, model_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import RemoteError
from exporter.integrations.quantities import parse_quantity
from servicekit.config import problem_at

PATH = "/jsonrpc"
QUANT_FIELDS = ["product_id", "location_id", "quantity", "reserved_quantity"]


class OdooIntegration(CommonIntegration):
    kind: Literal["odoo"]
    database: str = Field(min_length=1)
    username: str = Field(min_length=1)
    page_size: int = Field(500, ge=1, le=10000)

    @model_validator(mode="after")
    def _check_location_ids(self) -> OdooIntegration:
        # The quants are searched by stock.location id, an integer.
        for remote in self.locations:
            if not remote.isdigit():
                raise problem_at(("locations", remote), "Odoo location ids are integers (stock.location id)")
        return self


class OdooConnector(Connector):
    kind = "odoo"
    Settings = OdooIntegration
    settings: OdooIntegration

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._ids = itertools.count(1)
        self.uid: int | None = None

    @property
    def _password(self) -> str:
        return self.client.secret.reveal() if self.client.secret else ""

    async def rpc(self, service: str, method: str, args: list[Any]) -> Any:
        request_id = next(self._ids)
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": request_id,
            "params": {"service": service, "method": method, "args": args},
        }
        response = await self.client.request_json("POST", PATH, json_body=body)
        data = response.data
        what = f"POST {PATH} {service}.{method}"
        if not isinstance(data, dict):
            raise RemoteError("bad_response", f"{what}: HTTP {response.status}: expected a JSON-RPC object")
        error = data.get("error")
        if error is not None:
            raise RemoteError(*self._error(what, error))
        if response.status != 200 or "result" not in data:
            raise RemoteError("bad_response", f"{what}: HTTP {response.status}: no result")
        return data["result"]

    def _error(self, what: str, error: Any) -> tuple[str, str]:
        details = error.get("data") if isinstance(error, dict) else None
        name = str((details or {}).get("name", "")) if isinstance(details, dict) else ""
        message = (details or {}).get("message") if isinstance(details, dict) else None
        message = str(message or (error.get("message") if isinstance(error, dict) else error))
        kind = "auth" if name.endswith(("AccessDenied", "AccessError")) else "bad_response"
        return kind, f"{what}: {name or 'error'}: {self.client.scrub(message)[:200]}"

    async def probe(self) -> None:
        uid = await self.rpc(
            "common", "authenticate", [self.settings.database, self.settings.username, self._password, {}]
        )
        if isinstance(uid, bool) or not isinstance(uid, int):
            self.uid = None
            raise RemoteError(
                "auth",
                f"POST {PATH} common.authenticate: login refused for user "
                f"{self.settings.username!r} on database {self.settings.database!r}",
            )
        self.uid = uid

    async def execute_kw(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return await self.rpc(
            "object", "execute_kw", [self.settings.database, self.uid, self._password, model, method, args, kwargs]
        )

    async def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        location_ids = [int(loc) for loc in locations]
        domain = [["location_id", "in", location_ids]]
        skus: dict[int, Any] = {}
        pending: list[Any] | None = None  # [product_id, location_id, available or None]
        offset = 0
        while True:
            quants = await self.execute_kw(
                "stock.quant",
                "search_read",
                [domain],
                {
                    "fields": QUANT_FIELDS,
                    "limit": self.settings.page_size,
                    "offset": offset,
                    "order": "product_id, location_id, id",
                },
            )
            if not isinstance(quants, list) or not all(isinstance(q, dict) for q in quants):
                raise RemoteError(
                    "bad_response", f"POST {PATH} stock.quant.search_read: result is not a list of records"
                )
            await self._read_skus([_many2one_id(q.get("product_id")) for q in quants], skus)
            rows: list[RemoteRow] = []
            for quant in quants:
                product, location = _many2one_id(quant.get("product_id")), _many2one_id(quant.get("location_id"))
                available = _available(quant)
                if pending is not None and pending[0] == product and pending[1] == location:
                    pending[2] = None if pending[2] is None or available is None else pending[2] + available
                    continue
                if pending is not None:
                    rows.append(_row(pending, skus))
                pending = [product, location, available]
            if not quants:
                # An empty page ends the listing (a shorter one may just be a server's cap).
                if pending is not None:
                    rows.append(_row(pending, skus))
                yield rows
                return
            yield rows
            offset += len(quants)

    async def _read_skus(self, product_ids: list[int | None], skus: dict[int, Any]) -> None:
        missing = sorted({p for p in product_ids if p is not None and p not in skus})
        if not missing:
            return
        records = await self.execute_kw(
            "product.product",
            "search_read",
            [[["id", "in", missing]]],
            {
                "fields": ["default_code"],
                "context": {"active_test": False},
            },
        )
        if not isinstance(records, list):
            raise RemoteError("bad_response", f"POST {PATH} product.product.search_read: result is not a list")
        for record in records:
            if isinstance(record, dict) and isinstance(record.get("id"), int):
                code = record.get("default_code")
                skus[record["id"]] = code if code not in (False, "") else None
        for product in missing:
            skus.setdefault(product, None)


def _many2one_id(value: Any) -> int | None:
    # Odoo sends many2one fields as [id, "display name"], or False when empty.
    if isinstance(value, list) and value and isinstance(value[0], int) and not isinstance(value[0], bool):
        return value[0]
    return None


def _available(quant: dict[str, Any]) -> float | None:
    quantity = parse_quantity(quant.get("quantity"))
    reserved = quant.get("reserved_quantity", 0)
    reserved = 0.0 if reserved is False else parse_quantity(reserved)
    if quantity is None or reserved is None:
        return None
    return quantity - reserved


def _row(group: list[Any], skus: dict[int, Any]) -> RemoteRow:
    product, location, available = group
    sku = skus.get(product) if product is not None else None
    # A non-numeric quantity is passed on as text so the collector counts it as bad_quantity.
    return RemoteRow(sku, str(location), available if available is not None else "invalid")
