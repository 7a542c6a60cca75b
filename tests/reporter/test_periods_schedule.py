"""Period boundaries in a time zone, cron parsing, and the scheduler's catch-up without duplicates."""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, timezone

import aiohttp
import pytest

from reporter.config import parse_config
from reporter.periods import last_complete, parse_time, period_containing
from reporter.schedule import Scheduler, parse_cron
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_periods_follow_the_local_calendar():
    spring = period_containing("daily", date(2026, 3, 29), BERLIN)
    assert spring.seconds == 23 * 3600 and spring.name == "daily-2026-03-29"
    assert spring.start.isoformat() == "2026-03-29T00:00:00+01:00"
    week = period_containing("weekly", date(2026, 11, 19), BERLIN)
    assert (week.start.date(), week.end.date(), week.name) == (date(2026, 11, 16), date(2026, 11, 23),
                                                               "weekly-2026-W47")
    sunday_week = period_containing("weekly", date(2026, 11, 19), BERLIN, "sunday")
    assert sunday_week.start.date() == date(2026, 11, 15)
    quarter = period_containing("quarterly", date(2026, 2, 10), BERLIN)
    assert quarter.name == "quarterly-2026-Q1" and quarter.end.date() == date(2026, 4, 1)
    assert quarter.previous().name == "quarterly-2025-Q4"
    march = period_containing("monthly", date(2026, 3, 5), BERLIN)
    assert march.previous().name == "monthly-2026-02" and march.previous().seconds == 28 * 86400
    # 2026-11-23 00:30 in Berlin is still 22 November in UTC: the local day decides
    now = datetime(2026, 11, 23, 0, 30, tzinfo=BERLIN).timestamp()
    assert last_complete("daily", now, BERLIN).name == "daily-2026-11-22"
    assert last_complete("daily", now, zoneinfo.ZoneInfo("UTC")).name == "daily-2026-11-21"
    assert parse_time("now-1h", BERLIN, now).timestamp() == now - 3600
    custom = period_containing("daily", date(2026, 11, 22), BERLIN)
    assert custom.previous().end == custom.start


def test_cron_fields():
    cron = parse_cron("0 7 * * 1")
    tz = zoneinfo.ZoneInfo("UTC")
    monday = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc).timestamp()
    assert cron.previous_fire(monday + 59, tz) == monday
    assert cron.previous_fire(monday - 1, tz) == monday - 7 * 86400
    assert cron.next_fire(monday, tz) == monday + 7 * 86400
    quarterly = parse_cron("0 8 1 1,4,7,10 *")
    assert datetime.fromtimestamp(quarterly.next_fire(monday, tz), timezone.utc) == datetime(
        2027, 1, 1, 8, tzinfo=timezone.utc)
    for bad in ("0 7 * *", "60 * * * *", "*/0 * * * *", "a b c d e"):
        with pytest.raises(ValueError):
            parse_cron(bad)


@pytest.mark.prometheus
async def test_scheduler_catches_up_once_and_never_twice(prometheus, tmp_path):
    archive = tmp_path / "archive"
    config = parse_config(base_config(prometheus.url, archive, schedule={
        "weekly": "0 7 * * 1", "daily": "30 6 * * *", "catch_up": 2, "formats": ["json"]}))
    clock = {"now": d.E + 8 * 3600.0}          # Monday 08:00 UTC: both crons fired today

    async with aiohttp.ClientSession() as session:
        first = Scheduler(config, archive, clock=lambda: clock["now"])
        built = await first.tick(session)
        weeks = [p.name for p in (period_containing("weekly", datetime.fromtimestamp(t, timezone.utc).date(), config.tz)
                                  for t in (d.A + 3600, d.B + 3600))]
        days = [f"daily-{datetime.fromtimestamp(t, timezone.utc):%Y-%m-%d}" for t in (d.E - 2 * 86400, d.E - 86400)]
        assert sorted(built) == sorted(days + weeks)    # oldest first within a kind, two of each
        assert built.index(weeks[0]) < built.index(weeks[1])
        stamps = {p: (archive / p / "manifest.json").stat().st_mtime_ns for p in built}
        assert await first.tick(session) == []          # same fire times: nothing to do

        restarted = Scheduler(config, archive, clock=lambda: clock["now"])
        assert await restarted.tick(session) == []      # the archive is the record
        assert {p: (archive / p / "manifest.json").stat().st_mtime_ns for p in built} == stamps

        clock["now"] += 86400                           # a day later only the new day is due
        assert await restarted.tick(session) == [f"daily-{datetime.fromtimestamp(d.E, timezone.utc):%Y-%m-%d}"]
    index = (archive / "index.html").read_text()
    for name in built:
        assert f'href="{name}/{name}.json"' in index
    report = json.loads((archive / weeks[1] / f"{weeks[1]}.json").read_text())
    assert report["period"]["start_ts"] == d.B and report["period"]["end_ts"] == d.E
