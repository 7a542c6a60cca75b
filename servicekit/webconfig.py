"""TLS, basic auth and response headers from a web config file in the format of
Prometheus's exporter-toolkit (https://github.com/prometheus/exporter-toolkit,
docs/web-configuration.md), so users configure the exporter and the enhancer like every
other exporter.

The file is re-read when it changes: a renewed certificate is picked up at the next
TLS handshake and a changed password at the next request, without a restart. A file
that breaks while running is logged and the last good one stays in force.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import ssl
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client.metrics_core import Metric
from pydantic import field_validator

from servicekit.config import ConfigError, Model, load_yaml, problem_at, validate_model

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


# A bcrypt hash as htpasswd and Go's bcrypt write it: version, two-digit cost, 22 salt and
# 31 hash characters. Costs above 14 take seconds per login; below 4 bcrypt refuses them.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
MIN_BCRYPT_COST = 4
MAX_BCRYPT_COST = 14
BCRYPT_MAX_PASSWORD_BYTES = 72
_VERIFIED_CACHE_SIZE = 100


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
        # Checked whole here: a hash that bcrypt cannot read would turn every login of the
        # user into a 500, and a cost of 31 would freeze the server at the first login.
        for user, hashed in users.items():
            match = _BCRYPT_HASH.fullmatch(hashed)
            if match is None:
                raise problem_at(
                    (user,),
                    f"user {user!r}: password must be a bcrypt hash ($2y$10$ and 53 characters of ./A-Za-z0-9), "
                    "as `htpasswd -nbBC 10 user password` prints it; not plain text",
                )
            cost = int(match.group(1))
            if not MIN_BCRYPT_COST <= cost <= MAX_BCRYPT_COST:
                raise problem_at(
                    (user,),
                    f"user {user!r}: bcrypt cost {cost} is outside {MIN_BCRYPT_COST}..{MAX_BCRYPT_COST} "
                    f"(each login at cost {MAX_BCRYPT_COST} takes about a second; 10 is usual)",
                )
        return users


def _load_model(path: str) -> WebConfigModel:
    data = load_yaml(path)
    if data is None:
        # An emptied file must not switch authentication off without a word: to serve
        # without TLS and auth, leave out --web.config.file (or write `{}` on purpose).
        raise ConfigError(f"{path}: (file): the web config is empty; write {{}} to serve without TLS and auth")
    model = validate_model(WebConfigModel, data, path)
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
    # Recent successful logins of this config, as exporter-toolkit keeps: a scraper's
    # repeated (user, password) costs a dict lookup, not a bcrypt run. Failures are not
    # kept, so wrong passwords cannot push the scraper's entry out.
    verified: OrderedDict[tuple[str, bytes], None] = field(default_factory=OrderedDict)

    def dummy_hash(self) -> bytes:
        """A hash as costly as the users' own, checked for unknown users so that an unknown
        user takes as long to refuse as a wrong password (no user enumeration by timing)."""
        hashes = self.model.basic_auth_users.values()
        return max(hashes, key=lambda h: int(h[4:6])).encode()


class TooManyLogins(Exception):
    """More password checks waiting than the pool takes: refuse now, check nothing."""


class PasswordChecks:
    """bcrypt checks in one thread of their own, at most MAX_WAITING queued.

    bcrypt costs ~50 ms at cost 10 by design and releases the GIL while it hashes, so in a
    thread it no longer stalls the event loop: scrapes with a cached login go on while
    wrong passwords are checked. One thread bounds the CPU an attacker can take to one
    core; the queue bound turns a flood into quick 429s instead of a growing backlog.
    """

    MAX_WAITING = 8

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
        self._waiting = 0
        # Cache keys are keyed digests of passwords, never the passwords themselves.
        self._key = secrets.token_bytes(32)

    def digest(self, user: str, password: bytes) -> tuple[str, bytes]:
        return user, hmac.new(self._key, password, hashlib.sha256).digest()

    async def check(self, password: bytes, hashed: bytes) -> bool:
        if self._waiting >= self.MAX_WAITING:
            raise TooManyLogins
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _checkpw, password, hashed)
        finally:
            self._waiting -= 1


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # validated at load; kept so a surprise is a 401, never a 500
        return False


class WebConfig:
    """The live web configuration of one server."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self.unauthorized_total = 0
        self.password_checks = PasswordChecks()
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

    async def check_basic_auth(self, loaded: _Loaded, header: str | None) -> bool:
        """Whether an Authorization header passes the basic auth of the config `loaded`;
        TooManyLogins when the password checks are saturated."""
        users = loaded.model.basic_auth_users
        if not users:
            return True
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        if len(password) > BCRYPT_MAX_PASSWORD_BYTES:
            return False  # bcrypt reads only 72 bytes: no stored password is longer
        key = self.password_checks.digest(user, password)
        if key in loaded.verified:
            loaded.verified.move_to_end(key)
            return True
        hashed = users.get(user)
        ok = await self.password_checks.check(password, hashed.encode() if hashed else loaded.dummy_hash())
        if not (ok and hashed):
            return False
        loaded.verified[key] = None
        if len(loaded.verified) > _VERIFIED_CACHE_SIZE:
            loaded.verified.popitem(last=False)
        return True

    def middleware(self) -> Middleware:
        @web.middleware
        async def web_config_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            response: web.StreamResponse
            # one look at the files per request: auth and headers from the same config
            loaded = self.current()
            headers = loaded.model.http_server_config.headers
            try:
                authorized = await self.check_basic_auth(loaded, request.headers.get("Authorization"))
            except TooManyLogins:
                self.unauthorized_total += 1
                response = web.Response(status=429, text="Too many login attempts\n", headers={"Retry-After": "1"})
                response.headers.update(headers)
                return response
            if not authorized:
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


def _basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    """(user, password) of a Basic Authorization header; the scheme is case-insensitive (RFC 7617)."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
        user, _, password = decoded.partition(b":")
        return user.decode("utf-8"), password
    except (ValueError, UnicodeDecodeError):
        return None


def load_web_config(path: str | None) -> WebConfig | None:
    """None when no file is given; ConfigError (one line) when the file is bad."""
    return WebConfig(path) if path else None
