"""TLS settings of an outgoing connection, spelt as Prometheus's `tls_config`
(https://prometheus.io/docs/prometheus/latest/configuration/configuration/#tls_config):
trust a private CA, present a client certificate, pin the server name.

    tls_config:
      ca_file: /etc/inventory/wms-ca.pem       # replaces the system roots, as in Prometheus
      cert_file: /etc/inventory/client.pem     # with key_file: mutual TLS
      key_file: /etc/inventory/client.key
      server_name: wms.internal                # when the URL's host is not in the certificate
      insecure_skip_verify: false

Every file is loaded when the config is validated, so a missing file, a certificate
that is no PEM or a key that does not match its certificate is a config error at its
key, not a failed run later.
"""

from __future__ import annotations

import ssl

from pydantic import model_validator

from servicekit.config import Model, problem_at


class TLSClientConfig(Model):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _check_files(self) -> TLSClientConfig:
        if bool(self.cert_file) != bool(self.key_file):
            raise problem_at("cert_file" if self.key_file else "key_file", "set cert_file and key_file together")
        self.ssl_context()  # raises at the key of the file that does not load
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """A client context: the system roots unless ca_file, TLS 1.2 or newer."""
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise problem_at("ca_file", f"cannot load {self.ca_file}: {_reason(exc)}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file and self.key_file:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise problem_at(
                    "cert_file", f"cannot load {self.cert_file} with {self.key_file}: {_reason(exc)}"
                ) from None
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or "not a valid PEM file"
    return exc.strerror or type(exc).__name__
