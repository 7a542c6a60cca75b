"""Odoo WMS: stock quants over the External JSON-2 API (Odoo 19+) or JSON-RPC (16 to 18).

Protocol (`protocol`): `json2` posts `/json/2/<model>/<method>` with the API key as
`Authorization: bearer` and the database in `X-Odoo-Database`; errors come back with an
HTTP 4xx/5xx status and an error object {name, message, arguments, context, debug}.
`jsonrpc` posts `/jsonrpc` (`common.authenticate` for the user id, then
`object.execute_kw`); errors come back inside an HTTP 200 as a JSON-RPC `error`.
`auto` (the default) asks `GET /web/version` on every probe: Odoo 19 and later answer
{"version_info": [19, 0, ...], "version": "19.0"} and get JSON-2; an older server
answers 404 (the route is new in 19) and gets JSON-RPC, whose `common.version` then
gives the server's version.

Locations: Odoo's on-hand of a location includes its child locations
(`_get_domain_locations_new` in addons/stock/models/product.py matches
`location_id.parent_path =like <parent_path>%`; only the `strict` context uses `in`).
The quants are therefore searched with `location_id child_of <mapped ids>` and each
quant's location is attributed to its nearest mapped ancestor, found in the location's
`parent_path` ("1/7/8/31/"), read once per run for every location seen. When a mapped
location is the child of another mapped one, its quants count for it alone, never for
both (the parent's figure is then its on-hand minus that child's).
`include_child_locations: false` restores `location_id in <mapped ids>` (Odoo's strict).

Paging is keyset: `id > last id`, order `id`, `limit page_size`, until an empty page.
A quant created during the run has a larger id and is read once; one deleted is not
read; none is skipped or read twice, which offset paging over live data cannot promise.
Quants of one product at one location (lots, packages, child locations) do not arrive
together in id order, so they are summed in memory and listed once the last page is in.
Available is `quantity - reserved_quantity`; the SKU is the product's `default_code`,
read with `product.product` `search_read` once per page for the products not seen yet.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from typing import Any, Literal

from pydantic import Field, model_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import RemoteError
from exporter.integrations.quantities import parse_quantity
from servicekit.config import problem_at

RPC_PATH = "/jsonrpc"
JSON2_PATH = "/json/2"
VERSION_PATH = "/web/version"
QUANT_FIELDS = ["id", "product_id", "location_id", "quantity", "reserved_quantity"]
# The first Odoo version with the External JSON-2 API (and /web/version).
JSON2_SINCE = 19
# Rows handed to the collector per yield once the quants are summed.
_ROWS_PER_YIELD = 5000


class OdooIntegration(CommonIntegration):
    kind: Literal["odoo"]
    # Sent as X-Odoo-Database (JSON-2) or as the execute_kw database (JSON-RPC).
    database: str = Field(min_length=1)
    # The login, for JSON-RPC only (JSON-2 knows the user from the API key).
    username: str | None = Field(None, min_length=1)
    protocol: Literal["auto", "json2", "jsonrpc"] = "auto"
    page_size: int = Field(500, ge=1, le=50000)
    # Count child locations as Odoo's on-hand does; false: only quants directly in the location.
    include_child_locations: bool = True

    @model_validator(mode="after")
    def _check_odoo(self) -> OdooIntegration:
        # The quants are searched by stock.location id, an integer.
        for remote in self.locations:
            if not remote.isdigit():
                raise problem_at(("locations", remote), "Odoo location ids are integers (stock.location id)")
        if self.protocol != "json2" and self.username is None:
            raise problem_at(
                "username",
                f"protocol {self.protocol} needs the login for JSON-RPC (Odoo 16 to 18); "
                "set protocol: json2 for Odoo 19 and later without one",
            )
        return self


class OdooConnector(Connector):
    kind = "odoo"
    Settings = OdooIntegration
    settings: OdooIntegration

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._ids = itertools.count(1)
        self.uid: int | None = None
        # The protocol of this run: json2 or jsonrpc (auto is decided by the probe).
        self.protocol: str | None = None if self.settings.protocol == "auto" else self.settings.protocol
        self.requested_version = self.protocol

    @property
    def _secret(self) -> str:
        return self.client.secret.reveal() if self.client.secret else ""

    # --- protocol choice ------------------------------------------------------------
    async def probe(self) -> None:
        if self.settings.protocol == "auto":
            major = await self._web_version()
            self.protocol = "json2" if major is not None and major >= JSON2_SINCE else "jsonrpc"
            self.requested_version = self.protocol
        else:
            with suppress(RemoteError):  # only for served_version: the calls below say what is wrong
                await self._web_version()
        if self.protocol == "json2":
            # The current user's context: proves the API key and the database (the docs' whoami).
            await self.json2("res.users", "context_get", {})
            return
        if self.served_version is None:
            with suppress(RemoteError):
                await self._rpc_version()
        await self._authenticate()

    async def _web_version(self) -> int | None:
        """The server's major version from GET /web/version; None when it has no such route (before 19)."""
        try:
            response = await self.client.request_json("GET", VERSION_PATH)
        except RemoteError as exc:
            # Before 19 the route does not exist: Odoo's 404 is an HTML page, not JSON.
            if exc.kind == "http" and str(exc).endswith("HTTP 404"):
                self.served_version = None
                return None
            raise
        data = response.data
        if response.status == 404:
            self.served_version = None
            return None
        if response.status != 200 or not isinstance(data, dict):
            raise RemoteError("bad_response", f"GET {VERSION_PATH}: HTTP {response.status}: expected a version object")
        info, version = data.get("version_info"), data.get("version")
        major = _major(info[0]) if isinstance(info, list) and info else None
        if major is None:
            raise RemoteError("bad_response", f"GET {VERSION_PATH}: no version_info in the answer")
        self.served_version = str(version) if version is not None else str(major)
        return major

    async def _rpc_version(self) -> None:
        info = await self.rpc("common", "version", [])
        if isinstance(info, dict) and info.get("server_version") is not None:
            self.served_version = str(info["server_version"])

    # --- JSON-2 -----------------------------------------------------------------------
    async def json2(self, model: str, method: str, body: dict[str, Any]) -> Any:
        path = f"{JSON2_PATH}/{model}/{method}"
        headers = {"Authorization": f"bearer {self._secret}", "X-Odoo-Database": self.settings.database}
        response = await self.client.request_json("POST", path, json_body=body, headers=headers)
        if response.status == 200:
            return response.data
        error = response.data if isinstance(response.data, dict) else {}
        name = str(error.get("name") or "error")
        message = self.client.scrub(str(error.get("message") or response.data or ""))[:200]
        raise RemoteError("http", f"POST {path}: HTTP {response.status}: {name}: {message}")

    # --- JSON-RPC ---------------------------------------------------------------------
    async def rpc(self, service: str, method: str, args: list[Any]) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._ids),
            "params": {"service": service, "method": method, "args": args},
        }
        response = await self.client.request_json("POST", RPC_PATH, json_body=body)
        data = response.data
        what = f"POST {RPC_PATH} {service}.{method}"
        if not isinstance(data, dict):
            raise RemoteError("bad_response", f"{what}: HTTP {response.status}: expected a JSON-RPC object")
        error = data.get("error")
        if error is not None:
            raise RemoteError(*self._rpc_error(what, error))
        if response.status != 200 or "result" not in data:
            raise RemoteError("bad_response", f"{what}: HTTP {response.status}: no result")
        return data["result"]

    def _rpc_error(self, what: str, error: Any) -> tuple[str, str]:
        details = error.get("data") if isinstance(error, dict) else None
        name = str((details or {}).get("name", "")) if isinstance(details, dict) else ""
        message = (details or {}).get("message") if isinstance(details, dict) else None
        message = str(message or (error.get("message") if isinstance(error, dict) else error))
        kind = "auth" if name.endswith(("AccessDenied", "AccessError")) else "bad_response"
        return kind, f"{what}: {name or 'error'}: {self.client.scrub(message)[:200]}"

    async def _authenticate(self) -> None:
        uid = await self.rpc(
            "common", "authenticate", [self.settings.database, self.settings.username, self._secret, {}]
        )
        if isinstance(uid, bool) or not isinstance(uid, int):
            self.uid = None
            raise RemoteError(
                "auth",
                f"POST {RPC_PATH} common.authenticate: login refused for user "
                f"{self.settings.username!r} on database {self.settings.database!r}",
            )
        self.uid = uid

    # --- both -------------------------------------------------------------------------
    async def search_read(
        self, model: str, domain: list[Any], fields: list[str], **options: Any
    ) -> list[dict[str, Any]]:
        """`model.search_read` over this run's protocol; a list of records or RemoteError."""
        options.setdefault("context", {"active_test": False})
        if self.protocol == "json2":
            records = await self.json2(model, "search_read", {"domain": domain, "fields": fields, **options})
            where = f"POST {JSON2_PATH}/{model}/search_read"
        else:
            records = await self.rpc(
                "object",
                "execute_kw",
                [
                    self.settings.database,
                    self.uid,
                    self._secret,
                    model,
                    "search_read",
                    [domain],
                    {"fields": fields, **options},
                ],
            )
            where = f"POST {RPC_PATH} {model}.search_read"
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RemoteError("bad_response", f"{where}: result is not a list of records")
        return records

    async def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        mapped = [int(loc) for loc in locations]
        operator = "child_of" if self.settings.include_child_locations else "in"
        attribution = _Attribution(mapped)
        await self._read_paths(mapped, attribution)
        skus: dict[int, Any] = {}
        # (product id, mapped location id) -> available summed over its quants (None: a bad quantity)
        totals: dict[tuple[int | None, int | None], float | None] = {}
        last_id = 0
        while True:
            domain: list[Any] = [["location_id", operator, mapped]]
            if last_id:
                domain.append(["id", ">", last_id])
            quants = await self.search_read(
                "stock.quant", domain, QUANT_FIELDS, limit=self.settings.page_size, order="id"
            )
            if not quants:
                break
            for quant in quants:
                quant_id = quant.get("id")
                if not isinstance(quant_id, int) or isinstance(quant_id, bool) or quant_id <= last_id:
                    raise RemoteError(
                        "bad_response", f"stock.quant.search_read: id {quant_id!r} after {last_id} under order id"
                    )
                last_id = quant_id
            await self._read_skus([_many2one_id(q.get("product_id")) for q in quants], skus)
            await self._read_paths([_many2one_id(q.get("location_id")) for q in quants], attribution)
            for quant in quants:
                product = _many2one_id(quant.get("product_id"))
                location = attribution.owner(_many2one_id(quant.get("location_id")))
                available = _available(quant)
                key = (product, location)
                if key in totals:
                    previous = totals[key]
                    totals[key] = None if previous is None or available is None else previous + available
                else:
                    totals[key] = available
        rows = [_row(product, location, available, skus) for (product, location), available in totals.items()]
        for start in range(0, len(rows), _ROWS_PER_YIELD):
            yield rows[start : start + _ROWS_PER_YIELD]

    async def _read_skus(self, product_ids: list[int | None], skus: dict[int, Any]) -> None:
        missing = sorted({p for p in product_ids if p is not None and p not in skus})
        if not missing:
            return
        records = await self.search_read("product.product", [["id", "in", missing]], ["default_code"])
        for record in records:
            if isinstance(record.get("id"), int):
                code = record.get("default_code")
                skus[record["id"]] = code if code not in (False, "") else None
        for product in missing:
            skus.setdefault(product, None)

    async def _read_paths(self, location_ids: Sequence[int | None], attribution: _Attribution) -> None:
        missing = sorted({loc for loc in location_ids if loc is not None and loc not in attribution.paths})
        if not missing:
            return
        records = await self.search_read("stock.location", [["id", "in", missing]], ["parent_path"])
        for record in records:
            if isinstance(record.get("id"), int) and isinstance(record.get("parent_path"), str):
                attribution.paths[record["id"]] = record["parent_path"]
        for location in missing:
            attribution.paths.setdefault(location, None)


