"""The exporter's configuration: YAML turned into typed, validated models.

Every problem is reported as one line naming the file, the key path and what is
wrong, so a bad config exits 2 before anything starts (see cli.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from exporter.analytics.config import AnalyticsConfig
from exporter.business_catalogue import BUILTIN_STATEMENTS, CUSTOM_SCHEMA, METRICS, REFERENCE_SCHEMA
from exporter.integrations import KINDS, Integration
from servicekit.config import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    ByteSize,
    ConfigError,
    Duration,
    HttpUrl,
    Model,
    load_model,
    parse_listen,
    problem_at,
)
from servicekit.secrets import read_secret, secret_setting
from servicekit.tls_client import TLSClientConfig


class DatabaseConfig(Model):
    url: str = "sqlite:///inventory.db"
    # "reference": the built-in statements read the reference schema (docs/metrics.md);
    # "custom": nothing runs but what business.overrides maps; or a preset's name.
    schema_: str = Field(default=REFERENCE_SCHEMA, alias="schema")
    interval: Duration = 15.0
    timeout: Duration = 10.0
    # The password when it is not in the url (PostgreSQL, MySQL): from a file (a Kubernetes
    # or Docker secret) or an environment variable, read at load and at each start of a
    # database client, so no secret sits in the config or a ConfigMap.
    password_file: str | None = None
    password_env: str | None = None

    @field_validator("schema_")
    @classmethod
    def _check_schema(cls, schema: str) -> str:
        from exporter.presets import preset_names

        known = [REFERENCE_SCHEMA, CUSTOM_SCHEMA, *preset_names()]
        if schema not in known:
            raise ValueError(f"unknown schema {schema!r}; known: {', '.join(known)}")
        return schema

    @model_validator(mode="after")
    def _check_preset_dialect(self) -> DatabaseConfig:
        from sqlalchemy.engine import make_url

        from exporter.presets import load_preset

        if self.schema_ in (REFERENCE_SCHEMA, CUSTOM_SCHEMA):
            return self
        preset = load_preset(self.schema_)
        backend = make_url(self.url).get_backend_name()
        if preset.dialects and backend not in preset.dialects:
            raise ValueError(
                f"schema {self.schema_!r} is for {' or '.join(preset.dialects)} databases, the url is {backend}"
            )
        return self

    @model_validator(mode="after")
    def _check_password(self) -> DatabaseConfig:
        from sqlalchemy.engine import make_url

        if not (self.password_file or self.password_env):
            return self
        key = "password_env" if self.password_env else "password_file"
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite":
            raise problem_at(key, "a sqlite database has no password")
        if url.password is not None:
            raise problem_at(key, "the url has a password already: give it in one place")
        secret_setting(None, self.password_env, self.password_file, "password")
        return self

    def connection_url(self) -> str:
        """The url with the password of password_file / password_env in it, read now: what
        database clients connect with. Never log it (servicekit.secrets.redact)."""
        from sqlalchemy.engine import make_url

        secret = read_secret(self.password_env, self.password_file)
        if secret is None:
            return self.url
        return make_url(self.url).set(password=secret.reveal()).render_as_string(hide_password=False)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError("not a database URL (expected sqlite:///path or postgresql://...)") from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql", "mysql"):
            raise ValueError(f"unsupported database {backend!r}: use sqlite, postgresql or mysql")
        if backend == "sqlite" and not parsed.database:
            raise ValueError("sqlite URL needs a file path: sqlite:///path/to/inventory.db")
        return url


class CustomMetric(Model):
    """A metric defined by the user's SQL, query-exporter style."""

    name: str
    help: str = ""
    type: Literal["gauge", "counter"] = "gauge"
    labels: list[str] = []
    sql: str

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not METRIC_NAME_RE.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        return name

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if not LABEL_NAME_RE.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r}")
        return labels


