"""Log lines: one record is one line whatever a label value holds, and no URL password shows."""

from __future__ import annotations

import io
import json
import logging

import pytest

from servicekit.logs import JsonFormatter, TextFormatter, escape_control

FORGED = "wh-1\nts=2030-01-01T00:00:00.000Z level=ERROR logger=enhancer msg=forged\r\x1b[2K\x1b[31mhidden\u2028x\x85y"


def emit(formatter: logging.Formatter, *args, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.servicekit.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        if exc:
            try:
                raise ValueError(args[1])
            except ValueError:
                logger.exception(*args)
        else:
            logger.info(*args)
    finally:
        logger.handlers[:] = []
    return stream.getvalue()


def test_text_lines_escape_control_characters_so_a_label_cannot_forge_a_line():
    output = emit(TextFormatter(), "rule r target %s: fired", FORGED)
    assert output.endswith("\n") and output.count("\n") == 1, output
    # Python's splitlines also breaks at \r, \x85 and \u2028: still one line
    assert len(output.splitlines()) == 1, output
    assert "\x1b" not in output and "\r" not in output
    assert "target wh-1\\nts=2030-01-01T00:00:00.000Z level=ERROR" in output
    assert "\\r\\x1b[2K\\x1b[31mhidden\\u2028x\\x85y: fired" in output


def test_a_trace_stays_on_its_records_line_in_text():
    output = emit(TextFormatter(), "action failed: %s", FORGED, exc=True)
    assert len(output.splitlines()) == 1, output
    line = output.splitlines()[0]
    assert " exc=Traceback (most recent call last):\\n" in line
    assert "ValueError: wh-1\\nts=2030" in line


def test_json_lines_stay_one_line_and_parse():
    output = emit(JsonFormatter(), "target %s", FORGED)
    assert len(output.splitlines()) == 1, output
    assert json.loads(output)["msg"] == f"target {FORGED}"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_url_passwords_and_token_parameters_are_masked_in_every_line(formatter):
    output = emit(
        formatter,
        "cannot open %s, nor %s",
        "postgresql://enhancer:pg-PW-1@db.internal/state",
        "https://hooks.example.org/x?token=tok-PW-2&y=1",
    )
    output += emit(formatter, "failed: %s", "http://admin:prom-PW-3@prometheus:9090/api/v1/query", exc=True)
    for secret in ("pg-PW-1", "tok-PW-2", "prom-PW-3"):
        assert secret not in output, output
    assert "postgresql://enhancer:********@db.internal/state" in output
    assert "?token=********&y=1" in output


def test_escape_control_leaves_printable_text_alone():
    text = "Lager Nord – 1 000 Stück, 5 % <b>"
    assert escape_control(text) == text
    assert escape_control("a\tb\x00c\x7f") == "a\\tb\\x00c\\x7f"
