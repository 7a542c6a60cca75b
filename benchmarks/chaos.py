"""Fault suite: kill -9 every component of the live demo stack and time its recovery.

    .venv/bin/python -m benchmarks.chaos [--rounds 3] [--skus 3000] [--json out.json]   (make chaos)

Starts `python -m demo.run --fast` on a free block of ports (its supervisor restarts a
component that dies, with a 1 s backoff), then:

1. kills -9, one at a time, the inventory API, the exporter, Prometheus, each fake
   integration (Shopify, Square, Odoo), the webhook sink and the enhancer, and times each
   until it is back: its own readiness endpoint answers AND Prometheus has a fresh sample
   proving it (up == 1, or the exporter's collector for that fake succeeding again);
2. takes the SQLite database away from its readers under the simulator's write load
   (the file is renamed: the API keeps writing through its open handle, as with a
   database that refuses new connections; chmod 000 would not stop root) and checks that
   the exporter reports collector_success 0 and recovers once it is back;
3. breaks the API's /health so that InventoryAPIHealthCheckFailing fires, kills -9
   Alertmanager the moment Prometheus reports it firing (Alertmanager keeps alerts only
   in memory), and checks the alert still reaches the webhook sink: Prometheus re-sends
   firing alerts every resend delay (1m) and the restarted Alertmanager delivers them;
4. throughout, a rule of its own makes the enhancer act every few seconds against an
   action receiver here that counts calls by Idempotency-Key; the enhancer is killed
   while a call is in flight, and at the end every key received is compared with the
   enhancer's /api/v1/actions log: no key twice (repeated), no successful action that
   never arrived and no arrival without a logged action (lost);
5. throughout, a scraper fetches the exporter's /metrics every 0.2 s with the scrape
   timeout of --fast (1 s) and records every latency; Prometheus's own
   scrape_duration_seconds is checked too.

tests/demo/test_chaos.py runs one round (--skus 1000) in CI and asserts the bounds below.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from demo.run import BASE_PORTS, free_port_offset

ROOT = Path(__file__).resolve().parent.parent

# Stated bounds (asserted by tests/demo/test_chaos.py). A component is back within
# RECOVERY_BOUND_SECONDS of kill -9: the supervisor's 1 s backoff, the process start, its
# first collection or poll, and the next 1 s scrape. An alert firing while Alertmanager
# restarts reaches the receiver within ALERT_DELIVERY_BOUND_SECONDS of firing: Prometheus's
# resend delay (1m) + group_wait (5s) + restart and evaluation slack.
RECOVERY_BOUND_SECONDS = 30.0
ALERT_DELIVERY_BOUND_SECONDS = 100.0
SCRAPE_TIMEOUT_SECONDS = 1.0  # scrape_timeout of demo.run --fast
ALERT = "InventoryAPIHealthCheckFailing"
CHAOS_RULE = "chaos-action-log"
RECEIVER_DELAY_SECONDS = 0.5  # so a kill can land while a call is in flight
FAKES = ("shopify", "square", "odoo")


def _get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _json(url: str, timeout: float = 3.0):
    status, body = _get(url, timeout)
    if status != 200:
        raise OSError(f"{url}: HTTP {status}")
    return json.loads(body)


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


# --- the action receiver ---------------------------------------------------------------


class ActionReceiver:
    """Counts the enhancer's action calls by Idempotency-Key; answers after a delay."""

    def __init__(self, delay: float = RECEIVER_DELAY_SECONDS):
        self.delay = delay
        self.lock = threading.Lock()
        self.keys: dict[str, int] = {}
        self.in_flight = 0
        self.without_key = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key")
                with receiver.lock:
                    receiver.in_flight += 1
                try:
                    time.sleep(receiver.delay)
                    with receiver.lock:
                        if key:
                            receiver.keys[key] = receiver.keys.get(key, 0) + 1
                        else:
                            receiver.without_key += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}')
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a broken pipe is the enhancer killed mid-call: the key is already counted

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ActionReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the scraper -----------------------------------------------------------------------


