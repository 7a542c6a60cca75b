"""Runs every collector in the background and publishes one snapshot for /metrics.

Each collector has its own loop: run, time it, enforce its timeout, record the
outcome, re-render the snapshot, sleep until its next tick. The render (text and
OpenMetrics, both gzipped) runs in a worker thread, so a large registry delays the
next snapshot, never a scrape being served. A failed or timed-out
collector's families are dropped from the snapshot (never served stale as if fresh)
and show as inventory_exporter_collector_success 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from exporter import __version__
from exporter.collectors.base import Collector
from servicekit.snapshot import Snapshot

log = logging.getLogger("exporter.runner")

# How long stop() waits for the collectors to end and to close, each.
STOP_SECONDS = 10.0


def with_constant_labels(families: Iterable[Metric], labels: dict[str, str]) -> list[Metric]:
    """Copy families adding the same labels to every sample (e.g. tenant)."""
    if not labels:
        return list(families)
    out = []
    for family in families:
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        copy.samples = [
            Sample(s.name, {**labels, **s.labels}, s.value, s.timestamp, s.exemplar) for s in family.samples
        ]
        out.append(copy)
    return out


@dataclass
class CollectorState:
    """What the last run of one collector produced."""

    families: list[Metric]
    started: bool = False  # its first run has begun
    runs: int = 0
    success: bool = False
    duration_seconds: float = 0.0
    last_run_timestamp: float = 0.0
    last_success_timestamp: float = 0.0
    last_error: str = ""


class Runner:
    def __init__(
        self,
        collectors: list[Collector],
        constant_labels: dict[str, str] | None = None,
        extra_sources: list[Callable[[], Iterable[Metric]]] | None = None,
        ready_after: Iterable[str] = (),
    ):
        self.collectors = collectors
        self.constant_labels = constant_labels or {}
        # Callables returning families of the process itself (e.g. refused requests),
        # read whenever the snapshot is rendered.
        self.extra_sources = extra_sources or []
        self.states = {c.name: CollectorState(families=[]) for c in collectors}
        # Ready when a snapshot is served and every collector has started, plus, for the
        # collectors named here (readiness.wait_for), once a served snapshot holds their
        # first run. Waiting for all would keep an exporter whose integration takes 30
        # minutes out of its Service's endpoints, and so unscraped, for 30 minutes.
        self.ready_after = frozenset(ready_after)
        unknown = self.ready_after - set(self.states)
        if unknown:
            raise ValueError(f"unknown collectors {sorted(unknown)}; collectors: {sorted(self.states)}")
        self.ready = asyncio.Event()
        # Set once a served snapshot holds every collector's first run (the landing page,
        # first_run_pending and tests that need every value wait for this, not readiness).
        self.complete = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # One render at a time; collectors finishing during a render share the next one.
        # Its own thread: the shared pool may be full of collectors' stuck statements.
        self._render_lock = asyncio.Lock()
        self._render_thread: ThreadPoolExecutor | None = None  # started with the first render
        self._render_pending = False
        self.snapshot: Snapshot = Snapshot.render(self._families())

    async def start(self) -> None:
        for collector in self.collectors:
            self._tasks.append(asyncio.create_task(self._loop(collector), name=f"collector-{collector.name}"))
        if not self.collectors:
            self.ready.set()
            self.complete.set()

    async def stop(self) -> None:
        """Cancel every collector and close them, bounded: a shutdown never waits on a
        collector that does not end (one stuck in a driver call), it logs it and goes on."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in pending:
                log.warning("%s did not stop within %gs; shutting down without it", task.get_name(), STOP_SECONDS)
        self._tasks.clear()
        if self._render_thread is not None:
            self._render_thread.shutdown(wait=False, cancel_futures=True)
            self._render_thread = None
        for collector in self.collectors:
            try:
                await asyncio.wait_for(collector.close(), STOP_SECONDS)
            except TimeoutError:
                log.warning("closing collector %s took more than %gs; going on", collector.name, STOP_SECONDS)
            except Exception:  # closing must never block shutdown
                log.exception("closing collector %s failed", collector.name)

    async def _loop(self, collector: Collector) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            await self.run_once(collector)
            # Fixed ticks: a slow run delays nothing but itself, and missed ticks are skipped.
            now = loop.time()
            next_tick += collector.interval
            if next_tick < now:
                next_tick = now + collector.interval - ((now - next_tick) % collector.interval)
            await asyncio.sleep(next_tick - now)

    def pending(self) -> tuple[list[str], list[str]]:
        """(collectors not started yet, collectors of readiness.wait_for without a first run)."""
        not_started = sorted(name for name, state in self.states.items() if not state.started)
        waiting = sorted(name for name in self.ready_after if not self.states[name].runs)
        return not_started, waiting

    async def run_once(self, collector: Collector) -> None:
        state = self.states[collector.name]
        if not state.started:
            state.started = True
            if not self.ready_after and all(s.started for s in self.states.values()):
                self.ready.set()  # the served snapshot is the one rendered at start
        started = time.perf_counter()
        try:
            families = await asyncio.wait_for(collector.collect(), timeout=collector.timeout)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._record_failure(collector, state, started, f"timed out after {collector.timeout:g}s")
        except Exception as exc:
            self._record_failure(collector, state, started, f"{type(exc).__name__}: {exc}")
        else:
            was_failing = state.runs > 0 and not state.success
            state.families = families
            state.success = True
            state.last_error = ""
            state.duration_seconds = time.perf_counter() - started
            state.last_run_timestamp = state.last_success_timestamp = time.time()
            if was_failing:
                log.info("collector %s recovered", collector.name)
        state.runs += 1
        await self.publish()

    def _record_failure(self, collector: Collector, state: CollectorState, started: float, error: str) -> None:
        state.families = []
        state.success = False
        state.last_error = (error.strip().splitlines() or ["error"])[0][:500]
        state.duration_seconds = time.perf_counter() - started
        state.last_run_timestamp = time.time()
        log.warning("collector %s failed: %s", collector.name, state.last_error)

    def _self_metrics(self) -> list[Metric]:
        build = GaugeMetricFamily(
            "inventory_exporter_build_info", "Build information of the exporter.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        success = GaugeMetricFamily(
            "inventory_exporter_collector_success",
            "1 if the collector's last run succeeded.",
            labels=["collector"],
        )
        duration = GaugeMetricFamily(
            "inventory_exporter_collector_duration_seconds",
            "Duration of the collector's last run.",
            labels=["collector"],
            unit="seconds",
        )
        last_success = GaugeMetricFamily(
            "inventory_exporter_collector_last_success_timestamp_seconds",
            "Unix time of the collector's last successful run.",
            labels=["collector"],
            unit="seconds",
        )
        pending = GaugeMetricFamily(
            "inventory_exporter_collector_first_run_pending",
            "1 until the collector's first run has finished (readiness does not wait for it unless "
            "readiness.wait_for names it).",
            labels=["collector"],
        )
        for name, state in self.states.items():
            pending.add_metric([name], 0 if state.runs else 1)
            if not state.runs:
                continue  # not run yet: no sample rather than a false 0
            success.add_metric([name], 1 if state.success else 0)
            duration.add_metric([name], state.duration_seconds)
            if state.last_success_timestamp:
                last_success.add_metric([name], state.last_success_timestamp)
        return [build, success, duration, last_success, pending]

    def _families(self) -> list[Metric]:
        families = self._self_metrics()
        for source in self.extra_sources:
            families.extend(source())
        for state in self.states.values():
            families.extend(state.families)
        return with_constant_labels(families, self.constant_labels)

    async def publish(self) -> None:
        """Render the current state and swap it in; returns once it is served."""
        self._render_pending = True
        async with self._render_lock:
            if not self._render_pending:
                return  # a render that started after our change already covers it
            self._render_pending = False
            # The families are gathered here, in the loop, so the thread only reads
            # lists nobody changes: collectors build new ones on every run.
            families = self._families()
            # For readiness.wait_for: ready once a served snapshot holds those first runs,
            # not merely once they ran: a run that ends during a render is not in it.
            covers_wanted = all(self.states[name].runs for name in self.ready_after) and all(
                state.started for state in self.states.values()
            )
            covers_all = all(state.runs for state in self.states.values())
            if self._render_thread is None:
                self._render_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-render")
            loop = asyncio.get_running_loop()
            self.snapshot = await loop.run_in_executor(self._render_thread, Snapshot.render, families)
            if covers_wanted:
                self.ready.set()
            if covers_all:
                self.complete.set()

    def api_view(self, name: str) -> list[Any] | None:
        """Merge the named JSON view of every collector that offers one."""
        merged: list[Any] = []
        found = False
        for collector in self.collectors:
            if not self.states[collector.name].success:
                continue
            view = collector.api_views().get(name)
            if view is not None:
                found = True
                merged.extend(view)
        return merged if found else None
