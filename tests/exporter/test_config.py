"""A bad config exits 2 with one line naming the file, the key path and the problem."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.config import load_config
from servicekit.config import ConfigError, parse_duration
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "body, key, problem",
    [
        ("foo: 1\n", "foo", "unknown key"),
        ("database:\n  url: sqlite:///x.db\n  colour: red\n", "database.colour", "unknown key"),
        ("database:\n  interval: 5x\n", "database.interval", "invalid duration '5x'"),
        ("database:\n  interval: -5s\n", "database.interval", "invalid duration"),
        ("database:\n  timeout: [1]\n", "database.timeout", "expected a duration"),
        ("database:\n  url: 'not a url'\n", "database.url", "not a database URL"),
        ("database:\n  url: 'oracle://db'\n", "database.url", "unsupported database 'oracle'"),
        ("database:\n  url: 'sqlite://'\n", "database.url", "needs a file path"),
        ("listen: 9877\n", "listen", "Input should be a valid string"),
        ("listen: 'localhost'\n", "listen", "invalid listen address"),
        ("business:\n  fulfillment_window: soon\n", "business.fulfillment_window", "invalid duration"),
        ("business:\n  overrides:\n    inventory_nope: SELECT 1\n", "business", "unknown metric 'inventory_nope'"),
        (
            "business:\n  metrics:\n    - name: 'bad name'\n      sql: SELECT 1 AS value\n",
            "business.metrics.0.name",
            "invalid metric name",
        ),
        (
            "business:\n  metrics:\n    - name: m\n      labels: ['__x']\n      sql: SELECT 1\n",
            "business.metrics.0.labels",
            "invalid label name",
        ),
        ("api_probes:\n  - target: api\n    url: ftp://x\n", "api_probes.0.url", "http:// or https://"),
        ("api_probes:\n  - target: api\n", "api_probes.0.url", "required key is missing"),
        ("host:\n  ignored_interfaces: '('\n", "host.ignored_interfaces", "invalid regular expression"),
        (
            "integrations:\n  - name: s\n    kind: carrier-pigeon\n    url: http://x\n",
            "integrations.0.kind",
            "unknown kind 'carrier-pigeon', expected one of 'shopify', 'square'",
        ),
        ("constant_labels:\n  'bad-label': x\n", "constant_labels", "invalid label name"),
        ("- just\n- a list\n", "(top level)", "expected a mapping"),
        ("database: [\n", "line 2 column 1", "invalid YAML"),
        ("database:\n  interval: 0s\n", "database.interval", "duration must be positive"),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path, body, key, problem):
    path = tmp_path / "exporter.yml"
    path.write_text(body)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: {key}"), message
    assert problem in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yml: \(file\): cannot read: No such file"):
        load_config(tmp_path / "nope.yml")


def test_cli_exits_2_with_one_line_and_check_config_passes_a_good_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("database:\n  interval: often\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(bad), "--check-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"config error: {bad}: database.interval: invalid duration 'often': expected e.g. 15s, 5m, 1h30m\n"
    )

    good = tmp_path / "good.yml"
    good.write_text("database:\n  url: sqlite:///does/not/matter.db\n  interval: 1m30s\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(good), "--check-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{good}: OK"


def test_defaults_and_durations(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("")
    config = load_config(path)
    assert config.listen == "0.0.0.0:9877"
    assert config.database.interval == 15 and config.database.timeout == 10
    assert config.business.fulfillment_window == 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    assert parse_duration(2) == 2.0
    with pytest.raises(ValueError):
        parse_duration("1h 30m")


def test_shipped_example_config_is_valid():
    config = load_config(ROOT / "exporter" / "exporter.example.yml")
    assert config.database.url.startswith("sqlite:///")
