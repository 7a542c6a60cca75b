"""Malformed HTTP, oversized headers, slow-header clients, many idle connections, path
traversal and unknown parameters: a 4xx or a closed connection, a bounded cost, and the
other clients unaffected. Against the real exporter process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, wait_for


@pytest.fixture(scope="module")
def exporter():
    import tempfile

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = f"{tmp}/exporter.yml"
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\nbusiness:\n  enabled: false\nanalytics:\n  enabled: false\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config", config], cwd=ROOT, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: _status(port, "/-/ready") == 200, 15, message="exporter ready")
        yield port
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        assert proc.returncode == 0


def _status(port: int, path: str) -> int | None:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def raw(port: int, payload: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [
        b"BLAH\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nNo colon header\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,  # a TLS hello on the plain port
    ],
)
def test_malformed_requests_get_400(exporter, payload):
    answer = raw(exporter, payload)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0], answer[:100]
    assert _status(exporter, "/metrics") == 200


def test_oversized_request_line_and_headers_get_4xx(exporter):
    line = raw(exporter, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert line.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"414"), line[:80]
    header = raw(exporter, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
    assert header.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"431"), header[:80]
    assert _status(exporter, "/metrics") == 200


def test_slow_header_client_is_cut_off_and_others_are_served(exporter):
    slow = socket.create_connection(("127.0.0.1", exporter))
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed_after = None
    try:
        for _ in range(40):  # one header byte per second, never finishing the request
            slow.sendall(b"X")
            # Meanwhile, normal scrapes are answered at once.
            t = time.monotonic()
            assert _status(exporter, "/metrics") == 200
            assert time.monotonic() - t < 1.0
            time.sleep(0.5)
    except (BrokenPipeError, ConnectionResetError):
        closed_after = time.monotonic() - started
    finally:
        slow.close()
    assert closed_after is not None, "a client trickling headers for 20 s was never cut off"
    assert closed_after < 20  # keepalive_timeout 15 s bounds it


def test_many_idle_connections_do_not_block_scrapes(exporter):
    idle = [socket.create_connection(("127.0.0.1", exporter)) for _ in range(300)]
    try:
        started = time.monotonic()
        assert _status(exporter, "/metrics") == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize(
    "path",
    ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/v1/..%2f..%2fetc%2fpasswd", "/static/../../etc/passwd"],
)
def test_path_traversal_finds_nothing(exporter, path):
    answer = raw(exporter, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    status = answer.split(b"\r\n", 1)[0].split(b" ")[1]
    assert status in (b"400", b"404"), answer[:200]
    assert b"root:" not in answer


def test_unknown_parameters_and_methods_on_the_json_api(exporter):
    assert _status(exporter, "/api/v1/recommendations?sku=A&colour=red") == 400
    request = urllib.request.Request(f"http://127.0.0.1:{exporter}/api/v1/mismatches", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=2)
    assert refused.value.code == 405


def test_sighup_is_logged_and_ignored(tmp_path):
    # Before: SIGHUP's default action killed the exporter without a line.
    port = free_port()
    config = tmp_path / "exporter.yml"
    config.write_text(f"listen: 127.0.0.1:{port}\nbusiness:\n  enabled: false\nanalytics:\n  enabled: false\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--config", str(config)], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: _status(port, "/-/ready") == 200, 15, message="exporter ready")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: _status(port, "/-/healthy") == 200, 5, message="still serving")
        time.sleep(0.2)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "SIGHUP ignored" in stderr
