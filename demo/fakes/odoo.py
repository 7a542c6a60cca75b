"""A fake Odoo: the External JSON-2 API (Odoo 19+), the older JSON-RPC API and /web/version.

    python -m demo.fakes.odoo --port 8183 [--db demo.db] [--location-map 8=wh-main]
    (ODOO_FAKE_SERVER_VERSION=17.0 makes it an Odoo 17: no /web/version, no /json/2)

Bound to Odoo's published definitions, vendored in tests/vendor/odoo/ (see its README;
tests/exporter/integrations/test_odoo_fake.py checks this module against them):

- JSON-2 (`external_api.rst` of Odoo 19, `addons/web/controllers/json2.py`): `POST
  /json/2/<model>/<method>` with `Authorization: bearer <API key>` and an optional
  `X-Odoo-Database`; the body holds the method's named arguments plus `ids` and
  `context`. Success is 200 with the result; an error is a 4xx/5xx status with
  {name, message, arguments, context, debug}: 401 Unauthorized "Invalid apikey", 404 for
  an unknown model or method, 405 for another HTTP method, 400 for a body that is not a
  JSON object, 500 for what the ORM raises (an invalid field or domain: builtins.ValueError).
- `GET /web/version` -> {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"};
  the route is new in 19, so an older server answers 404.
- JSON-RPC (`external_rpc_api.rst`): `POST /jsonrpc` `common.version`, `common.login`,
  `common.authenticate`, `object.execute_kw`; errors inside an HTTP 200 as a JSON-RPC
  `error` object. Served by every version (deprecated in 19, removed in 22).

Models: `stock.quant`, `stock.location`, `product.product` (`search_read` only: domain,
fields, offset, limit, order) and `res.users` (`context_get`). Fields and domains are
checked against the stored fields of Odoo's declarations (tests/vendor/odoo/fields.json),
so a misspelt field is refused as Odoo refuses it. Domains: Odoo's prefix notation
('&', '|', '!') over leaves with =, !=, in, not in, <, <=, >, >=, child_of (through
stock.location's parent_path, as Odoo's _parent_store does). Other methods (search,
read, ...) are answered as not existing: the fake does not implement them.

Stock: a remote location "8" is stock.location 8 under WH (7); "8/40" is location 40,
a child of 8. One SKU-location in three is split into two quants, the second in the
child location "Shelf 1" (id 100000 + the location's id), as a warehouse with lots and
bins has: a client must sum them and count child locations as Odoo's on-hand does.
The database name is "inventory" and the login "exporter"; the API key / password is the
fake's token.
"""

from __future__ import annotations

import json
import os
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"8": "wh-main"}
DEFAULT_TOKEN = "demo-odoo-api-key"
DATABASE = "inventory"
LOGIN = "exporter"
UID = 2
DEFAULT_SERVER_VERSION = "19.0"
# The demo's exporter entry beyond the common keys (read by demo/run.py).
INTEGRATION_SETTINGS: dict[str, Any] = {"database": DATABASE, "username": LOGIN, "protocol": "auto"}

# Stored fields of Odoo 18.0's declarations (tests/vendor/odoo/fields.json) plus the
# magic `id` and the fields every model computes for reading (`display_name`).
QUANT_STORED = {
    "product_id",
    "company_id",
    "location_id",
    "lot_id",
    "package_id",
    "owner_id",
    "quantity",
    "reserved_quantity",
    "in_date",
}
LOCATION_STORED = {
    "name",
    "complete_name",
    "active",
    "usage",
    "location_id",
    "parent_path",
    "company_id",
    "scrap_location",
    "barcode",
    "cyclic_inventory_frequency",
    "warehouse_id",
}
PRODUCT_STORED = {
    "default_code",
    "active",
    "product_tmpl_id",
    "barcode",
    "combination_indices",
    "standard_price",
}
MAGIC = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}
# Readable (not searchable) computed fields the fake also serves.
QUANT_COMPUTED = {"available_quantity", "inventory_quantity"}
FIELDS = {
    "stock.quant": QUANT_STORED | MAGIC | QUANT_COMPUTED,
    "stock.location": LOCATION_STORED | MAGIC,
    "product.product": PRODUCT_STORED | MAGIC,
}
SEARCHABLE = {
    "stock.quant": QUANT_STORED | {"id"},
    "stock.location": LOCATION_STORED | {"id"},
    "product.product": PRODUCT_STORED | {"id"},
}
MANY2ONE = {
    "stock.quant": {"product_id": "product.product", "location_id": "stock.location", "company_id": "res.company"},
    "stock.location": {"location_id": "stock.location", "company_id": "res.company"},
    "product.product": {},
}
SEARCH_READ_PARAMS = {"domain", "fields", "offset", "limit", "order", "load"}
OPERATORS = {"=", "!=", "in", "not in", "<", "<=", ">", ">=", "child_of"}
ROOT_VIEW, WAREHOUSE_VIEW = 1, 7
CHILD_OFFSET = 100000


