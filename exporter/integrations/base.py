"""The one small interface every connector implements, and the config model all kinds share.

A connector knows one remote API: how to probe its health and how to stream its stock
as pages of RemoteRow (remote SKU, remote location id, raw quantity). It does not know
the database, the location mapping or the metrics: collector.py does that once for all.

Each connector's module defines its config model, a subclass of CommonIntegration with
`kind: Literal[...]`, and checks its own keys; exporter/integrations/__init__.py joins
the models into the union, discriminated by `kind`, that the exporter config lists.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from exporter.integrations.http import MAX_BODY_BYTES, HttpClient
from servicekit.config import LABEL_NAME_RE, ByteSize, Duration, HttpUrl, Model, problem_at
from servicekit.tls_client import TLSClientConfig


@dataclass(frozen=True, slots=True)
class RemoteRow:
    sku: Any  # as sent by the remote; the collector checks it
    location: str  # the remote's location id, as written in the config's `locations`
    quantity: Any  # available units as sent (number or decimal string); the collector checks it


class CommonIntegration(Model):
    """One remote system: the keys every kind accepts. Each connector subclasses it with
    `kind: Literal[...]` and its own keys; its checks blame the key they are about."""

    # Whether the remote needs a secret (token_env or token_file).
    needs_token: ClassVar[bool] = True

    name: str
    kind: str
    url: HttpUrl
    interval: Duration = 60.0
    timeout: Duration = 10.0
    token_env: str | None = None
    token_file: str | None = None
    # Remote location id -> database location id.
    locations: dict[str, str] = {}
    # |remote - database| <= tolerance_units counts as matching.
    tolerance_units: float = Field(0.0, ge=0)
    # A database SKU-location the remote does not list: compare it as remote 0, or skip it.
    missing_remote: Literal["zero", "ignore"] = "zero"
    # Remote locations deliberately not mapped: skipped without a data-quality count.
    ignored_locations: list[str] = []
    # Shopify allows overselling into negative `available`; other systems should not send it.
    allow_negative: bool = False
    request_timeout: Duration = 10.0
    retries: int = Field(3, ge=0, le=10)
    backoff: Duration = 0.5
    # Largest differences served on /api/v1/mismatches for this integration.
    mismatch_list_size: int = Field(100, ge=0, le=10000)
    # For schemas that differ from the reference one: SQL returning (sku, location, available).
    database_sql: str | None = None
    # Largest JSON answer read (blackbox_exporter's and Prometheus's name); streamed
    # results such as Shopify's bulk JSONL are read line by line and not capped.
    body_size_limit: ByteSize = MAX_BODY_BYTES
    # A private CA, a client certificate (mutual TLS), a server name: Prometheus's tls_config.
    tls_config: TLSClientConfig | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not LABEL_NAME_RE.match(name):
            raise ValueError("must be letters, digits and underscores (it becomes a collector name)")
        return name

    @field_validator("database_sql")
    @classmethod
    def _check_sql(cls, sql: str | None) -> str | None:
        if sql is not None and not sql.strip():
            raise ValueError("must not be empty")
        return sql

    @model_validator(mode="after")
    def _check_secret_and_locations(self) -> CommonIntegration:
        if self.token_env and self.token_file:
            raise problem_at("token_env", "set token_env or token_file, not both")
        if self.needs_token and not (self.token_env or self.token_file):
            raise problem_at("token_env", f"a {self.kind} integration needs token_env or token_file")
        if self.token_env and self.token_env not in os.environ:
            raise problem_at("token_env", f"environment variable {self.token_env} is not set")
        if self.token_file and not os.access(self.token_file, os.R_OK):
            raise problem_at("token_file", f"cannot read {self.token_file}")
        if not self.locations:
            raise problem_at("locations", "map at least one remote location id to a database location id")
        targets: dict[str, str] = {}
        for remote, local in self.locations.items():
            if local in targets:
                raise problem_at(
                    "locations",
                    f"remote locations {targets[local]!r} and {remote!r} both map to "
                    f"{local!r}; map each database location once",
                )
            targets[local] = remote
        overlap = set(self.ignored_locations) & set(self.locations)
        if overlap:
            raise problem_at("ignored_locations", f"{sorted(overlap)[0]!r} is both mapped and ignored")
        return self


class Connector:
    """One remote API. Subclasses set `kind` and `Settings`, their config model."""

    kind: str
    Settings: type[CommonIntegration] = CommonIntegration

    def __init__(self, integration_name: str, settings: CommonIntegration, client: HttpClient):
        self.integration = integration_name
        self.settings = settings
        self.client = client
        # The API version asked for and the one the remote says it served, where the API
        # has versions (exported as inventory_integration_api_version_info).
        self.requested_version: str | None = None
        self.served_version: str | None = None

    async def probe(self) -> None:
        """Cheap authenticated call proving the remote is reachable and accepts us; raise RemoteError."""
        raise NotImplementedError

    def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        """Yield the remote stock page by page; `locations` are the mapped remote ids."""
        raise NotImplementedError