class BusinessConfig(Model):
    enabled: bool = True
    fulfillment_window: Duration = 86400.0
    # Trailing window of the service-level ratios (on time, OTIF, fill rates): orders
    # decided in it (docs/metrics.md, "Service level").
    service_level_window: Duration = 86400.0
    # Metric name -> SQL returning its label columns and a `value` column; replaces
    # the built-in definition for users whose schema differs.
    overrides: dict[str, str] = {}
    # Extra metrics from the user's SQL.
    metrics: list[CustomMetric] = []

    @model_validator(mode="after")
    def _check_names(self) -> BusinessConfig:
        for name in self.overrides:
            if name not in METRICS:
                raise ValueError(f"overrides: unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
        # Custom metrics share the `query` label with the built-in statements.
        seen = set(METRICS) | set(BUILTIN_STATEMENTS)
        for metric in self.metrics:
            if metric.name in seen:
                raise ValueError(f"metrics: duplicate metric name {metric.name!r}")
            seen.add(metric.name)
        return self


class HostConfig(Model):
    enabled: bool = True
    interval: Duration = 15.0
    timeout: Duration = 5.0
    # Mount points to report; empty means every physical filesystem psutil lists.
    mountpoints: list[str] = []
    # Interfaces whose name matches this regex are left out (loopback by default).
    ignored_interfaces: str = "^lo$"

    @field_validator("ignored_interfaces")
    @classmethod
    def _check_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class ApiProbe(Model):
    target: str
    url: HttpUrl
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expected_status: list[int] = [200]
    # The probe fails unless the body's first body_size_limit bytes contain this text.
    expect_body: str | None = None
    body_size_limit: ByteSize = 64 << 20
    timeout: Duration | None = None
    # A private CA, a client certificate, a server name: Prometheus's tls_config.
    tls_config: TLSClientConfig | None = None


class ApiProbesConfig(Model):
    interval: Duration = 15.0
    timeout: Duration = 5.0


class ReadinessConfig(Model):
    # Collectors whose first run /-/ready waits for (business, host, analytics, api_probes,
    # integration_<name>); by default it waits for none: ready once every collector started.
    wait_for: list[str] = []


class Config(Model):
    listen: str = "0.0.0.0:9877"
    database: DatabaseConfig = DatabaseConfig()
    business: BusinessConfig = BusinessConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    host: HostConfig = HostConfig()
    api_probes: list[ApiProbe] = []
    api_probe_settings: ApiProbesConfig = ApiProbesConfig()
    # Each entry is validated by its connector's model, picked by `kind` (exporter/integrations/).
    integrations: list[Integration] = []
    # Bounded labels added to every metric of this instance (for example tenant),
    # so several exporters can share one Prometheus without clashing.
    constant_labels: dict[str, str] = Field(default_factory=dict)
    readiness: ReadinessConfig = ReadinessConfig()

    def collector_names(self) -> list[str]:
        """The collectors this config runs, in the order exporter.collectors builds them."""
        names = ["host"] if self.host.enabled else []
        if self.business.enabled:
            names.append("business")
        # Analytics reads the reference schema's tables (demand history, receipts, purchase orders).
        if self.analytics.enabled and self.database.schema_ == REFERENCE_SCHEMA:
            names.append("analytics")
        if self.api_probes:
            names.append("api_probes")
        return names + [f"integration_{integration.name}" for integration in self.integrations]

    @model_validator(mode="after")
    def _check_readiness(self) -> Config:
        planned = self.collector_names()
        for index, name in enumerate(self.readiness.wait_for):
            if name not in planned:
                raise problem_at(
                    ("readiness", "wait_for", index),
                    f"no collector {name!r} runs with this config (collectors: {', '.join(planned) or 'none'})",
                )
        return self

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, listen: str) -> str:
        parse_listen(listen)
        return listen

    @field_validator("constant_labels")
    @classmethod
    def _check_constant_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not LABEL_NAME_RE.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r}")
        return labels

    @model_validator(mode="after")
    def _check_unique(self) -> Config:
        for section, key, values in (
            ("integrations", "name", [i.name for i in self.integrations]),
            ("api_probes", "target", [p.target for p in self.api_probes]),
        ):
            for index, value in enumerate(values):
                if value in values[:index]:
                    raise problem_at((section, index, key), f"duplicate {key} {value!r}")
        return self


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError with one line on any problem."""
    # The integrations' `kind` tags are not keys of the file: left out of key paths.
    config = load_model(Config, path, frozenset(KINDS))
    _check_integrations(str(path), config)
    return config


def _check_integrations(path: str, config: Config) -> None:
    """Checks of the integrations that need more than one of them: the database schema."""
    if config.database.schema_ == REFERENCE_SCHEMA:
        return
    for index, integration in enumerate(config.integrations):
        if not integration.database_sql:
            raise ConfigError.at(
                path,
                f"integrations.{index}.database_sql",
                "required when database.schema is not 'reference': SQL returning "
                "sku, location, available (the built-in one reads stock_levels)",
            )
