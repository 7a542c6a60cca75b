"""`make demo`: the whole stack on localhost, in the foreground, with prefixed logs.

    python -m demo.run [--duration N] [--port-offset N] [--state-dir .demo] [--fast]
                       [--fault-at 20s:api_errors ...] [--no-faults] [--only a,b,...]

Seeds a fresh demo database into the state directory (.demo/, gitignored), writes the
exporter's config there, and starts as subprocesses, each in its own process group:
the webhook sink, the fake Shopify/Square/Odoo servers, the demo inventory API, the
exporter, Alertmanager, Prometheus, the enhancer and, once all of them answer, the
traffic simulator. Prometheus and Alertmanager are skipped with a log line when their
binary is not installed, the enhancer when its config is missing. Ctrl-C or SIGTERM (or
the end of --duration) stops everything, newest first, and checks that no process of any
group is left.

A component that dies after the stack is up is restarted, like systemd's
Restart=on-failure: a non-zero exit or a signal restarts it after a backoff of 1 s that
doubles up to 30 s while it keeps dying within a minute of its start; exit 0 and exit 2
(a bad config, which a restart cannot fix) are only reported. --no-restart turns it off.

--port-offset N moves every port by N (generated copies of prometheus.yml,
alertmanager.yml and enhancer.yml carry the moved ports), so a test can run the stack
next to a running `make demo`. --fast scrapes, evaluates and collects every second,
for tests; alert `for:` durations and Alertmanager timings stay as shipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from servicekit.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"

# The fixed ports of the demo (docs/demo.md).
BASE_PORTS = {
    "exporter": 9877,
    "enhancer": 9878,
    "api": 8080,
    "shopify": 8181,
    "square": 8182,
    "odoo": 8183,
    "sink": 9099,
    "prometheus": 9090,
    "alertmanager": 9093,
    "dashboards": 3001,
    "grafana": 3000,
}
FAKE_KINDS = ("shopify", "square", "odoo")
ALL_COMPONENTS = (
    "seed",
    "sink",
    "fakes",
    "api",
    "exporter",
    "alertmanager",
    "prometheus",
    "enhancer",
    "simulator",
    "dashboards",
)
STOP_GRACE_SECONDS = 10.0
# Restart policy (Restart=on-failure): backoff doubles from INITIAL to MAX while the
# component keeps dying within STABLE seconds of its start; a longer run resets it.
RESTART_BACKOFF_INITIAL = 1.0
RESTART_BACKOFF_MAX = 30.0
RESTART_STABLE_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 60.0

_print_lock = threading.Lock()
_COLORS = ("36", "32", "33", "35", "34", "31", "96", "92", "93", "95")


def say(prefix: str, line: str, color: str | None = None) -> None:
    tag = f"[{prefix}]"
    if color and sys.stdout.isatty():
        tag = f"\033[{color}m{tag}\033[0m"
    with _print_lock:
        sys.stdout.write(f"{tag} {line}\n")
        sys.stdout.flush()


def log(line: str) -> None:
    say("run", line, "1")


# --- configuration -------------------------------------------------------------------


@dataclass
class Settings:
    state_dir: Path
    host: str
    ports: dict[str, int]
    fast: bool
    exporter_url: str
    db: Path = field(init=False)

    def __post_init__(self) -> None:
        self.db = self.state_dir / "inventory.db"

    def url(self, component: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[component]}{path}"


def rewrite_ports(text: str, ports: dict[str, int]) -> str:
    """Move every fixed demo port in a config text to its offset port."""
    moved = {str(BASE_PORTS[name]): str(port) for name, port in ports.items() if port != BASE_PORTS[name]}
    if not moved:
        return text
    pattern = re.compile(r"(?<=:)(" + "|".join(moved) + r")\b")
    return pattern.sub(lambda m: moved[m.group(1)], text)


def _absolute(path: str, base: Path) -> str:
    return path if os.path.isabs(path) else str((base / path).resolve())


def prometheus_config(settings: Settings, source: Path) -> Path:
    """The shipped prometheus.yml, or a copy with moved ports, absolute rule paths and (--fast) 1 s timings."""
    if not settings.fast and settings.ports == BASE_PORTS:
        return source
    config = yaml.safe_load(rewrite_ports(source.read_text(), settings.ports))
    config["rule_files"] = [_absolute(p, source.parent) for p in config.get("rule_files") or []]
    if settings.fast:
        config.setdefault("global", {}).update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
        for job in config.get("scrape_configs") or []:
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
    out = settings.state_dir / "prometheus.yml"
    out.write_text(
        "# Generated by demo/run.py from prometheus/prometheus.yml; edits are overwritten.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return out


def alertmanager_config(settings: Settings, source: Path) -> Path:
    if settings.ports == BASE_PORTS:
        return source
    config = yaml.safe_load(rewrite_ports(source.read_text(), settings.ports))
    config["templates"] = [_absolute(p, source.parent) for p in config.get("templates") or []]
    out = settings.state_dir / "alertmanager.yml"
    out.write_text(
        "# Generated by demo/run.py from alertmanager/alertmanager.yml; edits are overwritten.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return out


def enhancer_config(settings: Settings, source: Path) -> Path:
    """A copy of enhancer.yml with moved ports and its state file in the state directory."""
    config = yaml.safe_load(rewrite_ports(source.read_text(), settings.ports))
    state = config.get("state")
    if isinstance(state, str) and "://" not in state:
        config["state"] = str(settings.state_dir / "enhancer-state.db")
    config["listen"] = f"{settings.host}:{settings.ports['enhancer']}"
    out = settings.state_dir / "enhancer.yml"
    out.write_text(
        "# Generated by demo/run.py from enhancer/enhancer.yml; edits are overwritten.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return out


def fake_modules() -> dict[str, Any]:
    """The fake integration modules, by kind."""
    return {kind: importlib.import_module(f"demo.fakes.{kind}") for kind in FAKE_KINDS}


def integration_settings(module: Any) -> dict[str, Any]:
    """The exporter settings a fake declares for its integration entry beyond the common ones."""
    return dict(getattr(module, "INTEGRATION_SETTINGS", {}))


def token_env_name(kind: str) -> str:
    return f"DEMO_{kind.upper()}_TOKEN"


def exporter_config(settings: Settings, fakes: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "listen": f"{settings.host}:{settings.ports['exporter']}",
        # The business queries read the whole database: every 2 s is as fast as is kind to a laptop.
        "database": {"url": f"sqlite:///{settings.db}", "interval": "2s" if settings.fast else "5s", "timeout": "10s"},
        "api_probes": [{"target": "inventory-api", "url": settings.url("api", "/health")}],
        "api_probe_settings": {"interval": "1s" if settings.fast else "5s", "timeout": "3s"},
        # The seeded shop reviews its stock every day (demo/seed.py reorders each day a row is
        # at its reorder point), not weekly: safety stock over lead time + 1 day, as the seed
        # sized it. --fast forecasts every 30 s instead of every 5 minutes, so a stock-out
        # reaches InventoryOutOfStock within a minute in tests.
        "analytics": {"review_period_days": 1, **({"interval": "30s"} if settings.fast else {})},
    }
    integrations = []
    for kind, module in fakes.items():
        entry = {
            "name": kind,
            "kind": kind,
            "url": settings.url(kind),
            "token_env": token_env_name(kind),
            "interval": "2s" if settings.fast else "15s",
            "timeout": "10s",
            "locations": dict(module.DEFAULT_LOCATION_MAP),
        }
        if kind == "shopify":
            # Bulk operations whatever the catalogue: a paged read costs about 3.6 points per
            # SKU-location and the fake's bucket (Shopify's Standard plan, 100 points a
            # second) refills 1,500 in 15 s and 200 in 2 s, so at the demo's cadence paged
            # reads of its catalogue (1,292 online SKU-locations at the default 3000 SKUs) fall
            # behind and every run fails on the throttle (InventoryIntegrationFetchFailing,
            # seen in a real make demo). A bulk operation costs 11 points a run.
            entry["bulk"] = "always"
        entry.update(integration_settings(module))
        integrations.append(entry)
    if integrations:
        config["integrations"] = integrations
    return config


def write_exporter_config(settings: Settings, fakes: dict[str, Any]) -> Path:
    path = settings.state_dir / "exporter.yml"
    path.write_text(
        "# Generated by demo/run.py for the local demo; edits are overwritten.\n"
        + yaml.safe_dump(exporter_config(settings, fakes), sort_keys=False)
    )
    return path


# --- processes -----------------------------------------------------------------------


@dataclass
class Component:
    name: str
    argv: list[str]
    ready_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    color: str = "37"
    restarts: int = 0
    started_at: float = 0.0  # monotonic time of the current process's start
    quick_failures: int = 0  # deaths within RESTART_STABLE_SECONDS in a row
    restart_at: float | None = None  # monotonic time of the pending restart
    given_up: bool = False  # exited in a way a restart cannot fix

    def start(self) -> None:
        # demo/ is not an installed package: `-m demo.<module>` resolves from the checkout.
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath, **self.env}
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
        threading.Thread(target=self._pump, name=f"log-{self.name}", daemon=True).start()

    def _pump(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            try:
                say(self.name, line.rstrip("\n"), self.color)
            except (BrokenPipeError, ValueError):
                pass  # our stdout is gone: keep draining so the child never blocks on a full pipe

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        if self.ready_url is None:
            return True
        try:
            with urllib.request.urlopen(self.ready_url, timeout=1) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def signal_group(self, sig: int) -> bool:
        """Signal the whole process group; False if nothing of it is left."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, sig)
            return True
        except ProcessLookupError:
            return False


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port_offset(attempts: int = 100) -> int:
    """A --port-offset that moves every demo port onto a free one (tests, benchmarks)."""
    for _ in range(attempts):
        offset = random.randrange(10000, 50000, 10)
        if not any(port_in_use(port + offset) for port in BASE_PORTS.values()):
            return offset
    raise RuntimeError("no free block of ports for the demo")


