"""Fixtures for the reporter: a real Prometheus holding the dataset's two past weeks.

The blocks are built by promtool from OpenMetrics text written here (tests/reporter/
dataset.py), so every figure can be worked out independently (tests/reporter/expected.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import PrometheusServer, free_port  # noqa: F401 - free_port is used by the tests
from tests.reporter import dataset


@pytest.fixture(scope="session")
def prometheus():
    directory = Path(tempfile.mkdtemp(prefix="reporter-prom-"))
    source = directory / "series.om.txt"
    dataset.write_openmetrics(source)
    subprocess.run(
        ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(directory / "tsdb")],
        check=True,
        capture_output=True,
    )
    source.unlink()
    server = PrometheusServer(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def base_config(prometheus_url: str, out_dir: Path, **extra) -> dict:
    config = {
        "prometheus": {"url": prometheus_url, "timeout": "20s", "retries": 0, "rule_evaluation_interval": "60s"},
        "timezone": "UTC",
        "output": {
            "directory": str(out_dir),
            "resolution": "5m",
            "capacity_periods": ["weekly", "monthly", "quarterly"],
            "title": "Inventory report",
        },
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@pytest.fixture
def write_config(tmp_path):
    def write(data: dict, name: str = "reporter.yml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