class OdooError(Exception):
    """What Odoo raises: the exception's qualified name, message and JSON-2 status."""

    def __init__(self, name: str, message: str, status: int = 500):
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


@dataclass
class Settings:
    server_version: str = DEFAULT_SERVER_VERSION
    # Called after each stock.quant page is served (tests change the stock between pages).
    on_quant_page: Callable[[_Catalogue], None] | None = None

    @property
    def major(self) -> int:
        head = self.server_version.split(".", 1)[0].rsplit("~", 1)[-1]
        return int(head) if head.isdigit() else 0


SETTINGS_KEY = web.AppKey("odoo_settings", Settings)


class _Catalogue:
    """Products, locations and quants derived from the remote stock."""

    def __init__(self, state: FakeState):
        rows = state.rows()
        self.product_ids: dict[str, int] = {}
        self.products: dict[int, dict[str, Any]] = {99: {"id": 99, "default_code": False, "name": "No reference"}}
        self.locations: dict[int, dict[str, Any]] = {}
        self._add_location(ROOT_VIEW, None, "Physical Locations", "view")
        self._add_location(WAREHOUSE_VIEW, ROOT_VIEW, "WH", "view")
        for sku in sorted({row.sku for row in rows if isinstance(row.sku, str)}):
            self.product(sku)
        self.quants: list[dict[str, Any]] = []
        self.next_id = 1000
        pending = []
        for row in rows:
            location = self.location_of(row.location)
            sku_name = row.sku if isinstance(row.sku, str) else ""
            pid = self.product(row.sku) if isinstance(row.sku, str) else 99
            split = isinstance(row.on_hand, (int, float)) and row.on_hand > 1 and zlib.crc32(sku_name.encode()) % 3 == 0
            if split:
                first = row.on_hand // 2
                shelf = self._shelf(location)
                pending.append((pid, location, first, row.reserved))
                pending.append((pid, shelf, row.on_hand - first, 0))
            else:
                pending.append((pid, location, row.on_hand, row.reserved))
        # Ids in product-location order, as quants created location by location would have.
        for pid, location, qty, reserved in sorted(pending, key=lambda q: (q[0], q[1])):
            self.add_quant(pid, location, qty, reserved)

    # --- building -------------------------------------------------------------------
    def _add_location(self, lid: int, parent: int | None, name: str, usage: str = "internal") -> None:
        if lid in self.locations:
            return
        up = self.locations.get(parent) if parent is not None else None
        self.locations[lid] = {
            "id": lid,
            "name": name,
            "complete_name": f"{up['complete_name']}/{name}" if up else name,
            "usage": usage,
            "active": True,
            "location_id": parent,
            "parent_path": f"{up['parent_path'] if up else ''}{lid}/",
            "company_id": 1,
        }

    def location_of(self, text: str) -> int:
        """The stock.location of a remote location "8" or "8/40" (40 a child of 8); 0 if not an id."""
        parent = WAREHOUSE_VIEW
        lid = 0
        for part in str(text).split("/"):
            if not part.isdigit():
                return 0
            lid = int(part)
            self._add_location(lid, parent, part if parent != WAREHOUSE_VIEW else f"Stock {part}")
            parent = lid
        return lid

    def _shelf(self, location: int) -> int:
        shelf = CHILD_OFFSET + location
        self._add_location(shelf, location, "Shelf 1")
        return shelf

    def product(self, sku: str) -> int:
        if sku not in self.product_ids:
            pid = 100 + len(self.product_ids)
            self.product_ids[sku] = pid
            self.products[pid] = {"id": pid, "default_code": sku, "name": f"Product {sku}"}
        return self.product_ids[sku]

    def add_quant(self, product: int, location: int, quantity: Any, reserved: Any = 0) -> int:
        """A new quant (a new id, larger than every other, as PostgreSQL's sequence gives)."""
        self.next_id += 1
        self.quants.append(
            {
                "id": self.next_id,
                "product_id": product,
                "location_id": location,
                "quantity": float(quantity) if isinstance(quantity, (int, float)) else quantity,
                "reserved_quantity": float(reserved) if isinstance(reserved, (int, float)) else reserved,
                "company_id": 1,
            }
        )
        return self.next_id

    def remove_quant(self, quant_id: int) -> None:
        self.quants = [q for q in self.quants if q["id"] != quant_id]

    # --- reading --------------------------------------------------------------------
    def records(self, model: str) -> list[dict[str, Any]]:
        if model == "stock.quant":
            return self.quants
        if model == "stock.location":
            return list(self.locations.values())
        return list(self.products.values())

    def display_name(self, model: str, rid: int) -> str:
        if model == "stock.location":
            return str(self.locations.get(rid, {}).get("complete_name", rid))
        if model == "product.product":
            code = self.products.get(rid, {}).get("default_code")
            name = self.products.get(rid, {}).get("name", "")
            return f"[{code}] {name}" if code else str(name)
        return f"{model},{rid}"

    def read(self, model: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": record["id"]}
        comodels = MANY2ONE.get(model, {})
        for name in fields:
            if name == "display_name":
                out[name] = self.display_name(model, record["id"])
            elif name in comodels:
                value = record.get(name)
                out[name] = [value, self.display_name(comodels[name], value)] if value else False
            elif name == "available_quantity" and model == "stock.quant":
                out[name] = _number(record["quantity"]) - _number(record["reserved_quantity"])
            elif name in record:
                out[name] = record[name]
            else:
                out[name] = False
        return out

    def children(self, ids: list[Any]) -> set[int]:
        """The locations `child_of` ids: those whose parent_path starts with one of theirs."""
        prefixes = [self.locations[i]["parent_path"] for i in ids if i in self.locations]
        return {lid for lid, loc in self.locations.items() if any(loc["parent_path"].startswith(p) for p in prefixes)}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


# --- domains -----------------------------------------------------------------------------
def _compile(model: str, domain: Any, catalogue: _Catalogue) -> Callable[[dict[str, Any]], bool]:
    """A predicate for an Odoo domain, or OdooError as Odoo raises for a bad one."""
    if not isinstance(domain, list):
        raise OdooError("builtins.ValueError", f"Invalid domain: {domain!r}")
    items = list(domain)
    pos = 0

    def term() -> Callable[[dict[str, Any]], bool]:
        nonlocal pos
        if pos >= len(items):
            raise OdooError("builtins.ValueError", f"Invalid domain: {domain!r}")
        item = items[pos]
        pos += 1
        if item == "!":
            inner = term()
            return lambda r: not inner(r)
        if item in ("&", "|"):
            left, right = term(), term()
            if item == "&":
                return lambda r: left(r) and right(r)
            return lambda r: left(r) or right(r)
        return _leaf(model, item, catalogue)

    predicates = []
    while pos < len(items):
        predicates.append(term())
    return lambda r: all(p(r) for p in predicates)


def _leaf(model: str, leaf: Any, catalogue: _Catalogue) -> Callable[[dict[str, Any]], bool]:
    if not (isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str)):
        raise OdooError("builtins.ValueError", f"Invalid leaf {leaf!r}")
    name, operator, value = leaf
    if name not in SEARCHABLE[model]:
        raise OdooError("builtins.ValueError", f"Invalid field {model}.{name} in leaf {tuple(leaf)!r}")
    if operator not in OPERATORS:
        raise OdooError("builtins.ValueError", f"Invalid leaf {tuple(leaf)!r}")
    if operator == "child_of":
        comodel = "stock.location" if (model, name) in (("stock.quant", "location_id"),) else None
        if model == "stock.location" and name == "id":
            comodel = "stock.location"
        if comodel is None:
            raise OdooError("builtins.ValueError", f"Invalid leaf {tuple(leaf)!r}: child_of needs a parent_store model")
        allowed = catalogue.children(value if isinstance(value, list) else [value])
        return lambda r: r.get(name) in allowed
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise OdooError("builtins.ValueError", f"Invalid leaf {tuple(leaf)!r}: expected a list")
        values = set(value)
        if operator == "in":
            return lambda r: r.get(name) in values
        return lambda r: r.get(name) not in values
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a is not None and a < b,
        "<=": lambda a, b: a is not None and a <= b,
        ">": lambda a, b: a is not None and a > b,
        ">=": lambda a, b: a is not None and a >= b,
    }
    check = compare[operator]
    return lambda r: check(r.get(name), value)


