"""servicekit.secrets: one way to read a secret, a type that never prints it, one mask."""

from __future__ import annotations

import io
import json
import logging
import os

import pytest

from servicekit.config import ConfigError
from servicekit.logs import JsonFormatter, TextFormatter
from servicekit.secrets import MASK, Secret, SecretError, read_secret, redact

VALUE = "s3cr3t-Value-42"


def test_read_from_the_environment_drops_one_trailing_newline(monkeypatch):
    for raw, expected in [
        (VALUE, VALUE),
        (VALUE + "\n", VALUE),
        (VALUE + "\r\n", VALUE),
        (VALUE + "\n\n", VALUE + "\n"),
        (f" {VALUE} ", f" {VALUE} "),
    ]:
        monkeypatch.setenv("SK_TEST_SECRET", raw)
        assert read_secret(env="SK_TEST_SECRET").reveal() == expected


def test_read_from_a_file_behaves_like_the_environment(tmp_path):
    path = tmp_path / "token"
    for raw, expected in [(VALUE + "\n", VALUE), (VALUE, VALUE), ("a\nb\n", "a\nb"), (VALUE + "\r\n", VALUE)]:
        path.write_bytes(raw.encode())
        assert read_secret(file=path).reveal() == expected
        assert read_secret(file=str(path)).reveal() == expected


def test_the_environment_wins_and_nothing_named_is_none(monkeypatch, tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    monkeypatch.setenv("SK_TEST_SECRET", "from-env")
    assert read_secret("SK_TEST_SECRET", tmp_path / "token").reveal() == "from-env"
    assert read_secret(None, None) is None
    assert read_secret("", "") is None


def test_errors_name_the_variable_or_the_file_and_are_config_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("SK_TEST_UNSET", raising=False)
    with pytest.raises(SecretError) as caught:
        read_secret(env="SK_TEST_UNSET")
    assert str(caught.value) == "environment variable SK_TEST_UNSET is not set"
    assert isinstance(caught.value, ConfigError)  # the reporter's CLI turns it into its one line

    missing = tmp_path / "missing"
    with pytest.raises(SecretError, match=rf"^cannot read {missing}: No such file or directory$"):
        read_secret(file=missing)

    unreadable = tmp_path / "binary"
    unreadable.write_bytes(b"\xff\xfe" + VALUE.encode())
    with pytest.raises(SecretError) as caught:
        read_secret(file=unreadable)
    assert str(caught.value) == f"cannot read {unreadable}: not UTF-8 text"
    assert VALUE not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_permission_names_the_reason(tmp_path):
    path = tmp_path / "token"
    path.write_text(VALUE)
    path.chmod(0)
    with pytest.raises(SecretError, match="Permission denied") as caught:
        read_secret(file=path)
    assert VALUE not in str(caught.value)


def test_a_secret_never_prints_its_value():
    secret = Secret(VALUE)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>20}",
        "%s" % secret,  # noqa: UP031 - the logging module formats this way
        "%r" % secret,  # noqa: UP031
        repr([secret]),
        repr({"token": secret}),
        str(RuntimeError(secret)),
        str(RuntimeError(f"bad {secret}")),
    ]
    for text in shown:
        assert VALUE not in text and MASK in text, text
    assert secret.reveal() == VALUE
    assert bool(secret) and not Secret("")
    with pytest.raises(AttributeError):
        secret.other = 1  # no __dict__ to dump the value into by accident


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_secret_in_a_log_line_is_masked(formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.servicekit.secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        secret = Secret(VALUE)
        logger.warning("token %s rejected (%r)", secret, secret, extra={"labels": {"token": secret}})
        try:
            raise ValueError(f"refused {secret}")
        except ValueError:
            logger.exception("with a trace")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert VALUE not in output
    assert output.count(MASK) >= 3
    if isinstance(formatter, JsonFormatter):
        assert all(json.loads(line) for line in output.splitlines() if line.startswith("{"))


def test_redact_masks_every_given_secret_with_the_one_mask():
    text = f"echo: Authorization: Bearer {VALUE}; X-Api-Key: key-2; {VALUE}"
    assert redact(text, Secret(VALUE), "key-2") == f"echo: Authorization: Bearer {MASK}; X-Api-Key: {MASK}; {MASK}"
    # nothing to mask: None, an empty string and an empty Secret are passed over
    assert redact("plain text", None, "", Secret("")) == "plain text"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://inventory:pw-1@db.internal:5432/inv", f"postgresql://inventory:{MASK}@db.internal:5432/inv"),
        ("postgresql+psycopg://u:p@ss@db/inv?sslmode=require", f"postgresql+psycopg://u:{MASK}@db/inv?sslmode=require"),
        ("mysql://u:pa/ss@db", f"mysql://u:{MASK}@db"),
        ("https://bot:t%40k3n@hooks.example.org/x?y=1", f"https://bot:{MASK}@hooks.example.org/x?y=1"),
        ("redis://:only-password@cache:6379", f"redis://:{MASK}@cache:6379"),
        # no password: nothing to hide
        ("https://user@example.org/path", "https://user@example.org/path"),
        ("http://127.0.0.1:9090/api/v1/query?query=up", "http://127.0.0.1:9090/api/v1/query?query=up"),
        ("http://host:9090/api?to=ops@example.org", "http://host:9090/api?to=ops@example.org"),
    ],
)
def test_redact_hides_the_password_of_a_url(url, shown):
    assert redact(url) == shown
    assert redact(f"webhook {url} failed: refused") == f"webhook {shown} failed: refused"


def test_redact_hides_every_url_password_in_a_text():
    text = "from postgresql://a:one@h1/db to mysql://b:two@h2/db\nthen https://c:three@h3"
    redacted = redact(text)
    assert not any(word in redacted for word in ("one", "two", "three"))
    assert redacted.count(MASK) == 3 and "h1/db" in redacted and "\nthen" in redacted
