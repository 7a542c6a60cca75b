"""Long-running mode: build each period's report when it closes, at cron times.

Each period kind has a cron expression (minute hour day-of-month month day-of-week, in
the configured time zone; see reporter/cron.py). When it fires, every period of that
kind that closed by then and is missing from the archive is built (reporter/pipeline.py),
newest `catch_up` periods at most, oldest first; reports whose delivery failed are
delivered again. The archive is the record: a period with a manifest.json is never
built twice, so a restart neither skips nor repeats a report. On start the latest fire
time counts as a tick (the catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from reporter.config import Config
from reporter.cron import parse_cron
from reporter.outputs import read_manifest
from reporter.periods import complete_before
from reporter.pipeline import ReportFailed, channels_of, produce
from servicekit.server import stop_on_signals

log = logging.getLogger("reporter.schedule")


class Scheduler:
    """One tick per cron fire: build what is missing, redeliver what failed."""

    def __init__(
        self,
        config: Config,
        out_dir: Path,
        formats: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.out_dir = out_dir
        self.formats: Sequence[str] = formats or config.schedule.formats or config.output.formats
        self.clock = clock
        self.crons = {kind: parse_cron(spec) for kind, spec in config.schedule.specs().items()}
        self.handled: dict[str, float] = {}

    def _undelivered(self, manifest: dict[str, Any]) -> set[str]:  # manifest.json, as read
        if not self.config.schedule.send:
            return set()
        deliveries = manifest.get("deliveries", {})
        return {c for c in channels_of(self.config) if not deliveries.get(c, {}).get("ok")}

    async def tick(self, session: aiohttp.ClientSession) -> list[str]:
        """Handle every cron fire reached since the last tick; returns the periods built or redelivered."""
        done = []
        now = self.clock()
        tz = self.config.tz
        for kind, cron in self.crons.items():
            fire = cron.previous_fire(now, tz)
            if fire is None or self.handled.get(kind) == fire:
                continue
            self.handled[kind] = fire
            periods = complete_before(kind, fire, tz, self.config.schedule.catch_up, self.config.week_start)
            for period in reversed(periods):
                manifest = read_manifest(self.out_dir, period.name)
                if manifest is None:
                    send: bool | set[str] = self.config.schedule.send
                else:
                    send = self._undelivered(manifest)
                    if not send:
                        continue
                    log.info("report %s: retrying delivery by %s", period.name, ", ".join(sorted(send)))
                try:
                    await produce(self.config, period, self.formats, self.out_dir, send=send, session=session)
                except ReportFailed as exc:
                    # Retried at the next fire of this kind: the archive still lacks it.
                    log.error("report %s not built: %s", period.name, exc)
                    continue
                done.append(period.name)
        return done

    def seconds_to_next_fire(self) -> float:
        now = self.clock()
        fires = [f for f in (c.next_fire(now, self.config.tz) for c in self.crons.values()) if f is not None]
        return max(1.0, min(fires) - now) if fires else 3600.0


async def run_forever(config: Config, out_dir: Path, formats: Sequence[str] | None = None) -> int:
    scheduler = Scheduler(config, out_dir, formats)
    if not scheduler.crons:
        log.error("schedule: no period has a cron expression; nothing to do")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_on_signals(loop, stop, log)
    log.info("schedule: %s", ", ".join(f"{k} '{getattr(config.schedule, k)}'" for k in scheduler.crons))
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            await scheduler.tick(session)
            # Wake at the next fire, and at least once a minute so a clock change is noticed.
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(60.0, scheduler.seconds_to_next_fire()))
            except TimeoutError:
                pass
    log.info("schedule: stopped")
    return 0
