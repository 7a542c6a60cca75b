"""Any other system with a JSON HTTP API: the config says where the fields are.

`GET url + path` (or POST), an auth header built from the secret, dotted paths to the
list of items and, inside each item, to the SKU, the location and the available
quantity (or on-hand and reserved). Paging follows the `Link: <...>; rel="next"`
header, or a cursor read from the body and sent back as a query parameter.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator, model_validator

from exporter.integrations.base import CommonIntegration, Connector, RemoteRow
from exporter.integrations.http import RemoteError
from exporter.integrations.quantities import parse_quantity
from servicekit.config import problem_at

_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_MISSING = object()


def dotted(value: Any, path: str) -> Any:
    """`a.b.0.c` into nested objects and lists; _MISSING when absent. Empty path: the value."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


class RestJsonIntegration(CommonIntegration):
    # The remote may be open (a WMS on the internal network): the secret is optional.
    needs_token: ClassVar[bool] = False

    kind: Literal["rest_json"]
    path: str = ""
    method: Literal["GET", "POST"] = "GET"
    # The secret goes into this header, after auth_scheme and a space ("" for the bare token).
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    headers: dict[str, str] = {}
    # Query parameters sent with every page request (for example a fixed filter).
    params: dict[str, str] = {}
    items_path: str = ""
    sku_path: str = Field(min_length=1)
    location_path: str = Field(min_length=1)
    quantity_path: str = Field(min_length=1)
    # When set, available = quantity - reserved.
    reserved_path: str | None = None
    paging: Literal["link", "cursor", "none"] = "link"
    cursor_path: str | None = None
    cursor_param: str = "cursor"
    page_size: int | None = Field(None, ge=1)
    page_size_param: str = "limit"
    # A safety stop against a remote that pages forever.
    max_pages: int = Field(100000, ge=1)
    # Where the probe goes; empty means the first page of `path`.
    health_path: str | None = None

    @field_validator("auth_header")
    @classmethod
    def _check_header(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+", name):
            raise ValueError("must be an HTTP header name")
        return name

    @model_validator(mode="after")
    def _check_cursor(self) -> RestJsonIntegration:
        if self.paging == "cursor" and not self.cursor_path:
            raise problem_at("paging", "cursor needs cursor_path (where the next cursor is in the body)")
        return self


class RestJsonConnector(Connector):
    kind = "rest_json"
    Settings = RestJsonIntegration
    settings: RestJsonIntegration

    def _headers(self) -> dict[str, str]:
        headers = dict(self.settings.headers)
        if self.client.secret is not None:
            token = self.client.secret.reveal()
            headers[self.settings.auth_header] = f"{self.settings.auth_scheme} {token}".strip()
        return headers

    def _first_params(self) -> dict[str, str]:
        params = dict(self.settings.params)
        if self.settings.page_size:
            params[self.settings.page_size_param] = str(self.settings.page_size)
        return params

    async def _get(self, url: str, params: dict[str, str] | None) -> tuple[Any, Any]:
        response = await self.client.request_json(self.settings.method, url, params=params, headers=self._headers())
        if response.status != 200:
            raise RemoteError("http", f"{self.settings.method} {self.settings.path or '/'}: HTTP {response.status}")
        return response.data, response.headers

    async def probe(self) -> None:
        path = self.settings.health_path if self.settings.health_path is not None else self.settings.path
        params = None if self.settings.health_path is not None else self._first_params()
        await self._get(self.client.url(path), params)

    async def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        url: str | None = self.client.url(self.settings.path)
        params: dict[str, str] | None = self._first_params()
        for _ in range(self.settings.max_pages):
            assert url is not None
            body, headers = await self._get(url, params)
            items = dotted(body, self.settings.items_path)
            if not isinstance(items, list):
                raise RemoteError(
                    "bad_response",
                    f"{self.settings.method} {self.settings.path or '/'}: "
                    f"items_path {self.settings.items_path!r} is not a list",
                )
            yield [self._row(item) for item in items]
            url, params = self._next(url, body, headers)
            if url is None:
                return
        raise RemoteError("bad_response", f"more than max_pages={self.settings.max_pages} pages")

    def _row(self, item: Any) -> RemoteRow:
        sku = dotted(item, self.settings.sku_path)
        location = dotted(item, self.settings.location_path)
        quantity = dotted(item, self.settings.quantity_path)
        if self.settings.reserved_path:
            reserved = parse_quantity(dotted(item, self.settings.reserved_path))
            on_hand = parse_quantity(quantity)
            quantity = on_hand - reserved if on_hand is not None and reserved is not None else "invalid"
        return RemoteRow(
            None if sku is _MISSING else sku,
            "" if location is _MISSING else str(location),
            None if quantity is _MISSING else quantity,
        )

    def _next(self, url: str, body: Any, headers: Any) -> tuple[str | None, dict[str, str] | None]:
        if self.settings.paging == "link":
            for value in headers.getall("Link", []) if hasattr(headers, "getall") else []:
                match = _LINK_NEXT.search(value)
                if match:
                    # The next link carries its own query string. It never gets the
                    # secret if it points somewhere else.
                    target = urljoin(url, match.group(1))
                    if urlsplit(target).netloc != urlsplit(url).netloc:
                        raise RemoteError("bad_response", "Link rel=next points to another host; not followed")
                    return target, None
            return None, None
        if self.settings.paging == "cursor":
            cursor = dotted(body, self.settings.cursor_path or "")
            if cursor is _MISSING or cursor in (None, "", False):
                return None, None
            params = self._first_params()
            params[self.settings.cursor_param] = str(cursor)
            return url.split("?", 1)[0], params
        return None, None
