"""How a service authenticates to Prometheus or Alertmanager, spelt as Prometheus's own
`http_config` (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#http_config):

    basic_auth:                     # Authorization: Basic base64(username:password)
      username: enhancer
      password_file: /run/secrets/prometheus-password   # or password_env: PROMETHEUS_PASSWORD
    authorization:                  # Authorization: <type> <credentials>
      type: Bearer                  # the default
      credentials_file: /run/secrets/prometheus-token   # or credentials_env: PROMETHEUS_TOKEN
    tls_config: {ca_file: ..., cert_file: ..., key_file: ..., server_name: ..., insecure_skip_verify: false}

basic_auth and authorization exclude each other, as in Prometheus. Secrets come from a file
(Prometheus's `password_file`, `credentials_file`) or, as everywhere else in this project,
from an environment variable (`password_env`, `credentials_env`); an inline `password` or
`credentials` is refused, so no secret sits in a config file. They are read at load (a
missing file or variable is a config error at its key) and again for every request, so a
rotated file is picked up without a restart, as Prometheus does.
"""

from __future__ import annotations

import base64
import ssl

from pydantic import Field, model_validator

from servicekit.config import Model, problem_at
from servicekit.secrets import Secret, SecretError, read_secret, secret_setting
from servicekit.tls_client import TLSClientConfig


class BasicAuth(Model):
    username: str = Field(default="", max_length=256)
    # Prometheus's inline keys, recognised only to be refused with a pointer to the others.
    password: str | None = Field(default=None, repr=False)
    password_file: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _check(self) -> BasicAuth:
        if ":" in self.username:
            raise problem_at("username", "must not contain ':' (HTTP basic auth separates the password with it)")
        if secret_setting(self.password, self.password_env, self.password_file, "password") is None:
            raise problem_at("password_file", "set password_file or password_env")
        return self

    def header(self) -> str:
        secret = read_secret(self.password_env, self.password_file)
        password = secret.reveal() if secret is not None else ""
        return "Basic " + base64.b64encode(f"{self.username}:{password}".encode()).decode("ascii")


class Authorization(Model):
    type: str = Field(default="Bearer", pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    credentials: str | None = Field(default=None, repr=False)
    credentials_file: str | None = None
    credentials_env: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Authorization:
        if self.type.lower() == "basic":
            raise problem_at("type", "use basic_auth for Basic authorization, as Prometheus requires")
        if secret_setting(self.credentials, self.credentials_env, self.credentials_file, "credentials") is None:
            raise problem_at("credentials_file", "set credentials_file or credentials_env")
        return self

    def header(self) -> str:
        secret = read_secret(self.credentials_env, self.credentials_file)
        return f"{self.type} {secret.reveal() if secret is not None else ''}"


class HTTPClientConfig(Model):
    """The authentication and TLS keys of Prometheus's http_config; a connection's config
    (`prometheus:`, `alertmanager:`) extends it next to its `url`."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSClientConfig | None = None

    @model_validator(mode="after")
    def _exclusive(self) -> HTTPClientConfig:
        if self.basic_auth is not None and self.authorization is not None:
            raise problem_at("authorization", "set basic_auth or authorization, not both (as in Prometheus)")
        return self

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header, its secret read now (a rotated file is picked up).

        Raises SecretError naming the variable or the file, never the value."""
        if self.basic_auth is not None:
            return {"Authorization": self.basic_auth.header()}
        if self.authorization is not None:
            return {"Authorization": self.authorization.header()}
        return {}

    def auth_secret(self) -> Secret | None:
        """The secret the Authorization header carries, to mask out of an echoed answer."""
        try:
            if self.basic_auth is not None:
                return read_secret(self.basic_auth.password_env, self.basic_auth.password_file)
            if self.authorization is not None:
                return read_secret(self.authorization.credentials_env, self.authorization.credentials_file)
        except SecretError:
            return None
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS client context of tls_config, or None for the defaults (system roots)."""
        return self.tls_config.ssl_context() if self.tls_config is not None else None