class Stack:
    def __init__(self, components: list[Component], pids_file: Path | None = None):
        self.components = components
        self.started: list[Component] = []
        self.stop_requested = threading.Event()
        # {component: pid} of the current processes, rewritten on every (re)start, so the
        # fault suite (benchmarks/chaos.py) can kill exactly one component's process.
        self.pids_file = pids_file

    def start(self, component: Component) -> None:
        log(f"starting {component.name}: {' '.join(component.argv)}")
        component.start()
        self.started.append(component)
        self._write_pids()

    def _write_pids(self) -> None:
        if self.pids_file is None:
            return
        pids = {c.name: c.process.pid for c in self.started if c.process is not None}
        tmp = self.pids_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids))
        tmp.replace(self.pids_file)

    def wait_ready(self, components: list[Component], timeout: float = READY_TIMEOUT_SECONDS) -> bool:
        pending = [c for c in components if c.ready_url]
        deadline = time.monotonic() + timeout
        while pending and not self.stop_requested.is_set():
            for component in list(pending):
                if not component.running:
                    log(f"{component.name} exited with code {component.process.returncode} before it was ready")
                    return False
                if component.ready():
                    pending.remove(component)
            if time.monotonic() > deadline:
                log(f"not ready after {timeout:.0f}s: {', '.join(c.name for c in pending)}")
                return False
            time.sleep(0.2)
        return not pending

    def supervise(self, now: float) -> None:
        """Restart components that died (non-zero exit or signal) after their backoff."""
        for component in self.started:
            if component.running or component.given_up or self.stop_requested.is_set():
                continue
            if component.restart_at is None:
                code = component.process.returncode
                ran = now - component.started_at
                how = _describe_exit(code)
                if code in (ExitCode.OK, ExitCode.CONFIG):
                    component.given_up = True
                    log(
                        f"{component.name} {how} after {ran:.0f}s; not restarting"
                        + (" (bad config)" if code == ExitCode.CONFIG else "")
                    )
                    continue
                if ran >= RESTART_STABLE_SECONDS:
                    component.quick_failures = 0
                delay = min(RESTART_BACKOFF_MAX, RESTART_BACKOFF_INITIAL * 2**component.quick_failures)
                component.quick_failures += 1
                # Like systemd's KillMode=control-group: nothing of the dead run may hold its port.
                component.signal_group(signal.SIGKILL)
                component.restart_at = now + delay
                log(
                    f"{component.name} {how} after {ran:.0f}s; restarting in {delay:g}s "
                    f"(restart {component.restarts + 1})"
                )
            elif now >= component.restart_at:
                component.restart_at = None
                component.restarts += 1
                log(f"restarting {component.name} (restart {component.restarts}): {' '.join(component.argv)}")
                component.start()
                self._write_pids()

    def stop(self) -> bool:
        """Stop newest first; returns True when no process of any group is left."""
        for component in reversed(self.started):
            if component.signal_group(signal.SIGTERM):
                deadline = time.monotonic() + STOP_GRACE_SECONDS
                while component.process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
        # Children of a component may outlive its main process: give the groups a moment.
        deadline = time.monotonic() + 2
        while any(_group_alive(c) for c in self.started) and time.monotonic() < deadline:
            time.sleep(0.05)
        for component in self.started:
            if _group_alive(component):
                log(f"{component.name} did not stop on SIGTERM; killing its process group")
                component.signal_group(signal.SIGKILL)
        for component in self.started:
            if component.process.poll() is None:
                component.process.wait(5)
        time.sleep(0.1)
        left = [c.name for c in self.started if _group_alive(c)]
        if left:
            log(f"still running after SIGKILL: {', '.join(left)}")
            return False
        log(f"all {len(self.started)} components stopped; no process left")
        return True


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _group_alive(component: Component) -> bool:
    if component.process is None:
        return False
    component.process.poll()  # reap the leader so it does not linger as a zombie
    try:
        os.killpg(component.process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_components(settings: Settings, args: argparse.Namespace, only: set[str]) -> list[Component]:
    python = sys.executable
    components: list[Component] = []
    host = settings.host
    if "sink" in only:
        components.append(
            Component(
                "sink",
                [python, "-m", "demo.sink", "--host", host, "--port", str(settings.ports["sink"])],
                settings.url("sink", "/-/healthy"),
            )
        )
    fakes = fake_modules()
    if "fakes" in only:
        for kind in fakes:
            components.append(
                Component(
                    kind,
                    [
                        python,
                        "-m",
                        f"demo.fakes.{kind}",
                        "--host",
                        host,
                        "--port",
                        str(settings.ports[kind]),
                        "--db",
                        str(settings.db),
                    ],
                    settings.url(kind, "/_control"),
                )
            )
    if "api" in only:
        components.append(
            Component(
                "api",
                [
                    python,
                    "-m",
                    "demo.api",
                    "--db",
                    str(settings.db),
                    "--host",
                    host,
                    "--port",
                    str(settings.ports["api"]),
                    "--exporter-url",
                    settings.exporter_url,
                ],
                settings.url("api", "/health"),
            )
        )
    exporter_yml = write_exporter_config(settings, fakes if "fakes" in only else {})
    if "exporter" in only:
        env = {token_env_name(kind): module.DEFAULT_TOKEN for kind, module in fakes.items()}
        components.append(
            Component(
                "exporter",
                [python, "-m", "exporter", "--config", str(exporter_yml)],
                settings.url("exporter", "/-/healthy"),
                env=env,
            )
        )
    if "alertmanager" in only:
        if not os.access(ALERTMANAGER_BIN, os.X_OK):
            log(f"skipping alertmanager: {ALERTMANAGER_BIN} is missing (make system-deps-demo)")
        else:
            source = ROOT / "alertmanager" / "alertmanager.yml"
            components.append(
                Component(
                    "alertmanager",
                    [
                        ALERTMANAGER_BIN,
                        f"--config.file={alertmanager_config(settings, source)}",
                        f"--storage.path={settings.state_dir / 'alertmanager'}",
                        f"--web.listen-address={host}:{settings.ports['alertmanager']}",
                        "--cluster.listen-address=",
                        "--log.level=warn",
                    ],
                    settings.url("alertmanager", "/-/ready"),
                )
            )
    if "prometheus" in only:
        if not os.access(PROMETHEUS_BIN, os.X_OK):
            log(f"skipping prometheus: {PROMETHEUS_BIN} is missing (make system-deps-demo)")
        else:
            source = ROOT / "prometheus" / "prometheus.yml"
            components.append(
                Component(
                    "prometheus",
                    [
                        PROMETHEUS_BIN,
                        f"--config.file={prometheus_config(settings, source)}",
                        f"--storage.tsdb.path={settings.state_dir / 'prometheus'}",
                        f"--web.listen-address={host}:{settings.ports['prometheus']}",
                        "--log.level=warn",
                    ],
                    settings.url("prometheus", "/-/ready"),
                )
            )
    if "enhancer" in only:
        source = Path(args.enhancer_config).resolve() if args.enhancer_config else ROOT / "enhancer" / "enhancer.yml"
        if not source.exists():
            log(f"skipping enhancer: {source} is missing")
        else:
            components.append(
                Component(
                    "enhancer",
                    [python, "-m", "enhancer", "--config", str(enhancer_config(settings, source))],
                    settings.url("enhancer", "/-/healthy"),
                )
            )
    if "simulator" in only:
        argv = [
            python,
            "-m",
            "demo.simulator",
            "--api",
            settings.url("api"),
            "--config",
            str(exporter_yml),
            "--seed",
            str(args.seed),
        ]
        for spec in args.fault_at:
            argv += ["--fault-at", spec]
        if args.no_faults:
            argv.append("--no-faults")
        if args.no_random_faults:
            argv.append("--no-random-faults")
        components.append(Component("simulator", argv, None))
    if "dashboards" in only and any(c.name == "prometheus" for c in components):
        # Every shipped dashboard drawn from the live Prometheus each minute: the demo's
        # dashboards without Grafana (Grafana too when one is installed: see grafana()).
        components.append(
            Component(
                "dashboards",
                [
                    python,
                    "-m",
                    "demo.dashboards",
                    "--prometheus",
                    settings.url("prometheus"),
                    "--out",
                    str(settings.state_dir / "dashboards"),
                    "--host",
                    host,
                    "--port",
                    str(settings.ports["dashboards"]),
                    "--every",
                    "15s" if settings.fast else "60s",
                ],
                settings.url("dashboards", "/status.json"),
            )
        )
    if "dashboards" in only and any(c.name == "prometheus" for c in components):
        grafana = grafana_component(settings)
        if grafana is not None:
            components.append(grafana)
    for i, component in enumerate(components):
        component.color = _COLORS[i % len(_COLORS)]
    return components


GRAFANA_IMAGE = "grafana/grafana-oss:11.3.0"


def grafana_provisioning(settings: Settings, dashboards_path: str, prometheus_url: str) -> Path:
    """The shipped provisioning (grafana/provisioning) pointed at this demo's Prometheus and
    at the dashboards' directory as the Grafana process sees it."""
    directory = settings.state_dir / "grafana" / "provisioning"
    for kind in ("datasources", "dashboards"):
        (directory / kind).mkdir(parents=True, exist_ok=True)
    datasources = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    for source in datasources["datasources"]:
        source["url"] = prometheus_url
        source["jsonData"]["timeInterval"] = "1s" if settings.fast else "15s"
    (directory / "datasources" / "prometheus.yml").write_text(yaml.safe_dump(datasources, sort_keys=False))
    providers = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/inventory.yml").read_text())
    for provider in providers["providers"]:
        provider["options"]["path"] = dashboards_path
    (directory / "dashboards" / "inventory.yml").write_text(yaml.safe_dump(providers, sort_keys=False))
    return directory


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def grafana_component(settings: Settings) -> Component | None:
    """Real Grafana, provisioned with the same datasource and dashboards, when a binary is on
    PATH or a Docker engine answers; None (the rendered pages only) otherwise."""
    port = settings.ports["grafana"]
    env = {
        "GF_SERVER_HTTP_ADDR": settings.host,
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
    }
    binary = shutil.which("grafana") or shutil.which("grafana-server")
    if binary is not None:
        provisioning = grafana_provisioning(settings, str(ROOT / "grafana" / "dashboards"), settings.url("prometheus"))
        data = settings.state_dir / "grafana" / "data"
        data.mkdir(parents=True, exist_ok=True)
        env.update(GF_PATHS_PROVISIONING=str(provisioning), GF_PATHS_DATA=str(data))
        homepath = "/usr/share/grafana"
        argv = [binary, "server"] if Path(binary).name == "grafana" else [binary]
        return Component("grafana", [*argv, f"--homepath={homepath}"], settings.url("grafana", "/api/health"), env=env)
    if _docker_engine():
        # Host networking: the container reaches the demo's Prometheus on loopback.
        provisioning = grafana_provisioning(settings, "/var/lib/grafana/dashboards", settings.url("prometheus"))
        argv = ["docker", "run", "--rm", "--network", "host", "--name", f"inventory-demo-grafana-{port}"]
        for name, value in env.items():
            argv += ["-e", f"{name}={value}"]
        argv += [
            "-v",
            f"{provisioning}:/etc/grafana/provisioning:ro",
            "-v",
            f"{ROOT / 'grafana' / 'dashboards'}:/var/lib/grafana/dashboards:ro",
            GRAFANA_IMAGE,
        ]
        return Component("grafana", argv, settings.url("grafana", "/api/health"))
    log("no Grafana binary or Docker engine: the dashboards are served as rendered pages")
    return None


def _sink_summary(settings: Settings, started_at: float) -> None:
    try:
        with urllib.request.urlopen(settings.url("sink", "/received"), timeout=2) as resp:
            records = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return
    alerts = [
        (r["received_at"], a) for r in records if r["kind"] == "alert" for a in (r["body"] or {}).get("alerts", [])
    ]
    firing = [(t, a) for t, a in alerts if a.get("status") == "firing"]
    resolved = len(alerts) - len(firing)
    notifies = sum(1 for r in records if r["kind"] == "notify")
    line = f"sink received {len(firing)} firing and {resolved} resolved alert notifications, {notifies} notifications"
    if firing:
        first_time, first = min(firing, key=lambda item: item[0])
        line += f"; first alert {first['labels'].get('alertname')} delivered {first_time - started_at:.0f}s after start"
    log(line)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--state-dir", default=str(ROOT / ".demo"), help="where the db, configs and TSDB go")
    parser.add_argument("--duration", type=float, help="stop by itself after this many seconds")
    parser.add_argument("--port-offset", type=int, default=0, help="add N to every port")
    parser.add_argument("--host", default="127.0.0.1", help="address the services listen on (0.0.0.0 in docker)")
    parser.add_argument("--exporter-url", help="exporter base URL for the API's actions (default: the local one)")
    parser.add_argument("--fast", action="store_true", help="1 s scrape, evaluation and collection (for tests)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the database and the traffic")
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="reuse the database, Prometheus TSDB and Alertmanager state of the last run",
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(ALL_COMPONENTS)}")
    parser.add_argument(
        "--fault-at",
        action="append",
        default=[],
        metavar="WHEN:KIND[:ARG]",
        help="simulator fault (repeatable; replaces its default schedule)",
    )
    parser.add_argument("--no-faults", action="store_true", help="simulator traffic without faults")
    parser.add_argument("--no-random-faults", action="store_true", help="only the scheduled faults")
    parser.add_argument(
        "--no-restart", action="store_true", help="report a component that dies instead of restarting it"
    )
    parser.add_argument(
        "--enhancer-config",
        metavar="FILE",
        help="enhancer config to run instead of enhancer/enhancer.yml (ports and state "
        "are moved the same way; the fault suite adds its own rule)",
    )
    return parser.parse_args(argv)


