"""TLS, basic auth and response headers from a web config file in the format of
Prometheus's exporter-toolkit (https://github.com/prometheus/exporter-toolkit,
docs/web-configuration.md), so users configure the exporter and the enhancer like every
other exporter.

The file is re-read when it changes: a renewed certificate is picked up at the next
TLS handshake and a changed password at the next request, without a restart. A file
that breaks while running is logged and the last good one stays in force.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client.metrics_core import Metric
from pydantic import field_validator

from servicekit.config import ConfigError, Model, load_model

log = logging.getLogger(__name__)

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# exporter-toolkit's client_auth_type values that Python's ssl module can honour exactly.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


class TLSServerConfig(Model):
    cert_file: str
    key_file: str
    client_auth_type: Literal["NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"] = "NoClientCert"
    client_ca_file: str | None = None
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS13"


class HTTPServerConfig(Model):
    headers: dict[str, str] = {}

    @field_validator("headers")
    @classmethod
    def _no_reserved(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in ("content-type", "content-encoding", "content-length", "authorization"):
                raise ValueError(f"header {name!r} cannot be set")
        return headers


class WebConfigModel(Model):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: dict[str, str] = {}

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"user {user!r}: password must be a bcrypt hash ($2y$...), not plain text")
        return users


def _load_model(path: str) -> WebConfigModel:
    model = load_model(WebConfigModel, path)
    tls = model.tls_server_config
    if tls is not None:
        base = Path(path).parent
        for key in ("cert_file", "key_file", "client_ca_file"):
            value = getattr(tls, key)
            if value and not (base / value).is_file():
                raise ConfigError(f"{path}: tls_server_config.{key}: file {value!r} not found")
        if tls.client_auth_type != "NoClientCert" and not tls.client_ca_file:
            raise ConfigError(f"{path}: tls_server_config.client_ca_file: required for {tls.client_auth_type}")
        if _TLS_VERSIONS[tls.min_version] > _TLS_VERSIONS[tls.max_version]:
            raise ConfigError(f"{path}: tls_server_config.min_version: higher than max_version")
    return model


def _ssl_context(path: str, tls: TLSServerConfig) -> ssl.SSLContext:
    base = Path(path).parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _TLS_VERSIONS[tls.min_version]
    context.maximum_version = _TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(base / tls.cert_file, base / tls.key_file)
        context.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
        if tls.client_ca_file:
            context.load_verify_locations(cafile=str(base / tls.client_ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"{path}: tls_server_config: cannot load certificate or key: {exc}") from None
    return context


@dataclass
class _Loaded:
    model: WebConfigModel
    stamp: tuple[tuple[str, int | None, int | None], ...]
    context: ssl.SSLContext | None
    verified: dict[tuple[str, bytes], bool] = field(default_factory=dict)


class WebConfig:
    """The live web configuration of one server."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self.unauthorized_total = 0
        self._loaded = self._load()

    def _stamp(self) -> tuple[tuple[str, int | None, int | None], ...]:
        files = [self.path]
        tls = getattr(self, "_loaded", None) and self._loaded.model.tls_server_config
        if tls:
            base = Path(self.path).parent
            files += [str(base / f) for f in (tls.cert_file, tls.key_file, tls.client_ca_file) if f]
        stamp: list[tuple[str, int | None, int | None]] = []
        for name in files:
            try:
                st = os.stat(name)
                stamp.append((name, st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append((name, None, None))
        return tuple(stamp)

    def _load(self) -> _Loaded:
        model = _load_model(self.path)
        context = _ssl_context(self.path, model.tls_server_config) if model.tls_server_config else None
        if context is not None:
            context.sni_callback = self._on_handshake
        loaded = _Loaded(model, (), context)
        self._loaded = loaded
        loaded.stamp = self._stamp()
        return loaded

    def current(self) -> _Loaded:
        """The configuration in force, re-read if any of its files changed."""
        with self._lock:
            if self._stamp() != self._loaded.stamp:
                previous = self._loaded
                try:
                    self._load()
                    log.info("web config %s reloaded", self.path)
                except ConfigError as exc:
                    self._loaded = previous
                    previous.stamp = self._stamp()  # do not retry until it changes again
                    log.error("web config reload failed, keeping the previous one: %s", exc)
            return self._loaded

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._loaded.context

    def _on_handshake(self, sslobj: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        loaded = self.current()
        if loaded.context is not None and loaded.context is not context:
            sslobj.context = loaded.context

    @staticmethod
    def check_basic_auth(loaded: _Loaded, header: str | None) -> bool:
        """Whether an Authorization header passes the basic auth of the config `loaded`."""
        users = loaded.model.basic_auth_users
        if not users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = users.get(user)
        if hashed is None:
            return False
        # bcrypt costs ~50 ms by design; remember verdicts per (user, password digest).
        key = (user, hashlib.sha256(password.encode()).digest())
        verdict = loaded.verified.get(key)
        if verdict is None:
            verdict = bcrypt.checkpw(password.encode(), hashed.encode())
            if len(loaded.verified) < 1024:
                loaded.verified[key] = verdict
        return verdict

    def middleware(self) -> Middleware:
        @web.middleware
        async def web_config_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            response: web.StreamResponse
            # one look at the files per request: auth and headers from the same config
            loaded = self.current()
            headers = loaded.model.http_server_config.headers
            if not self.check_basic_auth(loaded, request.headers.get("Authorization")):
                self.unauthorized_total += 1
                response = web.Response(
                    status=401, text="Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="inventory-monitor"'}
                )
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    exc.headers.update(headers)
                    raise
            response.headers.update(headers)
            return response

        return web_config_middleware

    def families(self) -> list[Metric]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "inventory_exporter_http_unauthorized_requests",
            "Requests refused with 401 for a missing or wrong basic-auth password.",
        )
        family.add_metric([], self.unauthorized_total)
        return [family]


def load_web_config(path: str | None) -> WebConfig | None:
    """None when no file is given; ConfigError (one line) when the file is bad."""
    return WebConfig(path) if path else None