def _order_key(model: str, order: Any) -> tuple[Callable[[dict[str, Any]], Any], bool] | None:
    if order in (None, False, ""):
        return None
    if not isinstance(order, str):
        raise OdooError("builtins.ValueError", f"Invalid order {order!r}")
    keys = []
    descending = False
    for part in order.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise OdooError("builtins.ValueError", f'Invalid "order" specified ({order})')
        if words[0] not in SEARCHABLE[model]:
            raise OdooError("builtins.ValueError", f'Invalid "order" specified ({order})')
        keys.append(words[0])
        descending = descending or (len(words) == 2 and words[1].lower() == "desc")
    # Many2one orders follow the comodel's _order in Odoo; the fake sorts by id.
    return (lambda r: tuple(r.get(k) if r.get(k) is not None else -1 for k in keys)), descending


# --- the ORM calls ---------------------------------------------------------------------------
def call(state: FakeState, settings: Settings, model: str, method: str, params: dict[str, Any]) -> Any:
    if model == "res.users":
        if method == "context_get":
            return {"lang": "en_US", "tz": "Europe/Brussels", "uid": UID}
        raise OdooError("builtins.AttributeError", f"The method '{model}.{method}' does not exist", 404)
    if model not in FIELDS:
        raise OdooError("werkzeug.exceptions.NotFound", f"the model {model!r} does not exist", 404)
    if method != "search_read":
        raise OdooError("builtins.AttributeError", f"The method '{model}.{method}' does not exist", 404)
    unknown = sorted(set(params) - SEARCH_READ_PARAMS - {"context"})
    if unknown:
        raise OdooError("builtins.TypeError", f"read() got an unexpected keyword argument '{unknown[0]}'")
    domain = params.get("domain", [])
    fields = params.get("fields") or sorted(FIELDS[model] - MAGIC | {"id", "display_name"})
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise OdooError("builtins.TypeError", "fields must be a list of field names")
    for name in fields:
        if name not in FIELDS[model]:
            raise OdooError("builtins.ValueError", f"Invalid field {name!r} on model {model!r}")
    offset, limit = params.get("offset", 0), params.get("limit")
    if not isinstance(offset, int) or (limit not in (None, False) and not isinstance(limit, int)):
        raise OdooError("builtins.TypeError", "offset and limit must be integers")
    fresh = model == "stock.quant" and offset == 0 and not _has_lower_id_bound(domain)
    if fresh:
        state.reload()
    catalogue: _Catalogue = state.cached("odoo_catalogue", lambda: _Catalogue(state), fresh=fresh)
    predicate = _compile(model, domain, catalogue)
    records = [r for r in catalogue.records(model) if predicate(r)]
    ordering = _order_key(model, params.get("order"))
    if ordering is not None:
        key, descending = ordering
        records.sort(key=key, reverse=descending)
    else:
        records.sort(key=lambda r: r["id"])
    if limit:
        limit = state.page_size(limit)
    page = records[offset : offset + limit] if limit else records[offset:]
    result = [catalogue.read(model, r, fields) for r in page]
    if model == "stock.quant" and settings.on_quant_page is not None:
        settings.on_quant_page(catalogue)
    return result


