"""A whole demo (demo/run.py) on free ports for the end-to-end tests, and their helpers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.run import ALERTMANAGER_BIN, BASE_PORTS, PROMETHEUS_BIN, free_port_offset
from tests.conftest import ROOT


def get_json(url: str, timeout: float = 3) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def post_json(url: str, body: dict) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.load(resp)


def wait_for_demo(predicate, timeout: float, what: str, process: subprocess.Popen, log_path, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"demo.run exited ({process.returncode}) while waiting for {what}:\n" + log_path.read_text()[-4000:]
            )
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}; log tail:\n" + log_path.read_text()[-4000:]
    )


@contextlib.contextmanager
def running_demo(
    tmp_path: Path, args: list[str], start_timeout: float, stop_timeout: float = 60
) -> Iterator[tuple[dict[str, str], subprocess.Popen, Path]]:
    """demo/run.py --fast on a free block of ports with `args`, until "demo is up"; yields
    (base URL by component, the process, its log) and stops it as Ctrl-C does."""
    for binary in (PROMETHEUS_BIN, ALERTMANAGER_BIN):
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} not found: install Debian's prometheus and prometheus-alertmanager (make test does)")
    offset = free_port_offset()
    log_path = tmp_path / "demo.log"
    argv = [sys.executable, "-m", "demo.run", "--state-dir", str(tmp_path / "state")]
    argv += ["--port-offset", str(offset), "--fast", *args]
    urls = {name: f"http://127.0.0.1:{port + offset}" for name, port in BASE_PORTS.items()}
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_demo(
                lambda: "demo is up" in log_path.read_text(), start_timeout, "the demo to start", process, log_path
            )
            yield urls, process, log_path
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # what Ctrl-C sends
                try:
                    process.wait(stop_timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
