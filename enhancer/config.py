"""enhancer.yml as typed models; every problem becomes one line `FILE: key.path: problem`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from enhancer import templates
from enhancer.promql import lookback_seconds, shown
from servicekit.config import (
    ConfigError,
    Duration,
    DurationOrZero,
    HttpUrl,
    Model,
    load_model,
    validate_model,
)
from servicekit.http_client import HTTPClientConfig
from servicekit.prometheus import PrometheusConfig, check_url_credentials


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """An entry is `host` (any port) or `host:port`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for entry in allowed_hosts:
        entry = entry.lower().strip()
        if entry == host or entry == f"{host}:{port}" or entry == f"[{host}]:{port}":
            return True
    return False


def shown_host(url: str) -> str:
    """host or host:port of a URL, never its user:password@ (for messages)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


class AlertmanagerConfig(HTTPClientConfig):
    """The default Alertmanager of silences, and how to authenticate to it (basic_auth,
    authorization, tls_config as in Prometheus's http_config); used only for silences
    sent to this url."""

    url: HttpUrl = "http://127.0.0.1:9093"

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> AlertmanagerConfig:
        check_url_credentials(self, "url")
        return self


class LeaseConfig(Model):
    """Leader lease for active/standby enhancers on one PostgreSQL state (enhancer/lease.py).

    Ignored with SQLite state, which is single-instance.
    """

    enabled: bool = True
    ttl: Duration = Field(default=15.0, ge=1.0)
    renew_interval: Duration | None = None  # default ttl / 3
    holder: str | None = Field(default=None, min_length=1, max_length=200)  # default host:pid:random


class BudgetConfig(Model):
    per_hour: int = Field(default=30, ge=0)


class RobustBaseline(Model):
    """Median and scaled MAD of the signal over [now - offset - window, now - offset]."""

    kind: Literal["robust"]
    query: str | None = None
    window: Duration = 3600.0
    offset: DurationOrZero = 0.0
    step: Duration = 60.0
    min_samples: int = Field(default=30, ge=1)
    refresh: DurationOrZero = 300.0


class SeasonalBaseline(Model):
    """Median and scaled MAD of the same time of week over the last `weeks` weeks."""

    kind: Literal["seasonal"]
    query: str | None = None
    weeks: int = Field(default=4, ge=1, le=52)
    window: Duration = 3600.0
    step: Duration = 300.0
    min_samples: int = Field(default=24, ge=1)
    refresh: DurationOrZero = 900.0


Baseline = Annotated[RobustBaseline | SeasonalBaseline, Field(discriminator="kind")]


class _TriggerBase(Model):
    for_: DurationOrZero = Field(default=0.0, alias="for")


class DeviationTrigger(_TriggerBase):
    """value > baseline + k x scaled MAD, and by at least min_delta."""

    kind: Literal["deviation"]
    k: float = Field(default=3.0, gt=0)
    min_delta: float = Field(default=0.0, ge=0)


class RatioTrigger(_TriggerBase):
    """value > x x baseline."""

    kind: Literal["ratio"]
    x: float = Field(gt=0)


class ThresholdTrigger(_TriggerBase):
    kind: Literal["threshold"]
    op: Literal["above", "below"] = "above"
    value: float


Trigger = Annotated[DeviationTrigger | RatioTrigger | ThresholdTrigger, Field(discriminator="kind")]


class SecretRef(Model):
    """A header value read at send time, so secrets never sit in the config file."""

    env: str | None = None
    file: str | None = None
    prefix: str = ""


class _ActionBase(Model):
    timeout: Duration = 5.0
    retries: int = Field(default=2, ge=0, le=10)
    backoff: DurationOrZero = 1.0


class WebhookAction(_ActionBase):
    kind: Literal["webhook"]
    url: str
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    body: Any = None
    headers: dict[str, str | SecretRef] = {}


class SilenceMatcher(Model):
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True


class SilenceAction(_ActionBase):
    kind: Literal["alertmanager_silence"]
    url: str | None = None  # defaults to alertmanager.url
    matchers: list[SilenceMatcher] = Field(min_length=1)
    duration: Duration = 3600.0
    comment: str = "inventory-enhancer: rule {rule}"
    created_by: str = "inventory-enhancer"


class LogAction(Model):
    kind: Literal["log"]
    message: str = "rule {rule} fired: value {value}, baseline {baseline}"


Action = Annotated[WebhookAction | SilenceAction | LogAction, Field(discriminator="kind")]


class VerifyConfig(Model):
    """Reading the signal again `after` an action (enhancer/verify.py) and the rule's effect
    against a counterfactual (enhancer/effect.py)."""

    # at least as long as the rule's query reads back (its largest range, subqueries and
    # offsets included), so the reading after an action holds no sample from before it
    after: DurationOrZero = 300.0
    better: Literal["lower", "higher"] = "lower"
    min_improvement: float = 0.0
    backoff_after: int = Field(default=3, ge=1)
    backoff_factor: float = Field(default=4.0, ge=1)
    # share of triggers, chosen at random, held out (not acted on) as the control group
    holdout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # verified actions (and held-out triggers, with a holdout) before an effect is published
    min_actions: int = Field(default=5, ge=2)


class RuleConfig(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=100)
    description: str = ""
    query: str = Field(min_length=1)
    baseline: Baseline | None = None
    trigger: Trigger
    action: Action
    priority: int = 0
    exclusive_group: str | None = None
    cooldown: DurationOrZero = 900.0
    budget_per_hour: int | None = Field(default=None, ge=0)
    verify: VerifyConfig | None = None
    dry_run: bool = False


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class MaintenanceWindow(Model):
    days: list[Weekday] = []  # empty: every day
    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)  # at or before start: ends the next day

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceWindow:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the window would be empty")
        return self


class MaintenanceConfig(Model):
    timezone: str = "UTC"
    windows: list[MaintenanceWindow] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value


class Config(Model):
    prometheus: PrometheusConfig = PrometheusConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    poll_interval: Duration = 30.0
    max_poll_backoff: Duration = 300.0
    listen: str = "0.0.0.0:9878"
    state: str = "enhancer-state.db"
    dry_run: bool = False
    allowed_hosts: list[str] = []
    budget: BudgetConfig = BudgetConfig()
    lease: LeaseConfig = LeaseConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    rules: list[RuleConfig] = []

    def action_url(self, rule: RuleConfig) -> str | None:
        if isinstance(rule.action, WebhookAction):
            return rule.action.url
        if isinstance(rule.action, SilenceAction):
            return rule.action.url or self.alertmanager.url
        return None


def _union_names() -> frozenset[str]:
    """The `kind` tags of the baseline, trigger and action unions, and SecretRef."""
    names = {"SecretRef"}
    for union in (Baseline, Trigger, Action):
        for member in get_args(get_args(union)[0]):
            names.update(get_args(member.model_fields["kind"].annotation))
    return frozenset(names)


_UNION_NAMES = _union_names()


def load_config(path: str | Path) -> Config:
    config = load_model(Config, path, _UNION_NAMES)
    _check(config, path)
    return config


def parse_config(raw: Any, source: str | Path = "<config>") -> Config:
    config = validate_model(Config, raw, str(source), _UNION_NAMES)
    _check(config, source)
    return config


def _check(config: Config, source: str | Path) -> None:
    """Checks across keys that a per-field model cannot express."""
    renew = config.lease.renew_interval
    if renew is not None and not 0 < renew < config.lease.ttl:
        raise ConfigError.at(
            source,
            "lease.renew_interval",
            f"must be above 0 and below lease.ttl ({config.lease.ttl:g}s), or the lease lapses between renewals",
        )
    seen: set[str] = set()
    for index, rule in enumerate(config.rules):
        here = f"rules.{index}"
        if rule.name in seen:
            raise ConfigError.at(source, f"{here}.name", f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        if rule.trigger.kind in ("deviation", "ratio") and rule.baseline is None:
            raise ConfigError.at(
                source, f"{here}.baseline", f"trigger kind {rule.trigger.kind!r} needs a baseline (robust or seasonal)"
            )
        if rule.verify is not None:
            reach = lookback_seconds(rule.query)
            if rule.verify.after < reach:
                raise ConfigError.at(
                    source,
                    f"{here}.verify.after",
                    f"{shown(rule.verify.after)} is shorter than the {shown(reach)} the rule's query reads back: "
                    f"the reading after an action would include samples from before it; make it at least "
                    f"{shown(reach)}",
                )
        url = config.action_url(rule)
        if url is not None and templates.FIELD.search(url):
            # a label value would choose the path, the query or even the host: the URL is fixed
            raise ConfigError.at(
                source,
                f"{here}.action.url",
                "template fields are not allowed in a URL (a label value could change where it goes); "
                "put {labels.NAME} in the body",
            )
        if url is not None and not host_allowed(url, config.allowed_hosts):
            raise ConfigError.at(
                source,
                f"{here}.action.url",
                f"host {shown_host(url)!r} is not in allowed_hosts {config.allowed_hosts}",
            )
        action = rule.action
        template_sources: dict[str, Any] = {}
        if isinstance(action, WebhookAction):
            template_sources["body"] = action.body
            for name, header in action.headers.items():
                if isinstance(header, SecretRef) and (header.env is None) == (header.file is None):
                    raise ConfigError.at(
                        source, f"{here}.action.headers.{name}", "a secret header needs exactly one of env or file"
                    )
        elif isinstance(action, SilenceAction):
            template_sources["matchers"] = [m.value for m in action.matchers]
            template_sources["comment"] = action.comment
        elif isinstance(action, LogAction):
            template_sources["message"] = action.message
        for key, template in template_sources.items():
            unknown = templates.unknown_fields(template)
            if unknown:
                raise ConfigError.at(
                    source,
                    f"{here}.action.{key}",
                    f"unknown template field {{{unknown[0]}}}; use {{labels.NAME}}, "
                    "{value}, {baseline} or {rule}",
                )
