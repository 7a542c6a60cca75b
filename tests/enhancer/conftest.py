"""Fixtures for the enhancer: a real Prometheus loaded with known series, webhook receivers.

The series live in the past (blocks built by promtool must be older than Prometheus's
head), so engines run on a FakeClock set to known times inside the data.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from enhancer.actions import ActionSender
from enhancer.config import parse_config
from enhancer.engine import Engine
from enhancer.state import StateStore
from servicekit.prometheus import PrometheusClient
from tests.conftest import PrometheusServer, free_port  # noqa: F401 - free_port is used by the tests

MINUTE, HOUR, WEEK = 60, 3600, 7 * 86400

# All data ends here: a whole hour at least four hours before now.
END = (int(time.time()) // HOUR) * HOUR - 4 * HOUR
SPIKE_START, SPIKE_END = END - 60 * MINUTE, END - 30 * MINUTE  # enh_noise{target="a"} jumps to 200
FIX_AT = END - 120 * MINUTE  # enh_fix drops from 50 to 20
SEASONAL_AT = END - 2 * HOUR  # seasonal baseline evaluated here
SEASONAL_WEEKS = 3  # weeks of history for enh_weekly
SEASONAL_HALF_WINDOW = 40 * MINUTE  # data written around each week's moment
# enh_outliers{target="o"}: 100 plus noise, with a 3-minute outlier of +60 every 40 minutes
# that goes away by itself: whatever an action does, its true effect is 0
OUTLIER_STARTS = [END - 6 * HOUR + i * 40 * MINUTE for i in range(7)]
OUTLIER_MINUTES, OUTLIER_HEIGHT = 3, 60.0


def noise(target: str, t: int) -> float:
    step = t // MINUTE
    if target == "a":
        if SPIKE_START <= t < SPIKE_END:
            return 200.0
        return 100.0 + (step * 37) % 11 - 5
    return 50.0 + (step * 13) % 7


def outliers(t: int) -> float:
    if any(start <= t < start + OUTLIER_MINUTES * MINUTE for start in OUTLIER_STARTS):
        return 100.0 + OUTLIER_HEIGHT
    return 100.0 + ((t // MINUTE) * 37) % 11 - 5


def weekly(t: int) -> float:
    week = round((SEASONAL_AT - t) / WEEK)
    return 10.0 * week + ((t // 300) * 7) % 5 + (t // MINUTE) % 3


def fix(t: int) -> float:
    return 50.0 if t < FIX_AT else 20.0


def _series() -> list[tuple[str, dict[str, str], list[int], object]]:
    """(metric, labels, timestamps, value function) for every series loaded into Prometheus."""
    recent = list(range(END - 30 * HOUR, END + 1, MINUTE))
    last6h = list(range(END - 6 * HOUR, END + 1, MINUTE))
    seasonal = [
        t
        for week in range(1, SEASONAL_WEEKS + 1)
        for t in range(
            SEASONAL_AT - week * WEEK - SEASONAL_HALF_WINDOW,
            SEASONAL_AT - week * WEEK + SEASONAL_HALF_WINDOW + 1,
            MINUTE,
        )
    ]
    seasonal += list(range(SEASONAL_AT - 10 * MINUTE, SEASONAL_AT + 1, MINUTE))  # this week: the signal itself
    series = [
        ("enh_noise", {"target": "a"}, recent, lambda t: noise("a", t)),
        ("enh_noise", {"target": "b"}, recent, lambda t: noise("b", t)),
        ("enh_level", {"location": "wh-east"}, last6h, lambda t: 5.0),
        ("enh_level", {"location": "wh-west"}, last6h, lambda t: 0.0),
        ("enh_fix", {"target": "x"}, last6h, fix),
        ("enh_stuck", {"target": "y"}, last6h, lambda t: 50.0),
        ("enh_short", {}, list(range(END - 10 * MINUTE, END + 1, MINUTE)), lambda t: 1.0),
        ("enh_weekly", {}, seasonal, weekly),
        ("enh_outliers", {"target": "o"}, recent, outliers),
    ]
    for loc in range(1, 6):
        series.append(("enh_multi", {"loc": f"l{loc}"}, last6h, lambda t: 1.0))
    return series


def write_openmetrics(path: Path, extra: list | None = None) -> None:
    lines = []
    by_metric: dict[str, list] = {}
    for name, labels, stamps, fn in _series() + (extra or []):
        by_metric.setdefault(name, []).append((labels, stamps, fn))
    for name, members in by_metric.items():
        lines.append(f"# TYPE {name} gauge")
        for labels, stamps, fn in members:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            selector = f"{name}{{{label_text}}}" if label_text else name
            lines.extend(f"{selector} {fn(t):g} {t}" for t in stamps)
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def build_tsdb(directory: Path, extra: list | None = None) -> None:
    source = directory / "series.om.txt"
    write_openmetrics(source, extra)
    subprocess.run(
        ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(directory / "tsdb")],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def prometheus():
    directory = Path(tempfile.mkdtemp(prefix="enhancer-prom-"))
    build_tsdb(directory)
    server = PrometheusServer(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


class FakeClock:
    def __init__(self, at: float):
        self.at = float(at)

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: object
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1 that records requests; per path, a script of answers.

    An answer is a status code, (status code, headers), or "hang" (never answers within
    any test timeout).
    When a path's script runs out, it answers 200.
    """

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list] = field(default_factory=dict)

    def script(self, path: str, *answers) -> None:
        self.scripts[path] = list(answers)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
