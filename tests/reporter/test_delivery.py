"""Delivery against real servers: aiosmtpd with STARTTLS (a certificate made here) and AUTH,
and an HTTP webhook receiver. No secret may appear in a log, an output or a file."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from reporter.cli import main
from reporter.render_pdf import chromium_available
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config, free_port

pytestmark = pytest.mark.prometheus
PASSWORD = "s3cret-Smtp-Pa55word"
TOKEN = "webhook-T0ken-value"
USER = "reports@example.test"


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Mailbox:
    def __init__(self):
        self.messages: list[tuple[object, bytes]] = []
        self.logins: list[tuple[str, bool]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((session, envelope.original_content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USER
            and auth_data.password.decode() == PASSWORD
        )
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


@pytest.fixture
def smtp_server(tmp_path):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticate,
    )
    controller.start()
    yield controller, mailbox, cert
    controller.stop()


@pytest.fixture
def webhook_receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/report", received
    server.shutdown()
    server.server_close()


def week_end() -> str:
    return dt.datetime.fromtimestamp(d.B, dt.UTC).strftime("%Y-%m-%d")


def email_config(port: int, cert: Path, password_file: Path | None = None) -> dict:
    config = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "starttls",
        "ca_file": str(cert),
        "username": USER,
        "from": USER,
        "to": ["ops@example.test", "lead@example.test"],
        "timeout": "5s",
    }
    if password_file:
        config["password_file"] = str(password_file)
    else:
        config["password_env"] = "REPORTER_TEST_SMTP_PASSWORD"
    return config


def assert_no_secret(caplog, capsys_text: str, archive: Path) -> None:
    for secret in (PASSWORD, TOKEN):
        assert secret not in caplog.text
        assert secret not in capsys_text
        for path in archive.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.skipif(not chromium_available("/usr/bin/chromium"), reason="the email carries the PDF")
def test_email_and_webhook_deliver_the_report(
    prometheus, smtp_server, webhook_receiver, write_config, tmp_path, monkeypatch, caplog, capsys
):
    controller, mailbox, cert = smtp_server
    hook_url, received = webhook_receiver
    monkeypatch.setenv("REPORTER_TEST_SMTP_PASSWORD", PASSWORD)
    (tmp_path / "token").write_text(TOKEN + "\n")
    archive = tmp_path / "archive"
    config = base_config(
        prometheus.url,
        archive,
        output={"base_url": "https://reports.example.test/inv"},
        delivery={
            "email": email_config(controller.port, cert),
            "webhook": {"url": hook_url, "token_file": str(tmp_path / "token"), "timeout": "5s"},
        },
    )
    caplog.set_level(logging.DEBUG)
    code = main(
        [
            "--config",
            str(write_config(config)),
            "--period",
            "weekly",
            "--end",
            week_end(),
            "--format",
            "html,pdf,json",
            "--send",
            "--log-level",
            "debug",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err

    assert mailbox.logins == [(USER, True)]
    assert len(mailbox.messages) == 1
    session, raw = mailbox.messages[0]
    assert session.ssl is not None, "the message was not sent over STARTTLS"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    directory = next(archive.glob("weekly-*"))
    label = json.loads((directory / f"{directory.name}.json").read_text())["period"]["label"]
    assert message["Subject"] == f"Inventory report: {label}"
    assert message["To"] == "ops@example.test, lead@example.test"
    body = message.get_body(("plain",)).get_content()
    assert "Availability (share of time up) fell" in body
    assert f"https://reports.example.test/inv/{directory.name}/{directory.name}.html" in body
    assert message.get_body(("html",)).get_content().startswith("<!DOCTYPE html>")
    attachments = list(message.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [
        ("application/pdf", f"{directory.name}.pdf")
    ]
    assert attachments[0].get_content() == (directory / f"{directory.name}.pdf").read_bytes()

    assert len(received) == 1
    headers, payload = received[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    report = json.loads((directory / f"{directory.name}.json").read_text())
    assert payload["figures"] == report["figures"] and payload["changes"] == report["changes"]
    assert payload["link"] == f"https://reports.example.test/inv/{directory.name}/{directory.name}.html"

    manifest = json.loads((directory / "manifest.json").read_text())
    assert "emailed via 127.0.0.1" in caplog.text  # the log was captured: the secret check below bites
    assert manifest["deliveries"]["email"]["ok"] and manifest["deliveries"]["webhook"]["ok"]
    assert_no_secret(caplog, captured.out + captured.err, archive)


def test_smtp_refusing_and_hanging_are_bounded_and_logged_without_the_password(
    prometheus, smtp_server, write_config, tmp_path, monkeypatch, caplog, capsys
):
    controller, mailbox, cert = smtp_server
    (tmp_path / "password").write_text("wrong-" + PASSWORD)
    archive = tmp_path / "archive"
    caplog.set_level(logging.DEBUG)
    config = base_config(
        prometheus.url, archive, delivery={"email": email_config(controller.port, cert, tmp_path / "password")}
    )
    code = main(
        ["--config", str(write_config(config)), "--period", "weekly", "--end", week_end(), "--format", "json", "--send"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.strip().splitlines()[-1].startswith("error: email to 127.0.0.1:")
    assert "SMTPAuthenticationError" in captured.err, captured.err
    # smtplib tries each offered mechanism (PLAIN, then LOGIN): every attempt refused
    assert mailbox.messages == [] and mailbox.logins and all(login == (USER, False) for login in mailbox.logins)
    directory = next(archive.glob("weekly-*"))
    assert (directory / f"{directory.name}.json").exists(), "the report stays in the archive"
    assert json.loads((directory / "manifest.json").read_text())["deliveries"]["email"]["ok"] is False
    assert "SMTPAuthenticationError" in caplog.text
    assert "wrong-" + PASSWORD not in caplog.text + captured.out + captured.err

    # a server that accepts the connection and never speaks
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        config["delivery"]["email"].update(port=silent.getsockname()[1], timeout="1s")
        started = time.monotonic()
        code = main(
            [
                "--config",
                str(write_config(config, "silent.yml")),
                "--period",
                "weekly",
                "--end",
                week_end(),
                "--format",
                "json",
                "--send",
            ]
        )
        elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 1 and "timed out" in captured.err and elapsed < 15
    assert_no_secret(caplog, captured.out + captured.err, archive)
