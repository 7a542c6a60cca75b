"""A fake Odoo external API: JSON-RPC `common` and `object` services over stock quants.

    python -m demo.fakes.odoo --port 8183 [--db demo.db] [--location-map 8=wh-main]

Speaks `POST /jsonrpc` with {"jsonrpc": "2.0", "method": "call", "params": {"service",
"method", "args"}}: `common.version`, `common.login`, `common.authenticate`, and
`object.execute_kw` with `search_read` on `stock.quant` (domain on location_id, fields,
limit, offset, order) and `product.product` (domain on id, fields). Errors come back
inside an HTTP 200 as a JSON-RPC `error` object, as Odoo does. Remote locations are
stock.location integer ids. One SKU-location in three is split into two quants (two
lots), as a real warehouse has, so a client must sum them. The database name is
"inventory" and the user "exporter" unless the test says otherwise.
"""

from __future__ import annotations

import zlib
from typing import Any

from aiohttp import web

from demo.fakes.common import STATE_KEY, FakeState, build_fake_app, json_response, main

DEFAULT_LOCATION_MAP = {"8": "wh-main"}
DEFAULT_TOKEN = "demo-odoo-api-key"
DATABASE = "inventory"
LOGIN = "exporter"
UID = 2
QUANT_FIELDS = {
    "id",
    "product_id",
    "location_id",
    "quantity",
    "reserved_quantity",
    "lot_id",
    "package_id",
    "inventory_quantity",
    "available_quantity",
    "company_id",
}
PRODUCT_FIELDS = {"id", "default_code", "name", "display_name", "barcode", "active"}


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


class _Catalogue:
    """Products and quants derived from the remote stock."""

    def __init__(self, state: FakeState):
        rows = state.rows()
        skus = sorted({row.sku for row in rows if isinstance(row.sku, str)})
        self.product_ids = {sku: 100 + i for i, sku in enumerate(skus)}
        self.products = {pid: sku for sku, pid in self.product_ids.items()}
        quants = []
        for row in rows:
            pid = self.product_ids.get(row.sku, 99)  # 99: a product without an internal reference
            try:
                location = int(row.location)
            except ValueError:
                location = 0
            sku_name = row.sku if isinstance(row.sku, str) else ""
            product = [pid, f"[{sku_name}] Product {sku_name}"]
            place = [location, f"WH/Stock/{location}"]
            split = isinstance(row.on_hand, (int, float)) and row.on_hand > 1 and zlib.crc32(sku_name.encode()) % 3 == 0
            if split:
                first = row.on_hand // 2
                quants.append((pid, location, product, place, first, row.reserved))
                quants.append((pid, location, product, place, row.on_hand - first, 0))
            else:
                quants.append((pid, location, product, place, row.on_hand, row.reserved))
        quants.sort(key=lambda q: (q[0], q[1]))
        self.quants = [
            {
                "id": 1000 + i,
                "product_id": product,
                "location_id": place,
                "quantity": float(qty) if isinstance(qty, (int, float)) else qty,
                "reserved_quantity": float(res) if isinstance(res, (int, float)) else res,
            }
            for i, (_, _, product, place, qty, res) in enumerate(quants)
        ]


def _domain_filter(domain: Any, field: str) -> set[Any] | None | str:
    """The set of values a simple domain allows for `field` (None: no condition; str: an error)."""
    if not isinstance(domain, list):
        return "domain must be a list"
    allowed: set[Any] | None = None
    for term in domain:
        if term in ("&", "|", "!"):
            return "only implicit AND domains are supported by this fake"
        if not (isinstance(term, list) and len(term) == 3):
            return f"Invalid leaf {term!r}"
        name, operator, value = term
        if name != field:
            return f"Invalid field {name!r} in leaf {term!r}"
        if operator == "in" and isinstance(value, list):
            values = set(value)
        elif operator == "=":
            values = {value}
        else:
            return f"Invalid operator {operator!r} in leaf {term!r}"
        allowed = values if allowed is None else allowed & values
    return allowed


