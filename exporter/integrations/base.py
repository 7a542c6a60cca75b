"""The one small interface every connector implements, and the settings all kinds share.

A connector knows one remote API: how to probe its health and how to stream its stock
as pages of RemoteRow (remote SKU, remote location id, raw quantity). It does not know
the database, the location mapping or the metrics: collector.py does that once for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Literal

from pydantic import Field, field_validator

from servicekit.config import Duration, Model
from exporter.integrations.http import HttpClient


@dataclass(frozen=True, slots=True)
class RemoteRow:
    sku: Any  # as sent by the remote; the collector checks it
    location: str  # the remote's location id, as written in the config's `locations`
    quantity: Any  # available units as sent (number or decimal string); the collector checks it


class CommonSettings(Model):
    """Keys every kind accepts besides IntegrationConfig's own (name, kind, url, ...)."""

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

    @field_validator("database_sql")
    @classmethod
    def _check_sql(cls, sql: str | None) -> str | None:
        if sql is not None and not sql.strip():
            raise ValueError("must not be empty")
        return sql


class Connector:
    """One remote API. Subclasses set `kind`, `Settings` and `needs_token`."""

    kind: str
    Settings: type[CommonSettings] = CommonSettings
    needs_token: bool = True

    def __init__(self, integration_name: str, settings: CommonSettings, client: HttpClient):
        self.integration = integration_name
        self.settings = settings
        self.client = client

    async def probe(self) -> None:
        """Cheap authenticated call proving the remote is reachable and accepts us; raise RemoteError."""
        raise NotImplementedError

    def stream(self, locations: list[str]) -> AsyncIterator[list[RemoteRow]]:
        """Yield the remote stock page by page; `locations` are the mapped remote ids."""
        raise NotImplementedError