@dataclass
class Scrape:
    at: float
    seconds: float
    outcome: str  # ok | timeout | refused | http_<code> | error


class Scraper(threading.Thread):
    """Fetches /metrics every `interval` with the scrape timeout; records every latency."""

    def __init__(self, url: str, interval: float = 0.2, timeout: float = SCRAPE_TIMEOUT_SECONDS):
        super().__init__(daemon=True, name="chaos-scraper")
        self.url, self.interval, self.timeout = url, interval, timeout
        self.scrapes: list[Scrape] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            at = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
                    resp.read()
                    outcome = "ok" if resp.status == 200 else f"http_{resp.status}"
            except urllib.error.HTTPError as exc:
                outcome = f"http_{exc.code}"
            except (TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                    outcome = "timeout"
                elif isinstance(reason, ConnectionRefusedError):
                    outcome = "refused"
                else:
                    outcome = "error"
            self.scrapes.append(Scrape(at, time.monotonic() - started, outcome))
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def summary(self) -> dict:
        ok = sorted(s.seconds for s in self.scrapes if s.outcome == "ok")
        outcomes: dict[str, int] = {}
        for s in self.scrapes:
            outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
        slowest = max((s.seconds for s in self.scrapes if s.outcome != "refused"), default=0.0)
        return {
            "scrapes": len(self.scrapes),
            "outcomes": outcomes,
            "p50_ms": 1000 * ok[len(ok) // 2] if ok else None,
            "p99_ms": 1000 * ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else None,
            "max_ms": 1000 * slowest,
            "timeout_ms": 1000 * self.timeout,
        }


# --- the stack -------------------------------------------------------------------------


@dataclass
class Recovery:
    component: str
    fault: str
    seconds: float | None
    detected: str = ""
    note: str = ""


@dataclass
class ChaosResult:
    recoveries: list[Recovery] = field(default_factory=list)
    alert: dict = field(default_factory=dict)
    actions: dict = field(default_factory=dict)
    scrapes: dict = field(default_factory=dict)
    prometheus_scrape_max_seconds: float | None = None
    restarts_logged: dict = field(default_factory=dict)
    duration_seconds: float = 0.0


class DemoStack:
    """`python -m demo.run --fast` on free ports, with handles for the fault suite."""

    def __init__(self, state_dir: Path, skus: int, receiver_port: int, log=print, faults: bool = False):
        self.state_dir = state_dir
        self.skus = skus
        self.faults = faults  # the simulator's default fault schedule (the soak), or none
        self.offset = free_port_offset()
        self.ports = {name: port + self.offset for name, port in BASE_PORTS.items()}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.receiver_port = receiver_port
        self.log_path = state_dir / "demo.log"
        self.process: subprocess.Popen | None = None
        self.say = log

    def enhancer_config(self) -> Path:
        """The shipped rules plus one that acts every few seconds on the action receiver."""
        config = yaml.safe_load((ROOT / "enhancer" / "enhancer.yml").read_text())
        receiver = f"127.0.0.1:{self.receiver_port}"
        config["poll_interval"] = "1s"
        config["max_poll_backoff"] = "5s"
        config["budget"] = {"per_hour": 100000}
        config["allowed_hosts"] = list(config.get("allowed_hosts") or []) + [receiver]
        config["rules"] = list(config.get("rules") or []) + [
            {
                "name": CHAOS_RULE,
                "description": "Fault suite: one action per location every few seconds, counted by Idempotency-Key.",
                "query": "inventory_skus",
                "trigger": {"kind": "threshold", "op": "above", "value": 0},
                # retries 0: a key arriving twice can only be a re-send across a restart
                "action": {
                    "kind": "webhook",
                    "url": f"http://{receiver}/chaos",
                    "timeout": "5s",
                    "retries": 0,
                    "body": {"location": "{labels.location}"},
                },
                "cooldown": "3s",
            }
        ]
        path = self.state_dir / "chaos-enhancer.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "demo.run",
            "--state-dir",
            str(self.state_dir / "state"),
            "--port-offset",
            str(self.offset),
            "--fast",
            "--skus",
            str(self.skus),
            "--enhancer-config",
            str(self.enhancer_config()),
        ] + ([] if self.faults else ["--no-faults"])
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait(lambda: "demo is up" in self.log_path.read_text(), 120, "the demo to start")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log_file.close()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait(self, predicate, timeout: float, what: str, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"demo.run exited ({self.process.returncode}) while waiting for {what}:\n" + self.log_tail()
                )
            try:
                value = predicate()
            except (OSError, ValueError, KeyError, IndexError):
                value = None
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; log tail:\n" + self.log_tail())

    def pid(self, name: str) -> int:
        return json.loads((self.state_dir / "state" / "pids.json").read_text())[name]

    def kill(self, name: str) -> float:
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        return time.time()

    def query(self, expr: str) -> list[tuple[dict, float, float]]:
        """(labels, value, sample timestamp) of an instant query."""
        url = f"{self.urls['prometheus']}/api/v1/query?query={urllib.parse.quote(expr)}"
        data = _json(url)["data"]["result"]
        return [(r["metric"], float(r["value"][1]), float(r["value"][0])) for r in data]

    def fresh_value(self, expr: str, since: float) -> float | None:
        """The value of a one-series query, if its sample is newer than `since`.

        `timestamp(x)` is the time of the scrape that produced x, so only a scrape made
        after `since` counts.
        """
        rows = self.query(f"timestamp({expr})")
        values = self.query(expr)
        if not rows or not values or rows[0][1] <= since:
            return None
        return values[0][1]

    def ready(self, name: str, path: str) -> bool:
        return _get(self.urls[name] + path, timeout=1)[0] == 200


# --- the faults ------------------------------------------------------------------------

# component -> (local readiness path, PromQL that must read 1 from a scrape after it is back)
CHECKS = {
    "api": ("/health", 'inventory_api_up{target="inventory-api"}'),
    "exporter": ("/-/ready", 'up{job="inventory-exporter"}'),
    "prometheus": ("/-/ready", 'up{job="prometheus"}'),
    "alertmanager": ("/-/ready", 'up{job="alertmanager"}'),
    "enhancer": ("/-/ready", 'up{job="inventory-enhancer"}'),
    "sink": ("/-/healthy", None),
    **{kind: ("/_control", None) for kind in FAKES},
}


def kill_and_time(stack: DemoStack, name: str, timeout: float = 90.0) -> Recovery:
    """kill -9 one component; seconds until it answers and Prometheus has seen it back."""
    path, expr = CHECKS[name]
    old_pid = stack.pid(name)
    killed_at = stack.kill(name)
    # first the supervisor must notice and start a new process
    stack.wait(lambda: stack.pid(name) != old_pid, timeout, f"{name} to be restarted")
    local_at = stack.wait(lambda: stack.ready(name, path) and time.time(), timeout, f"{name} to answer {path}")
    detected = ""
    if name in FAKES:
        # Back means the exporter's health probe of it succeeded in a run after it answered:
        # a sample of a scrape later than one collection interval (2 s in --fast) plus one
        # scrape. (Not the stock fetch: under --fast Shopify's cost throttle fails some of
        # those by design.)
        expr = f'inventory_integration_up{{integration="{name}"}}'
        stack.wait(
            lambda: stack.fresh_value(expr, local_at + 3.0) == 1,
            timeout,
            f"the exporter's probe of {name} to succeed again",
        )
        window = max(5, int(time.time() - killed_at) + 2)
        low = stack.query(f"min_over_time({expr}[{window}s])")
        detected = f"inventory_integration_up 0 seen: {bool(low and low[0][1] == 0)}"
    elif expr is not None:
        stack.wait(
            lambda: stack.fresh_value(expr, local_at - 0.5) == 1,
            timeout,
            f"Prometheus to see {name} back ({expr} == 1)",
        )
        if name != "prometheus":
            window = max(5, int(time.time() - killed_at) + 2)
            low = stack.query(f"min_over_time({expr}[{window}s])")
            detected = f"{expr} 0 seen: {bool(low and low[0][1] == 0)}"
    return Recovery(name, "kill -9", time.time() - killed_at, detected)


def database_outage(stack: DemoStack, hold: float = 8.0, timeout: float = 60.0) -> Recovery:
    """Take the SQLite file away from new connections under write load, then bring it back."""
    db = stack.state_dir / "state" / "inventory.db"
    hidden = db.with_name("inventory.db.chaos-away")
    expr = 'inventory_exporter_collector_success{collector="business"}'
    db.rename(hidden)
    away_at = time.time()
    try:
        stack.wait(lambda: stack.fresh_value(expr, away_at) == 0, timeout, "collector_success{business} 0")
        detected_after = time.time() - away_at
        # the exporter keeps serving meanwhile: /metrics answers with the failure in it
        status, body = _get(stack.urls["exporter"] + "/metrics")
        serving = status == 200 and b'inventory_exporter_collector_success{collector="business"} 0.0' in body
        time.sleep(max(0.0, hold - detected_after))
    finally:
        hidden.rename(db)
    back_at = time.time()
    stack.wait(
        lambda: (
            stack.query('inventory_exporter_collector_last_success_timestamp_seconds{collector="business"}')[0][1]
            > back_at
            and stack.fresh_value(expr, back_at) == 1
        ),
        timeout,
        "collector_success{business} 1 again",
    )
    return Recovery(
        "database (SQLite)",
        f"file gone for {hold:g}s under write load",
        time.time() - back_at,
        f"collector_success 0 after {detected_after:.1f}s; /metrics kept serving: {serving}",
        "time counted from the file's return",
    )


def kill_enhancer_mid_action(stack: DemoStack, receiver: ActionReceiver, timeout: float = 60.0) -> Recovery:
    stack.wait(lambda: receiver.in_flight > 0, timeout, "an enhancer action in flight", interval=0.02)
    recovery = kill_and_time(stack, "enhancer")
    recovery.fault = "kill -9 while an action is in flight"
    received_before = sum(receiver.keys.values())
    stack.wait(
        lambda: sum(receiver.keys.values()) > received_before + 2, timeout, "the restarted enhancer to act again"
    )
    return recovery


def alert_across_alertmanager_restart(stack: DemoStack, during_for: list) -> tuple[Recovery, dict]:
    """Fire InventoryAPIHealthCheckFailing, kill -9 Alertmanager as it fires, expect delivery.

    `during_for` are faults run while the alert is pending (none of them may touch the
    API probe's series, which would reset the pending alert).
    """
    sink, prometheus = stack.urls["sink"], stack.urls["prometheus"]
    condition_at = time.time()
    _post(f"{stack.urls['api']}/_control", {"unhealthy": True})
    # The other faults run beside the pending alert, so the kill below lands as it fires.
    errors: list[BaseException] = []

    def run_faults():
        try:
            for fault in during_for:
                fault()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    faults = threading.Thread(target=run_faults, name="chaos-faults", daemon=True)
    faults.start()

    def firing():
        alerts = _json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
        return any(a["labels"].get("alertname") == ALERT and a["state"] == "firing" for a in alerts)

    stack.wait(firing, 150, f"{ALERT} firing in Prometheus", interval=0.05)
    fired_at = time.time()
    recovery = kill_and_time(stack, "alertmanager")
    recovery.fault = "kill -9 as an alert fires"
    faults.join(180)
    if errors:
        raise errors[0]

    def delivered():
        for record in _json(f"{sink}/received?kind=alert&since={condition_at}"):
            for alert in (record["body"] or {}).get("alerts", []):
                if alert["labels"].get("alertname") == ALERT and alert["status"] == "firing":
                    return record["received_at"]
        return None

    delivered_at = stack.wait(delivered, ALERT_DELIVERY_BOUND_SECONDS + 60, f"{ALERT} at the sink", interval=0.5)
    _post(f"{stack.urls['api']}/_control", {"reset": True})
    info = {
        "alert": ALERT,
        "fired_after_condition_s": fired_at - condition_at,
        "delivered_after_firing_s": delivered_at - fired_at,
        "lost": 0,
        "delivered_before_kill": delivered_at < fired_at + 0.01,
    }
    recovery.detected = f"{ALERT} delivered {delivered_at - fired_at:.0f}s after firing"
    return recovery, info


def action_audit(stack: DemoStack, receiver: ActionReceiver) -> dict:
    """Compare the keys the receiver got with the enhancer's action log."""
    rows, before = [], None
    while True:
        query = f"rule={CHAOS_RULE}&limit=500" + (f"&before={before}" if before else "")
        page = _json(f"{stack.urls['enhancer']}/api/v1/actions?{query}")
        rows += page["data"]
        before = page["next_before"]
        if not before:
            break
    # written ahead: a `started` row is a logged action whose call may be in flight right now
    sent = {r["action_id"]: r for r in rows if r["outcome"] in ("success", "failed") or r["status"] == "started"}
    stuck_before = time.time() - 30
    with receiver.lock:
        keys = dict(receiver.keys)
    repeated = {k: n for k, n in keys.items() if n > 1}
    success_missing = [k for k, r in sent.items() if r["outcome"] == "success" and k not in keys]
    unlogged = [k for k in keys if k not in sent]
    interrupted = [r for r in rows if "outcome unknown" in (r["reason"] or "")]
    return {
        "logged_actions": len(sent),
        "received_keys": len(keys),
        "repeated": len(repeated),
        "successful_but_not_received": len(success_missing),
        "received_but_not_logged": len(unlogged),
        "interrupted_by_kill": len(interrupted),
        "interrupted_received": sum(1 for r in interrupted if r["action_id"] in keys),
        "without_key": receiver.without_key,
        "stuck_started": sum(1 for r in rows if r["status"] == "started" and r["decided_at"] < stuck_before),
    }


def run(rounds: int = 1, skus: int = 1000, workdir: Path | None = None, log=print) -> ChaosResult:
    started = time.monotonic()
    result = ChaosResult()
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="chaos-")
        workdir = Path(own_tmp.name)
    with ActionReceiver() as receiver:
        stack = DemoStack(workdir, skus, receiver.port, log)
        scraper = Scraper(stack.urls["exporter"] + "/metrics")
        try:
            stack.start()
            log(f"demo up on port offset {stack.offset}")
            stack.wait(
                lambda: all(v == 1 for _, v, _ in stack.query("up")) and len(stack.query("up")) >= 5,
                90,
                "every target up in Prometheus",
            )
            stack.wait(lambda: sum(receiver.keys.values()) > 0, 90, "the enhancer's first chaos action")
            scraper.start()
            scrape_from = time.time()
            for round_no in range(1, rounds + 1):
                # faults that would reset the pending alert of phase 2 go first
                for name in ("api", "exporter", "prometheus"):
                    recovery = kill_and_time(stack, name)
                    log(f"round {round_no}: {name} back after {recovery.seconds:.1f}s ({recovery.detected})")
                    result.recoveries.append(recovery)
                if round_no < rounds:
                    for name in (*FAKES, "sink"):
                        result.recoveries.append(kill_and_time(stack, name))
                    result.recoveries.append(kill_enhancer_mid_action(stack, receiver))
                    result.recoveries.append(database_outage(stack))

            # the last round's remaining faults run while the alert is pending
            def other_faults():
                for name in (*FAKES, "sink"):
                    recovery = kill_and_time(stack, name)
                    log(f"{name} back after {recovery.seconds:.1f}s ({recovery.detected})")
                    result.recoveries.append(recovery)
                recovery = kill_enhancer_mid_action(stack, receiver)
                log(f"enhancer back after {recovery.seconds:.1f}s")
                result.recoveries.append(recovery)
                recovery = database_outage(stack)
                log(f"database back after {recovery.seconds:.1f}s ({recovery.detected})")
                result.recoveries.append(recovery)

            recovery, result.alert = alert_across_alertmanager_restart(stack, [other_faults])
            log(f"alertmanager back after {recovery.seconds:.1f}s; {recovery.detected}")
            result.recoveries.append(recovery)
            time.sleep(2)  # let the last in-flight actions finish before the audit
            result.actions = action_audit(stack, receiver)
            window = int(time.time() - scrape_from) + 1
            slowest = stack.query(f'max_over_time(scrape_duration_seconds{{job="inventory-exporter"}}[{window}s])')
            result.prometheus_scrape_max_seconds = slowest[0][1] if slowest else None
        finally:
            scraper.stop.set()
            stack.stop()
            scraper.join(5)
        result.scrapes = scraper.summary()
        log_text = stack.log_path.read_text(errors="replace")
        result.restarts_logged = {name: log_text.count(f"[run] restarting {name} ") for name in CHECKS}
    if own_tmp is not None:
        own_tmp.cleanup()
    result.duration_seconds = time.monotonic() - started
    return result