async def jsonrpc(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
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
            return _result(
                request_id,
                {
                    "server_version": "17.0",
                    "server_version_info": [17, 0, 0, "final", 0, ""],
                    "server_serie": "17.0",
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
    if model_method != "search_read":
        return rpc_error(request_id, "builtins.AttributeError", f"The method '{model_method}' does not exist")
    if not isinstance(model_args, list) or not model_args or not isinstance(kwargs, dict):
        return rpc_error(request_id, "builtins.TypeError", "search_read() expects [domain] and {kwargs}")
    domain = model_args[0]
    if model == "stock.quant":
        return _quants(state, request_id, domain, kwargs)
    if model == "product.product":
        return _products(state, request_id, domain, kwargs)
    return rpc_error(request_id, "builtins.KeyError", repr(model))


def _check_fields(request_id: Any, model: str, fields: Any, allowed: set[str]) -> web.Response | None:
    if not isinstance(fields, list):
        return rpc_error(request_id, "builtins.TypeError", "fields must be a list")
    for name in fields:
        if name not in allowed:
            return rpc_error(request_id, "builtins.ValueError", f"Invalid field '{name}' on model '{model}'")
    return None


def _quants(state: FakeState, request_id: Any, domain: Any, kwargs: dict[str, Any]) -> web.Response:
    fields = kwargs.get("fields", sorted(QUANT_FIELDS))
    problem = _check_fields(request_id, "stock.quant", fields, QUANT_FIELDS)
    if problem is not None:
        return problem
    allowed = _domain_filter(domain, "location_id")
    if isinstance(allowed, str):
        return rpc_error(request_id, "builtins.ValueError", allowed)
    offset, limit = kwargs.get("offset", 0), kwargs.get("limit")
    if not isinstance(offset, int) or (limit is not None and not isinstance(limit, int)):
        return rpc_error(request_id, "builtins.TypeError", "offset and limit must be integers")
    if offset == 0:
        state.reload()
    catalogue = state.cached("catalogue", lambda: _Catalogue(state), fresh=offset == 0)
    quants = [q for q in catalogue.quants if allowed is None or q["location_id"][0] in allowed]
    if limit:
        limit = state.page_size(limit)
    page = quants[offset : offset + limit] if limit else quants[offset:]
    return _result(request_id, [{"id": q["id"], **{f: q[f] for f in fields if f in q}} for q in page])


def _products(state: FakeState, request_id: Any, domain: Any, kwargs: dict[str, Any]) -> web.Response:
    fields = kwargs.get("fields", ["default_code"])
    problem = _check_fields(request_id, "product.product", fields, PRODUCT_FIELDS)
    if problem is not None:
        return problem
    allowed = _domain_filter(domain, "id")
    if isinstance(allowed, str):
        return rpc_error(request_id, "builtins.ValueError", allowed)
    catalogue = state.cached("catalogue", lambda: _Catalogue(state))
    ids = sorted(set(catalogue.products) | {99}) if allowed is None else sorted(allowed)
    records = []
    for pid in ids:
        if pid == 99:
            records.append({"id": 99, "default_code": False})
        elif pid in catalogue.products:
            records.append({"id": pid, "default_code": catalogue.products[pid]})
    return _result(request_id, [{"id": r["id"], **{f: r.get(f, False) for f in fields}} for r in records])


def error_response(state: FakeState, fault: str, request: web.Request) -> web.StreamResponse:
    if fault == "401":
        return rpc_error(None, "odoo.exceptions.AccessDenied", "Access Denied")
    if fault == "403":
        return rpc_error(
            None, "odoo.exceptions.AccessError", "You are not allowed to access 'Quants' (stock.quant) records."
        )
    if fault == "429":
        state.throttle_violations += 1
        return web.Response(
            status=429, text="Too Many Requests", headers={"Retry-After": f"{state.switches.retry_after:g}"}
        )
    status = int(fault) if fault.isdigit() else 500
    return web.Response(
        status=status, text="<html><body><h1>Internal Server Error</h1></body></html>", content_type="text/html"
    )


def build_app(state: FakeState) -> web.Application:
    return build_fake_app(state, [web.post("/jsonrpc", jsonrpc)], error_response)


if __name__ == "__main__":
    main("odoo", build_app, DEFAULT_LOCATION_MAP, DEFAULT_TOKEN)
