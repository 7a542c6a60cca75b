"""Long-running mode: build each period's report when it closes, at cron-like times.

Each period kind has a cron expression (minute hour day-of-month month day-of-week, in
the configured time zone). When it fires, every period of that kind that closed by then
and is missing from the archive is built, newest `catch_up` periods at most, oldest
first; reports whose delivery failed are delivered again. The archive is the record: a
period with a manifest.json is never built twice, so a restart neither skips nor
repeats a report. On start the latest fire time counts as a tick (the catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Callable

import aiohttp

from reporter.config import Config
from reporter.outputs import read_manifest
from reporter.periods import complete_before

log = logging.getLogger("reporter.schedule")

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ValueError(f"{name}: invalid step in {part!r}")
        if body == "*":
            first, last = low, high
        else:
            first_text, _, last_text = body.partition("-")
            if not first_text.isdigit() or (last_text and not last_text.isdigit()):
                raise ValueError(f"{name}: invalid value {part!r}")
            first = int(first_text)
            last = int(last_text) if last_text else (high if step_text else first)
        if not low <= first <= last <= high:
            raise ValueError(f"{name}: {part!r} outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]   # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        # Vixie cron: when both are restricted, either one matching is enough.
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def previous_fire(self, now: float, tz: tzinfo) -> float | None:
        """The latest fire time <= now (Unix seconds)."""
        local = datetime.fromtimestamp(now, timezone.utc).astimezone(tz)
        for back in range(0, 800):
            day = local.date() - timedelta(days=back)
            if not self.day_matches(day):
                continue
            for hour in sorted(self.hours, reverse=True):
                for minute in sorted(self.minutes, reverse=True):
                    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()
                    if at <= now:
                        return at
        return None

    def next_fire(self, now: float, tz: tzinfo) -> float | None:
        """The earliest fire time > now."""
        local = datetime.fromtimestamp(now, timezone.utc).astimezone(tz)
        for ahead in range(0, 800):
            day = local.date() + timedelta(days=ahead)
            if not self.day_matches(day):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()
                    if at > now:
                        return at
        return None


def parse_cron(spec: str) -> Cron:
    parts = spec.split()
    if len(parts) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    minutes, hours, days, months, weekdays = (
        _parse_field(text, name, low, high) for text, (name, low, high) in zip(parts, _FIELDS))
    weekdays = frozenset(0 if d == 7 else d for d in weekdays)
    return Cron(minutes, hours, days, months, weekdays, parts[2] == "*", parts[4] == "*")


class Scheduler:
    """One tick per cron fire: build what is missing, redeliver what failed."""

    def __init__(self, config: Config, out_dir: Path, formats: list[str] | None = None,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.out_dir = out_dir
        self.formats = formats or config.schedule.formats or config.output.formats
        self.clock = clock
        self.crons = {kind: parse_cron(spec) for kind, spec in config.schedule.specs().items()}
        self.handled: dict[str, float] = {}

    def _undelivered(self, manifest: dict) -> set[str]:
        from reporter.cli import channels_of

        if not self.config.schedule.send:
            return set()
        deliveries = manifest.get("deliveries", {})
        return {c for c in channels_of(self.config) if not deliveries.get(c, {}).get("ok")}

    async def tick(self, session: aiohttp.ClientSession) -> list[str]:
        """Handle every cron fire reached since the last tick; returns the periods built or redelivered."""
        from reporter.cli import ReportFailed, produce

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


async def run_forever(config: Config, out_dir: Path, formats: list[str] | None = None) -> int:
    scheduler = Scheduler(config, out_dir, formats)
    if not scheduler.crons:
        log.error("schedule: no period has a cron expression; nothing to do")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("schedule: %s", ", ".join(f"{k} '{getattr(config.schedule, k)}'" for k in scheduler.crons))
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            await scheduler.tick(session)
            # Wake at the next fire, and at least once a minute so a clock change is noticed.
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(60.0, scheduler.seconds_to_next_fire()))
            except asyncio.TimeoutError:
                pass
    log.info("schedule: stopped")
    return 0