class _Attribution:
    """Which mapped location a quant's location counts for: its nearest mapped ancestor (or itself)."""

    def __init__(self, mapped: list[int]):
        self.mapped = set(mapped)
        self.paths: dict[int, str | None] = {}  # stock.location id -> parent_path ("1/7/8/")
        self._owners: dict[int, int | None] = {}

    def owner(self, location: int | None) -> int | None:
        if location is None:
            return None
        if location in self._owners:
            return self._owners[location]
        owner: int | None = location if location in self.mapped else None
        path = self.paths.get(location)
        if owner is None and path:
            ancestors = [int(part) for part in path.strip("/").split("/") if part.isdigit()]
            owner = next((a for a in reversed(ancestors) if a in self.mapped), None)
        # Not under any mapped location: pass its own id on (the collector counts it unmapped).
        owner = location if owner is None else owner
        self._owners[location] = owner
        return owner


def _major(value: Any) -> int | None:
    # 19, or "saas~18" on Odoo Online's intermediate releases.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        digits = value.rsplit("~", 1)[-1]
        return int(digits) if digits.isdigit() else None
    return None


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


def _row(product: int | None, location: int | None, available: float | None, skus: dict[int, Any]) -> RemoteRow:
    sku = skus.get(product) if product is not None else None
    # A non-numeric quantity is passed on as text so the collector counts it as bad_quantity.
    return RemoteRow(sku, str(location), available if available is not None else "invalid")