async def receiver():
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        state.requests.append(Received(request.method, request.path, dict(request.headers), body))
        answers = state.scripts.get(request.path)
        answer = answers.pop(0) if answers else 200
        if answer == "hang":
            await asyncio.sleep(3600)
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.json_response({"ok": status < 300}, status=status, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def rule(name: str, query: str, *, trigger: dict, url: str | None = None, **extra) -> dict:
    """A rule dict with a webhook action to `url` (log action when url is None)."""
    action = (
        {"kind": "webhook", "url": url, "timeout": "1s", "retries": 2, "backoff": "50ms"} if url else {"kind": "log"}
    )
    return {"name": name, "query": query, "trigger": trigger, "action": action, **extra}


@pytest.fixture
def make_engine(prometheus, session, tmp_path):
    """Builds engines on one state file by default; a second call is a restart."""
    stores: list[StateStore] = []

    def build(
        rules: list[dict],
        *,
        clock: FakeClock,
        state: str | None = None,
        dry_run: bool = False,
        budget: int = 100,
        prometheus_url: str | None = None,
        force_dry_run: bool = False,
        **top_level,
    ) -> Engine:
        config = parse_config(
            {
                **top_level,
                "prometheus": {
                    "url": prometheus_url or prometheus.url,
                    "timeout": "2s",
                    "retries": 1,
                    "backoff": "50ms",
                },
                "state": state or str(tmp_path / "state.db"),
                "allowed_hosts": ["127.0.0.1"],
                "dry_run": dry_run,
                "budget": {"per_hour": budget},
                "rules": rules,
            }
        )
        store = StateStore(config.state)
        stores.append(store)
        client = PrometheusClient(
            config.prometheus.url,
            session,
            timeout=config.prometheus.timeout,
            retries=config.prometheus.retries,
            backoff=config.prometheus.backoff,
        )
        return Engine(config, store, client, ActionSender(config, session), clock=clock, force_dry_run=force_dry_run)

    yield build
    for store in stores:
        store.close()


def outcomes(engine: Engine, rule_name: str) -> dict[str, int]:
    return {outcome: count for (name, outcome), count in engine.outcomes.items() if name == rule_name and count}


def start_action(
    store: StateStore,
    action_id: str,
    *,
    rule: str = "r",
    target: str = "{}",
    now: float = 100.0,
    cooldown: float = 600.0,
) -> None:
    """A write-ahead row and its cooldown, as the engine commits them before sending."""
    store.start_action(
        action_id=action_id,
        rule=rule,
        target=target,
        reason="why",
        dry_run=False,
        value=1.0,
        baseline=None,
        now=now,
        cooldown_until=now + cooldown,
    )
