"""The command line: bad config exits 2 with one line; a failed query exits 1 with one line and
writes nothing; --check-config; periods chosen from flags."""

from __future__ import annotations

import shutil
import socket
from datetime import UTC, datetime

import pytest

from reporter.cli import main
from tests.reporter import dataset as d
from tests.reporter.conftest import PrometheusServer, base_config

pytestmark = pytest.mark.prometheus


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "data, where",
    [
        ({"prometheus": {"url": "localhost:9090"}}, "prometheus.url: must be an http"),
        ({"prometheus": {"timeout": "ten seconds"}}, "prometheus.timeout: invalid duration"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
        ({"objectives": {"availability": 1.5}}, "objectives.availability:"),
        ({"changes": {"thresholds": {"service.nope": 0.1}}}, "changes.thresholds: unknown figure 'service.nope'"),
        ({"output": {"formats": ["html", "docx"]}}, "output.formats.1:"),
        ({"schedule": {"weekly": "0 7 * *"}}, "schedule.weekly: expected 5 cron fields"),
        ({"schedule": {"daily": "61 6 * * *"}}, "schedule.daily: minute: '61' outside 0-59"),
        (
            {
                "delivery": {
                    "email": {
                        "host": "smtp.example.com",
                        "from": "a@example.com",
                        "to": ["b@example.com"],
                        "username": "u",
                        "password": "inline-secret",
                    }
                }
            },
            "delivery.email.password: unknown key",
        ),
        (
            {
                "delivery": {
                    "email": {
                        "host": "smtp.example.com",
                        "from": "a@example.com",
                        "to": ["b@example.com"],
                        "username": "u",
                        "password_env": "REPORTER_TEST_UNSET_VARIABLE",
                    }
                }
            },
            "delivery.email.password_env: environment variable REPORTER_TEST_UNSET_VARIABLE is not set",
        ),
        (
            {"delivery": {"webhook": {"url": "hooks.example.com/report"}}},
            "delivery.webhook.url: must be an http:// or https:// URL",
        ),
        ({"surprise": 1}, "surprise: unknown key"),
    ],
)
def test_bad_config_exits_2_with_one_line(data, where, write_config, capsys):
    path = write_config(data)
    code, out, err = run(["--config", str(path), "--check-config"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"config error: {path}: ") and where in lines[0], lines[0]
    if "inline-secret" in str(data):
        assert "inline-secret" not in err


def test_unreadable_and_invalid_yaml(tmp_path, capsys):
    code, _, err = run(["--config", str(tmp_path / "missing.yml"), "--check-config"], capsys)
    assert code == 2 and err.count("\n") == 1 and "missing.yml: (file): cannot read" in err
    bad = tmp_path / "bad.yml"
    bad.write_text("prometheus: [unclosed\n")
    code, _, err = run(["--config", str(bad), "--check-config"], capsys)
    assert code == 2 and err.count("\n") == 1 and "invalid YAML" in err


def test_example_config_is_valid(monkeypatch, capsys):
    monkeypatch.setenv("INVENTORY_REPORT_SMTP_PASSWORD", "x")
    monkeypatch.setenv("INVENTORY_REPORT_WEBHOOK_TOKEN", "y")
    code, out, _ = run(["--config", "reporter/reporter.example.yml", "--check-config"], capsys)
    assert code == 0 and out.strip() == "reporter/reporter.example.yml: OK"


def test_bad_flags_exit_2(write_config, tmp_path, capsys):
    path = write_config(base_config("http://127.0.0.1:9", tmp_path / "archive"))
    for argv, words in (
        (["--period", "weekly", "--end", "23/11/2026"], "--end: invalid date"),
        (["--from", "2026-11-22", "--to", "2026-11-21"], "--to must be after --from"),
        (["--period", "daily", "--format", "html,docx"], "unknown format 'docx'"),
        ([], "choose a period"),
    ):
        code, _, err = run(["--config", str(path), *argv], capsys)
        assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "archive").exists()


def test_prometheus_down_exits_1_naming_the_query_and_writes_nothing(write_config, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    path = write_config(base_config(f"http://127.0.0.1:{port}", tmp_path / "archive"))
    code, out, err = run(["--config", str(path), "--period", "weekly"], capsys)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: query ") and "unreachable" in lines[0], err
    assert "(PromQL: " in lines[0]
    archive = tmp_path / "archive"
    assert not archive.exists() or not any(archive.rglob("*"))


@pytest.fixture(scope="module")
def strict_prometheus(prometheus, tmp_path_factory):
    """A second real Prometheus on a copy of the data, refusing queries that load over 1000 samples."""
    directory = tmp_path_factory.mktemp("strict")
    shutil.copytree(
        prometheus.data_dir / "tsdb",
        directory / "tsdb",
        ignore=shutil.ignore_patterns("lock", "wal", "chunks_head", "queries.active"),
    )
    server = PrometheusServer(directory, "--query.max-samples=1000")
    yield server
    server.stop()


def test_query_error_exits_1_naming_the_query_and_writes_nothing(strict_prometheus, write_config, tmp_path, capsys):
    path = write_config(base_config(strict_prometheus.url, tmp_path / "archive"))
    end = datetime.fromtimestamp(d.B, UTC).strftime("%Y-%m-%d")
    code, out, err = run(
        ["--config", str(path), "--period", "weekly", "--end", end, "--format", "html,json,csv"], capsys
    )
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: query ") and "too many samples" in lines[0], lines[0]
    assert "period weekly-" in lines[0]
    archive = tmp_path / "archive"
    assert not archive.exists() or not any(archive.rglob("*"))