def _has_lower_id_bound(domain: Any) -> bool:
    return isinstance(domain, list) and any(
        isinstance(t, list) and len(t) == 3 and t[0] == "id" and t[1] in (">", ">=") for t in domain
    )


# --- JSON-2 --------------------------------------------------------------------------------
def json2_error(name: str, message: str, status: int, arguments: list[Any] | None = None) -> web.Response:
    """Odoo's JSON-2 error: the status and {name, message, arguments, context, debug}."""
    body: dict[str, Any] = {
        "name": name,
        "message": message,
        "arguments": arguments if arguments is not None else [message],
        "context": {},
        "debug": f"Traceback (most recent call last):\n{name}: {message}\n",
    }
    return json_response(body, status=status)


def _http_error(status: int, name: str, message: str) -> web.Response:
    return json2_error(f"werkzeug.exceptions.{name}", message, status, [message, status])


async def json2(request: web.Request) -> web.Response:
    state, settings = request.app[STATE_KEY], request.app[SETTINGS_KEY]
    if settings.major < 19:
        return _not_found_page()
    if request.method != "POST":
        return _http_error(405, "MethodNotAllowed", "The method is not allowed for the requested URL.")
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or key.strip() != state.token:
        return _http_error(401, "Unauthorized", "Invalid apikey")
    database = request.headers.get("X-Odoo-Database")
    if database is not None and database != DATABASE:
        return _http_error(404, "NotFound", f"database {database!r} not found")
    raw = await request.read()
    params: Any = {}
    if raw:
        try:
            params = json.loads(raw)
        except ValueError as exc:
            return _http_error(400, "BadRequest", f"could not parse the body as json: {exc}")
        if not isinstance(params, dict):
            return _http_error(400, "BadRequest", "could not parse the body, expecting a json object")
    model, method = request.match_info["model"], request.match_info["method"]
    if params.get("ids"):
        return _http_error(422, "UnprocessableEntity", f"cannot call {model}.{method} with ids")
    params.pop("ids", None)
    try:
        result = call(state, settings, model, method, params)
    except OdooError as exc:
        if exc.name.startswith("werkzeug.exceptions."):
            return json2_error(exc.name, exc.message, exc.status, [exc.message, exc.status])
        return json2_error(exc.name, exc.message, exc.status)
    except Exception:  # what Odoo turns into a 500 with its traceback
        return json2_error("builtins.Exception", traceback.format_exc(limit=1), 500)
    return json_response(result)


