"""enhancer.yml as typed models; every problem becomes one line `FILE: key.path: problem`."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from enhancer import templates

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A bad config file; str() is the single line the CLI prints."""

    def __init__(self, file: str | Path, path: str, problem: str):
        self.file, self.path, self.problem = str(file), path, problem
        super().__init__(f"{file}: {path}: {problem}" if path else f"{file}: {problem}")


def parse_duration(raw: Any) -> float:
    """'90s', '5m', '1h30m', '1w' or a number of seconds -> seconds."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration like 30s, 5m, 1h, 1w")
    if isinstance(raw, (int, float)):
        seconds = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        parts = list(_DURATION_PART.finditer(text))
        if not text or "".join(p.group(0) for p in parts) != text:
            raise ValueError(f"invalid duration {raw!r}: expected a duration like 30s, 5m, 1h, 1w")
        seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts)
    else:
        raise ValueError("expected a duration like 30s, 5m, 1h, 1w")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError("duration must be a finite number of seconds >= 0")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


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


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PrometheusConfig(Model):
    url: str = "http://127.0.0.1:9090"
    timeout: Duration = 10.0
    retries: int = Field(2, ge=0, le=10)
    backoff: Duration = 0.5


class AlertmanagerConfig(Model):
    url: str = "http://127.0.0.1:9093"


class LeaseConfig(Model):
    """Leader lease for active/standby enhancers on one PostgreSQL state (enhancer/lease.py).

    Ignored with SQLite state, which is single-instance.
    """

    enabled: bool = True
    ttl: Duration = Field(15.0, ge=1.0)
    renew_interval: Duration | None = None   # default ttl / 3
    holder: str | None = Field(None, min_length=1, max_length=200)   # default host:pid:random


class BudgetConfig(Model):
    per_hour: int = Field(30, ge=0)


class RobustBaseline(Model):
    """Median and scaled MAD of the signal over [now - offset - window, now - offset]."""

    kind: Literal["robust"]
    query: str | None = None
    window: Duration = 3600.0
    offset: Duration = 0.0
    step: Duration = 60.0
    min_samples: int = Field(30, ge=1)
    refresh: Duration = 300.0


class SeasonalBaseline(Model):
    """Median and scaled MAD of the same time of week over the last `weeks` weeks."""

    kind: Literal["seasonal"]
    query: str | None = None
    weeks: int = Field(4, ge=1, le=52)
    window: Duration = 3600.0
    step: Duration = 300.0
    min_samples: int = Field(24, ge=1)
    refresh: Duration = 900.0


Baseline = Annotated[Union[RobustBaseline, SeasonalBaseline], Field(discriminator="kind")]


class _TriggerBase(Model):
    for_: Duration = Field(0.0, alias="for")


class DeviationTrigger(_TriggerBase):
    """value > baseline + k x scaled MAD, and by at least min_delta."""

    kind: Literal["deviation"]
    k: float = Field(3.0, gt=0)
    min_delta: float = Field(0.0, ge=0)


class RatioTrigger(_TriggerBase):
    """value > x x baseline."""

    kind: Literal["ratio"]
    x: float = Field(gt=0)


class ThresholdTrigger(_TriggerBase):
    kind: Literal["threshold"]
    op: Literal["above", "below"] = "above"
    value: float


Trigger = Annotated[Union[DeviationTrigger, RatioTrigger, ThresholdTrigger], Field(discriminator="kind")]


class SecretRef(Model):
    """A header value read at send time, so secrets never sit in the config file."""

    env: str | None = None
    file: str | None = None
    prefix: str = ""


class _ActionBase(Model):
    timeout: Duration = 5.0
    retries: int = Field(2, ge=0, le=10)
    backoff: Duration = 1.0


class WebhookAction(_ActionBase):
    kind: Literal["webhook"]
    url: str
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    body: Any = None
    headers: dict[str, Union[str, SecretRef]] = {}


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


Action = Annotated[Union[WebhookAction, SilenceAction, LogAction], Field(discriminator="kind")]


class VerifyConfig(Model):
    after: Duration = 300.0
    better: Literal["lower", "higher"] = "lower"
    min_improvement: float = 0.0
    backoff_after: int = Field(3, ge=1)
    backoff_factor: float = Field(4.0, ge=1)


class RuleConfig(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=100)
    description: str = ""
    query: str = Field(min_length=1)
    baseline: Baseline | None = None
    trigger: Trigger
    action: Action
    priority: int = 0
    exclusive_group: str | None = None
    cooldown: Duration = 900.0
    budget_per_hour: int | None = Field(None, ge=0)
    verify: VerifyConfig | None = None
    dry_run: bool = False


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
    rules: list[RuleConfig] = []

    def action_url(self, rule: RuleConfig) -> str | None:
        if isinstance(rule.action, WebhookAction):
            return rule.action.url
        if isinstance(rule.action, SilenceAction):
            return rule.action.url or self.alertmanager.url
        return None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, where, f"invalid YAML: {' '.join(str(problem).split())}") from None
    return parse_config(raw if raw is not None else {}, path)


def parse_config(raw: Any, source: str | Path = "<config>") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "top level must be a mapping")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(source, _key_path(first["loc"]), _problem(first) + more) from None
    _check(config, source)
    return config


_UNION_TAGS = {"robust", "seasonal", "deviation", "ratio", "threshold", "webhook",
               "alertmanager_silence", "log", "str", "SecretRef"}


def _key_path(loc: tuple) -> str:
    parts = []
    for item in loc:
        text = str(item)
        # pydantic inserts union tags and validator names into the location; users never wrote them
        if text in _UNION_TAGS or "[" in text or "(" in text:
            continue
        parts.append(text)
    return ".".join(parts)


def _problem(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown kind {error.get('ctx', {}).get('tag')!r}, expected one of {expected}"
    if kind == "union_tag_not_found":
        return f"missing 'kind', expected one of {error.get('ctx', {}).get('expected_tags', '')}"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    message = " ".join(message.split())
    return message[:1].lower() + message[1:]


def _check(config: Config, source: str | Path) -> None:
    """Checks across keys that a per-field model cannot express."""
    for key, url in (("prometheus.url", config.prometheus.url), ("alertmanager.url", config.alertmanager.url)):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(source, key, f"not an http(s) URL: {url!r}")
    renew = config.lease.renew_interval
    if renew is not None and not 0 < renew < config.lease.ttl:
        raise ConfigError(source, "lease.renew_interval",
                          f"must be above 0 and below lease.ttl ({config.lease.ttl:g}s), or the lease lapses "
                          "between renewals")
    seen: set[str] = set()
    for index, rule in enumerate(config.rules):
        here = f"rules.{index}"
        if rule.name in seen:
            raise ConfigError(source, f"{here}.name", f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        if rule.trigger.kind in ("deviation", "ratio") and rule.baseline is None:
            raise ConfigError(source, f"{here}.baseline",
                              f"trigger kind {rule.trigger.kind!r} needs a baseline (robust or seasonal)")
        url = config.action_url(rule)
        if url is not None and not host_allowed(url, config.allowed_hosts):
            host = urlsplit(url).netloc or url
            raise ConfigError(source, f"{here}.action.url",
                              f"host {host!r} is not in allowed_hosts {config.allowed_hosts}")
        action = rule.action
        template_sources: dict[str, Any] = {}
        if isinstance(action, WebhookAction):
            template_sources["body"] = action.body
            for name, header in action.headers.items():
                if isinstance(header, SecretRef) and (header.env is None) == (header.file is None):
                    raise ConfigError(source, f"{here}.action.headers.{name}",
                                      "a secret header needs exactly one of env or file")
        elif isinstance(action, SilenceAction):
            template_sources["matchers"] = [m.value for m in action.matchers]
            template_sources["comment"] = action.comment
        elif isinstance(action, LogAction):
            template_sources["message"] = action.message
        for key, template in template_sources.items():
            unknown = templates.unknown_fields(template)
            if unknown:
                raise ConfigError(source, f"{here}.action.{key}",
                                  f"unknown template field {{{unknown[0]}}}; use {{labels.NAME}}, "
                                  "{value}, {baseline} or {rule}")