def _report(settings: Settings) -> None:
    """A report of the demo's last hour from its Prometheus, before the stack stops."""
    config = settings.state_dir / "reporter.yml"
    config.write_text(
        f"prometheus:\n  url: {settings.url('prometheus')}\n  timeout: 20s\n"
        f"timezone: UTC\noutput:\n  directory: {settings.state_dir / 'reports'}\n  formats: [html, json]\n"
    )
    command = [
        sys.executable,
        "-m",
        "reporter",
        "--config",
        str(config),
        "--from",
        "now-1h",
        "--to",
        "now",
        "--format",
        "html,json",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        log("report of the last hour: not finished within 90s")
        return
    if done.returncode == 0:
        log(f"report of the last hour: {done.stdout.strip()}")
    else:
        log(f"report of the last hour failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = time.time()
    only = set(ALL_COMPONENTS)
    if args.only:
        only = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = sorted(only - set(ALL_COMPONENTS))
        if unknown:
            print(f"--only: unknown component {unknown[0]!r}; known: {', '.join(ALL_COMPONENTS)}", file=sys.stderr)
            return ExitCode.CONFIG
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ports = {name: port + args.port_offset for name, port in BASE_PORTS.items()}
    settings = Settings(
        state_dir, args.host, ports, args.fast, args.exporter_url or f"http://127.0.0.1:{ports['exporter']}"
    )

    components = build_components(settings, args, only)
    busy = [f"{c.name} ({ports[c.name]})" for c in components if c.name in ports and port_in_use(ports[c.name])]
    if busy:
        print(
            f"ports in use: {', '.join(busy)}; is another demo running? Stop it or pass --port-offset N",
            file=sys.stderr,
        )
        return ExitCode.FAILURE

    if not args.keep_data:
        # A fresh database needs fresh monitoring state: Prometheus would restore pending
        # alerts of the last run, and Alertmanager's notification log would hold back
        # notifications it already sent for the same alerts.
        for stale in ("prometheus", "alertmanager", "enhancer-state.db"):
            target = state_dir / stale
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    if "seed" in only and not (args.keep_data and settings.db.exists()):
        from demo.seed import generate

        log(f"seeding {settings.db} ({args.skus} SKUs, 90 days of history, seed {args.seed})")
        log(generate(settings.db, skus=args.skus, seed=args.seed).line())
    elif not settings.db.exists():
        print(f"{settings.db}: no demo database; run without --keep-data or include seed in --only", file=sys.stderr)
        return ExitCode.FAILURE

    stack = Stack(components, pids_file=state_dir / "pids.json")
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, lambda signum, frame: stack.stop_requested.set())
    try:
        status = _run(stack, settings, components, args, started_at)
    finally:
        if "sink" in only:
            _sink_summary(settings, started_at)
        if "prometheus" in only and stack.started:
            _report(settings)
        log("stopping")
        clean = stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status if clean else 1


def _run(
    stack: Stack, settings: Settings, components: list[Component], args: argparse.Namespace, started_at: float
) -> int:
    services = [c for c in components if c.name != "simulator"]
    for component in services:
        if component.name == "exporter":
            # What it monitors answers first: an exporter whose first probe of a fake that
            # is not listening yet reports the integration down until its next run
            # (InventoryIntegrationDown pending on a healthy start).
            if not stack.wait_ready(stack.started):
                return ExitCode.OK if stack.stop_requested.is_set() else ExitCode.FAILURE
        stack.start(component)
    if not stack.wait_ready(services):
        return ExitCode.OK if stack.stop_requested.is_set() else ExitCode.FAILURE
    for component in components:
        if component.name == "simulator":
            stack.start(component)
    _banner(settings, components, started_at)
    deadline = None if args.duration is None else started_at + args.duration
    reported_dead: set[str] = set()
    while not stack.stop_requested.is_set():
        if deadline is not None and time.time() >= deadline:
            log(f"--duration {args.duration:g}s reached")
            break
        if args.no_restart:
            for component in stack.started:
                if not component.running and component.name not in reported_dead:
                    reported_dead.add(component.name)
                    log(f"{component.name} {_describe_exit(component.process.returncode)}")
        else:
            stack.supervise(time.monotonic())
        stack.stop_requested.wait(0.2)
    return ExitCode.OK


# Pages the banner links to, in order of preference: Debian's Prometheus build serves
# its alerts page at /classic/alerts (no React UI), upstream's at /alerts.
PROMETHEUS_ALERT_PAGES = ("/alerts", "/classic/alerts", "/graph", "/")


def first_served(base: str, paths: tuple[str, ...]) -> str:
    """The first of `paths` that `base` answers with 200 (the last one when none does)."""
    for path in paths:
        try:
            with urllib.request.urlopen(base + path, timeout=2) as response:
                if response.status == 200:
                    return path
        except OSError:
            continue
    return paths[-1]


def _banner(settings: Settings, components: list[Component], started_at: float) -> None:
    names = {c.name for c in components}
    lines = [f"demo is up after {time.time() - started_at:.0f}s; press Ctrl-C to stop everything"]
    prometheus_page = first_served(settings.url("prometheus"), PROMETHEUS_ALERT_PAGES) if "prometheus" in names else "/"
    for name, label, path in (
        ("prometheus", "Prometheus", prometheus_page),
        ("alertmanager", "Alertmanager", "/#/alerts"),
        ("dashboards", "Dashboards", "/"),
        ("grafana", "Grafana", "/dashboards"),
        ("exporter", "Exporter", "/"),
        ("enhancer", "Enhancer", "/metrics"),
        ("api", "Inventory API", "/products?limit=5"),
        ("sink", "Webhook sink", "/received"),
        ("shopify", "Fake Shopify", "/_control"),
        ("square", "Fake Square", "/_control"),
        ("odoo", "Fake Odoo", "/_control"),
    ):
        if name in names:
            lines.append(f"  {label:<14} {settings.url(name, path)}")
    for line in lines:
        log(line)


if __name__ == "__main__":
    sys.exit(main())
