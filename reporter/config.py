"""reporter.yml as typed models; every problem becomes one line `FILE: key.path: problem`.

Secrets (the SMTP password, the webhook token) are never values in the file: the file
names an environment variable or a file holding them, read only when a report is sent.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

import servicekit.prometheus
from reporter.cron import parse_cron
from reporter.figures.catalogue import FIGURE_KEYS
from servicekit.config import Duration, HttpUrl, Model, load_model, problem_at, validate_model
from servicekit.secrets import Secret, read_secret

PERIOD_KINDS = ("daily", "weekly", "monthly", "quarterly")
FORMATS = ("html", "pdf", "json", "csv")


class PrometheusConfig(servicekit.prometheus.PrometheusConfig):
    # Per query, also sent to Prometheus as its own query timeout.
    timeout: Duration = 30.0
    # Queries in flight at once: a quarterly report runs about a hundred.
    concurrency: int = Field(default=4, ge=1, le=32)
    # Prometheus's evaluation_interval: ALERTS gets one sample per evaluation, so
    # firing time = samples x this interval.
    rule_evaluation_interval: Duration = 15.0


class Objectives(Model):
    # Time-based uptime of the inventory API (up and the probes).
    availability: float = Field(default=0.999, gt=0, lt=1)
    # Share of requests answered without a 5xx; the error budget is spent against it.
    request_success: float = Field(default=0.999, gt=0, lt=1)
    performance_score: float = Field(default=75.0, ge=0, le=100)
    latency_p95_seconds: Duration = 5.0
    fulfillment: float = Field(default=0.96, ge=0, le=1)
    integration_accuracy: float = Field(default=0.98, ge=0, le=1)
    sync_staleness: Duration = 900.0
    # Customer service level (issue 20). The OTIF objective and the backorder age are the
    # alerts' OTIF_TARGET_RATIO and BACKORDER_MAX_AGE_SECONDS (a test keeps them equal).
    on_time: float = Field(default=0.95, ge=0, le=1)
    otif: float = Field(default=0.9, ge=0, le=1)
    fill_rate: float = Field(default=0.95, ge=0, le=1)
    backorder_age_seconds: Duration = 172800.0
    # CPU, memory and disk peaks above this share of capacity count as missed.
    capacity_peak: float = Field(default=0.9, gt=0, le=1)
    # A disk projected to fill within this many days counts as missed.
    days_until_full: float = Field(default=30.0, gt=0)


class ChangesConfig(Model):
    # A figure "moved" when |new - old| / |old| exceeds this (0.1 = 10 %).
    threshold: float = Field(default=0.1, gt=0)
    # Per-figure thresholds, by figure key (service.latency_p95_seconds: 0.2).
    thresholds: dict[str, float] = {}
    # At most this many lines in the list (worst first); 0 means all.
    limit: int = Field(default=0, ge=0)

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, thresholds: dict[str, float]) -> dict[str, float]:
        for key, value in thresholds.items():
            if key not in FIGURE_KEYS:
                raise ValueError(f"unknown figure {key!r}; see docs/reports.md for the keys")
            if value <= 0:
                raise ValueError(f"{key}: threshold must be > 0")
        return thresholds


class OutputConfig(Model):
    directory: str = "reports"
    formats: list[Literal["html", "pdf", "json", "csv"]] = ["html", "pdf", "json", "csv"]
    title: str = "Inventory report"
    # Public URL of the archive directory, for links in webhooks and the email body.
    base_url: str | None = None
    # Sections with capacity planning (CPU, memory, disk, days until full).
    capacity_periods: list[Literal["daily", "weekly", "monthly", "quarterly"]] = ["monthly", "quarterly"]
    # Step of the integrals and peaks over the period (stock-out SKU-hours, peak rate,
    # sync staleness); each point stands for this long.
    resolution: Duration = 300.0


class PdfConfig(Model):
    chromium: str = "/usr/bin/chromium"
    timeout: Duration = 90.0


class EmailConfig(Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    # starttls: plain connection upgraded with STARTTLS (port 587); ssl: TLS from the
    # start (port 465); none: only for a relay on localhost.
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    # A CA bundle to verify the server with instead of the system's (self-signed relays).
    ca_file: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: Duration = 30.0
    subject: str = "{title}: {period}"

    @model_validator(mode="after")
    def _check_credentials(self) -> EmailConfig:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        if self.username and not (self.password_env or self.password_file):
            raise ValueError("username set without password_env or password_file")
        if self.username and self.tls == "none" and self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("refusing to send credentials without TLS to a remote host")
        return self

    def password(self) -> Secret | None:
        """Read at send time; SecretError (a ConfigError) names the variable or the file."""
        return read_secret(self.password_env, self.password_file)


class WebhookConfig(Model):
    url: HttpUrl
    timeout: Duration = 15.0
    token_env: str | None = None
    token_file: str | None = None

    @model_validator(mode="after")
    def _check_token(self) -> WebhookConfig:
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        return self

    def token(self) -> Secret | None:
        return read_secret(self.token_env, self.token_file)


class DeliveryConfig(Model):
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None


class ScheduleConfig(Model):
    # Cron expressions (minute hour day-of-month month day-of-week, in `timezone`):
    # when one fires, the period of that kind that closed most recently is built.
    daily: str | None = None
    weekly: str | None = None
    monthly: str | None = None
    quarterly: str | None = None
    # After a restart, build up to this many missed periods of each kind (newest first).
    catch_up: int = Field(default=3, ge=1, le=100)
    # Deliver scheduled reports (email/webhook) as well as archiving them.
    send: bool = True
    formats: list[Literal["html", "pdf", "json", "csv"]] | None = None

    @field_validator("daily", "weekly", "monthly", "quarterly")
    @classmethod
    def _check_cron(cls, spec: str | None) -> str | None:
        if spec is None:
            return None
        parse_cron(spec)  # raises ValueError with the problem
        return spec

    def specs(self) -> dict[str, str]:
        return {kind: getattr(self, kind) for kind in PERIOD_KINDS if getattr(self, kind)}


class Config(Model):
    prometheus: PrometheusConfig = PrometheusConfig()
    timezone: str = "UTC"
    week_start: Literal["monday", "sunday"] = "monday"
    objectives: Objectives = Objectives()
    changes: ChangesConfig = ChangesConfig()
    output: OutputConfig = OutputConfig()
    pdf: PdfConfig = PdfConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    # Grafana dashboards drawn into the report, one page each, over the report's period:
    # the shipped ones by name (overview, business, ...) or paths to dashboard JSON files.
    dashboards: list[str] = []

    @field_validator("dashboards")
    @classmethod
    def _known_dashboards(cls, names: list[str]) -> list[str]:
        from reporter.dashboards import find_dashboard

        for index, name in enumerate(names):
            try:
                find_dashboard(name)
            except FileNotFoundError:
                problem = f"no dashboard {name!r}: a name of grafana/dashboards/ or a JSON file"
                raise problem_at((index,), problem) from None
        return names

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin)") from None
        return name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def parse_config(data: object, path: str = "<config>") -> Config:
    return validate_model(Config, data, path)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError with one line on any problem."""
    return load_model(Config, path)