# --- the report ------------------------------------------------------------------------


def table(result: ChaosResult) -> str:
    by_component: dict[str, list[Recovery]] = {}
    for r in result.recoveries:
        by_component.setdefault(r.component, []).append(r)
    lines = [
        "| component | fault | time to recover (median / max) | alerts lost | actions repeated | seen as |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, items in by_component.items():
        secs = [r.seconds for r in items]
        lost = str(result.alert.get("lost", "-")) if name == "alertmanager" else "-"
        repeated = str(result.actions.get("repeated", "-")) if name == "enhancer" else "-"
        lines.append(
            f"| {name} | {items[-1].fault} | {statistics.median(secs):.1f} s / {max(secs):.1f} s "
            f"(n={len(secs)}) | {lost} | {repeated} | {items[-1].detected} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="kill rounds (the alert phase runs once)")
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--json", help="write the full result here")
    args = parser.parse_args(argv)
    result = run(args.rounds, args.skus, log=lambda line: print(f"[chaos] {line}", flush=True))
    print(table(result))
    print(f"\nalert: {json.dumps(result.alert)}")
    print(f"actions: {json.dumps(result.actions)}")
    print(f"scrapes of /metrics (every 0.2 s, timeout 1 s): {json.dumps(result.scrapes)}")
    print(f"Prometheus max scrape_duration_seconds of the exporter: {result.prometheus_scrape_max_seconds}")
    print(f"supervisor restarts logged: {json.dumps(result.restarts_logged)}; run took {result.duration_seconds:.0f}s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "recoveries": [r.__dict__ for r in result.recoveries],
                    "alert": result.alert,
                    "actions": result.actions,
                    "scrapes": result.scrapes,
                    "prometheus_scrape_max_seconds": result.prometheus_scrape_max_seconds,
                    "restarts_logged": result.restarts_logged,
                    "duration_seconds": result.duration_seconds,
                },
                indent=2,
            )
        )
    failures = [r for r in result.recoveries if r.seconds is None or r.seconds > RECOVERY_BOUND_SECONDS]
    bad = (
        failures
        or result.actions.get("repeated")
        or result.actions.get("successful_but_not_received")
        or result.actions.get("received_but_not_logged")
        or result.scrapes.get("outcomes", {}).get("timeout")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