async def web_version(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    if settings.major < 19:
        return _not_found_page()
    parts = [int(p) if p.isdigit() else p for p in settings.server_version.split(".")]
    info = [*parts, *([0] * max(0, 3 - len(parts))), "final", 0, ""]
    return json_response({"version_info": info, "version": settings.server_version})


def _not_found_page() -> web.Response:
    return web.Response(
        status=404, text="<html><body><h1>404: Page not found</h1></body></html>", content_type="text/html"
    )


# --- JSON-RPC ------------------------------------------------------------------------------
def rpc_error(request_id: Any, name: str, message: str) -> web.Response:
    return json_response(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {
                "code": 200,
                "message": "Odoo Server Error",
                "data": {
                    "name": name,
                    "debug": f"Traceback (most recent call last):\n{name}: {message}\n",
                    "message": message,
                    "arguments": [message],
                    "context": {},
                },
            },
        }
    )


def _result(request_id: Any, result: Any) -> web.Response:
    return json_response({"jsonrpc": "2.0", "id": request_id, "result": result})


async def jsonrpc(request: web.Request) -> web.Response:
    state, settings = request.app[STATE_KEY], request.app[SETTINGS_KEY]
    try:
        body = await request.json()
    except ValueError:
        return rpc_error(None, "werkzeug.exceptions.BadRequest", "Invalid JSON data")
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0" or body.get("method") != "call":
        return rpc_error(None, "werkzeug.exceptions.BadRequest", "Invalid JSON-RPC request")
    request_id = body.get("id")
    params = body.get("params") or {}
    service, method, args = params.get("service"), params.get("method"), params.get("args") or []
    if service == "common":
        if method == "version":
            parts = [int(p) if p.isdigit() else p for p in settings.server_version.split(".")]
            return _result(
                request_id,
                {
                    "server_version": settings.server_version,
                    "server_version_info": [*parts, *([0] * max(0, 3 - len(parts))), "final", 0, ""],
                    "server_serie": settings.server_version,
                    "protocol_version": 1,
                },
            )
        if method in ("login", "authenticate"):
            if len(args) < 3:
                return rpc_error(request_id, "builtins.TypeError", f"{method}() missing required arguments")
            db, login, password = args[:3]
            if db != DATABASE:
                return rpc_error(request_id, "psycopg2.OperationalError", f'database "{db}" does not exist')
            return _result(request_id, UID if (login == LOGIN and password == state.token) else False)
        return rpc_error(request_id, "builtins.NameError", f"Method not available {method}")
    if service != "object" or method != "execute_kw":
        return rpc_error(request_id, "builtins.NameError", f"Method not available {service}.{method}")
    if len(args) < 6:
        return rpc_error(request_id, "builtins.TypeError", "execute_kw() missing required arguments")
    db, uid, password, model, model_method, model_args = args[:6]
    kwargs = args[6] if len(args) > 6 else {}
    if db != DATABASE:
        return rpc_error(request_id, "psycopg2.OperationalError", f'database "{db}" does not exist')
    if uid != UID or password != state.token:
        return rpc_error(request_id, "odoo.exceptions.AccessDenied", "Access Denied")
    if not isinstance(model_args, list) or not isinstance(kwargs, dict):
        return rpc_error(request_id, "builtins.TypeError", "execute_kw() expects args [..] and kwargs {..}")
    params = dict(kwargs)
    if model_method == "search_read":
        if len(model_args) > 1:
            return rpc_error(request_id, "builtins.TypeError", "search_read() takes the domain by position only here")
        if model_args:
            params["domain"] = model_args[0]
    try:
        result = call(state, settings, str(model), str(model_method), params)
    except OdooError as exc:
        name = "builtins.KeyError" if exc.name == "werkzeug.exceptions.NotFound" else exc.name
        return rpc_error(request_id, name, exc.message)
    return _result(request_id, result)


