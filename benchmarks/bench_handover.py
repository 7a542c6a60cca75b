"""The enhancer's leader handover, measured end to end on real processes.

Run: .venv/bin/python -m benchmarks.bench_handover [--ttl 5] [--trials 5] [--modes kill,stop]

Two `python -m enhancer` processes share a throwaway PostgreSQL 15 state (the tests'
cluster) and a real Prometheus. One rule fires on `vector(1)` with no cooldown, so the
leader sends a webhook on every poll (`poll_interval` 1 s) to a receiver in this process,
which records each request's arrival and its `Enhancer-Fencing-Token` header. Per trial,
at a random point between the leader's renewals:

- kill: the leader gets SIGKILL;
- stop: the leader gets SIGSTOP (a frozen process: a pause, a stalled VM), and SIGCONT
  once the new leader has acted.

Measured from the signal: `lease_s`, until the standby's /api/v1/status says it leads
(polled every 20 ms), and `first_action_s`, until the receiver gets the first request
carrying the new leader's fencing token. For stop, `late_sends` counts requests under the
old token that arrive after the old leader is continued (0: it checks the lease first).
The old leader is then stopped and a fresh standby started for the next trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.bench_metrics_endpoint import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL = 1.0


class Receiver:
    """Records (arrival on time.monotonic(), fencing token) of every POST."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, int]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                at = time.monotonic()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.requests.append((at, int(self.headers.get("Enhancer-Fencing-Token") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, token: int, after: float = 0.0) -> float | None:
        with self.lock:
            return next((at for at, t in self.requests if t == token and at >= after), None)

    def count(self, token: int, after: float) -> int:
        with self.lock:
            return sum(1 for at, t in self.requests if t == token and at >= after)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get_json(url: str, timeout: float = 1.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def wait(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


class Enhancer:
    def __init__(self, config: Path, work: Path, n: int):
        self.port = free_port()
        self.log = work / f"enhancer-{n}.log"
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "enhancer", "--config", str(config), "--listen", f"127.0.0.1:{self.port}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        self.status_url = f"http://127.0.0.1:{self.port}/api/v1/status"
        wait(lambda: self.status()["ready"], 30, "an enhancer ready", 0.05)

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = get_json(self.status_url)["data"]
        return data

    def leads(self) -> bool:
        return bool(self.status()["role"] == "leader")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def trial(mode: str, leader: Enhancer, standby: Enhancer, receiver: Receiver, ttl: float) -> dict[str, float]:
    old_token = leader.status()["lease"]["token"]
    wait(lambda: receiver.first(old_token), 10, "the leader acting")
    time.sleep(random.uniform(0.0, ttl / 3))  # a random point between renewals (every ttl / 3)
    signum = signal.SIGKILL if mode == "kill" else signal.SIGSTOP
    leader.popen.send_signal(signum)
    t0 = time.monotonic()
    lease_at = wait(lambda: time.monotonic() if standby.leads() else None, 4 * ttl, "the standby leading")
    new_token = standby.status()["lease"]["token"]
    action_at = wait(lambda: receiver.first(new_token, t0), 4 * ttl, "the new leader's first action")
    result = {"lease_s": round(lease_at - t0, 3), "first_action_s": round(action_at - t0, 3)}
    if mode == "stop":
        continued = time.monotonic()
        leader.popen.send_signal(signal.SIGCONT)
        wait(lambda: leader.status()["role"] == "standby", 10, "the old leader standing by", 0.05)
        time.sleep(2 * POLL_INTERVAL)
        result["late_sends"] = receiver.count(old_token, continued)
    return result


def summary(trials: list[dict[str, float]]) -> dict[str, object]:
    out: dict[str, object] = {"trials": trials}
    for key in ("lease_s", "first_action_s"):
        values = [t[key] for t in trials]
        out[f"{key}_median"] = round(statistics.median(values), 3)
        out[f"{key}_min"] = min(values)
        out[f"{key}_max"] = max(values)
    if trials and "late_sends" in trials[0]:
        out["late_sends_total"] = sum(t["late_sends"] for t in trials)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ttl", type=float, default=5.0, help="lease.ttl in seconds (renew_interval is ttl / 3)")
    parser.add_argument("--trials", type=int, default=5, help="handovers per mode")
    parser.add_argument("--modes", default="kill,stop", help="kill (SIGKILL), stop (SIGSTOP then SIGCONT)")
    args = parser.parse_args()
    from tests.conftest import PostgresServer  # the tests' throwaway cluster, reused

    work = Path(tempfile.mkdtemp(prefix="bench-handover-"))
    server = PostgresServer()
    server.init()
    server.start()
    receiver = Receiver()
    processes: list[Enhancer] = []
    prometheus = None
    try:
        (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
        prom_port = free_port()
        prometheus = subprocess.Popen(
            [
                "/usr/bin/prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=1), 30, "prometheus")
        config = work / "enhancer.yml"
        config.write_text(
            json.dumps(
                {
                    "prometheus": {"url": f"http://127.0.0.1:{prom_port}", "timeout": "2s", "retries": 0},
                    "poll_interval": f"{POLL_INTERVAL:g}s",
                    "state": server.url(),
                    "lease": {"ttl": f"{args.ttl:g}s"},
                    "allowed_hosts": ["127.0.0.1"],
                    "budget": {"per_hour": 100000},
                    "rules": [
                        {
                            "name": "tick",
                            "query": "vector(1)",
                            "trigger": {"kind": "threshold", "value": 0},
                            "cooldown": "0s",
                            "action": {
                                "kind": "webhook",
                                "url": receiver.url + "/tick",
                                "body": {"rule": "{rule}"},
                                "timeout": "2s",
                                "retries": 2,
                                "backoff": "200ms",
                            },
                        }
                    ],
                }
            )
        )
        started = 0

        def enhancer() -> Enhancer:
            nonlocal started
            started += 1
            processes.append(Enhancer(config, work, started))
            return processes[-1]

        leader = enhancer()
        wait(leader.leads, 30, "a leader")
        standby = enhancer()
        results = {}
        for mode in args.modes.split(","):
            trials = []
            for _ in range(args.trials):
                trials.append(trial(mode, leader, standby, receiver, args.ttl))
                leader.stop()
                leader, standby = standby, enhancer()
            results[mode] = summary(trials)
    finally:
        for process in processes:
            process.stop()
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(15)
        receiver.close()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count()},
                "ttl_s": args.ttl,
                "renew_interval_s": round(args.ttl / 3, 2),
                "poll_interval_s": POLL_INTERVAL,
                **results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
