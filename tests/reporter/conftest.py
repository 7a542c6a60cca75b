"""Fixtures for the reporter: a real Prometheus holding the dataset's two past weeks.

The blocks are built by promtool from OpenMetrics text written here (tests/reporter/
dataset.py), so every figure can be worked out independently (tests/reporter/expected.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.reporter import dataset



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    def __init__(self, data_dir: Path, *flags: str):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = data_dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n")
        self.log = open(data_dir / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            ["/usr/bin/prometheus", f"--config.file={config}", f"--storage.tsdb.path={data_dir / 'tsdb'}",
             "--storage.tsdb.retention.time=10y", f"--web.listen-address=127.0.0.1:{self.port}", *flags],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(data_dir / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def prometheus():
    directory = Path(tempfile.mkdtemp(prefix="reporter-prom-"))
    source = directory / "series.om.txt"
    dataset.write_openmetrics(source)
    subprocess.run(["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source),
                    str(directory / "tsdb")], check=True, capture_output=True)
    source.unlink()
    server = PrometheusServer(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def base_config(prometheus_url: str, out_dir: Path, **extra) -> dict:
    config = {
        "prometheus": {"url": prometheus_url, "timeout": "20s", "retries": 0, "rule_evaluation_interval": "60s"},
        "timezone": "UTC",
        "output": {"directory": str(out_dir), "resolution": "5m",
                   "capacity_periods": ["weekly", "monthly", "quarterly"], "title": "Inventory report"},
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