# --- faults ----------------------------------------------------------------------------------
def error_response(state: FakeState, fault: str, request: web.Request) -> web.StreamResponse:
    json2_path = request.path.startswith("/json/2/") or request.path == "/web/version"
    if fault == "401":
        if json2_path:
            return _http_error(401, "Unauthorized", "Invalid apikey")
        return rpc_error(None, "odoo.exceptions.AccessDenied", "Access Denied")
    if fault == "403":
        message = "You are not allowed to access 'Quants' (stock.quant) records."
        if json2_path:
            return json2_error("odoo.exceptions.AccessError", message, 403)
        return rpc_error(None, "odoo.exceptions.AccessError", message)
    if fault == "429":
        state.throttle_violations += 1
        return web.Response(
            status=429, text="Too Many Requests", headers={"Retry-After": f"{state.switches.retry_after:g}"}
        )
    status = int(fault) if fault.isdigit() else 500
    return web.Response(
        status=status, text="<html><body><h1>Internal Server Error</h1></body></html>", content_type="text/html"
    )


def build_app(
    state: FakeState,
    server_version: str | None = None,
    on_quant_page: Callable[[_Catalogue], None] | None = None,
) -> web.Application:
    version = server_version or os.environ.get("ODOO_FAKE_SERVER_VERSION") or DEFAULT_SERVER_VERSION
    app = build_fake_app(
        state,
        [
            web.post("/jsonrpc", jsonrpc),
            web.get("/web/version", web_version),
            web.route("*", "/json/2/{model}/{method}", json2),
        ],
        error_response,
    )
    app[SETTINGS_KEY] = Settings(version, on_quant_page)
    return app


if __name__ == "__main__":
    main("odoo", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
