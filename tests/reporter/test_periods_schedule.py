"""Period boundaries in a time zone, cron parsing, and the scheduler's catch-up without duplicates,
across daylight-saving changes too."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, date, datetime

import aiohttp
import pytest

from reporter.config import parse_config
from reporter.cron import parse_cron
from reporter.periods import last_complete, parse_time, period_containing
from reporter.schedule import Scheduler
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_periods_follow_the_local_calendar():
    spring = period_containing("daily", date(2026, 3, 29), BERLIN)
    assert spring.seconds == 23 * 3600 and spring.name == "daily-2026-03-29"
    assert spring.start.isoformat() == "2026-03-29T00:00:00+01:00"
    week = period_containing("weekly", date(2026, 11, 19), BERLIN)
    assert (week.start.date(), week.end.date(), week.name) == (
        date(2026, 11, 16),
        date(2026, 11, 23),
        "weekly-2026-W47",
    )
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
    monday = datetime(2026, 11, 23, 7, 0, tzinfo=UTC).timestamp()
    assert cron.previous_fire(monday + 59, tz) == monday
    assert cron.previous_fire(monday - 1, tz) == monday - 7 * 86400
    assert cron.next_fire(monday, tz) == monday + 7 * 86400
    quarterly = parse_cron("0 8 1 1,4,7,10 *")
    assert datetime.fromtimestamp(quarterly.next_fire(monday, tz), UTC) == datetime(2027, 1, 1, 8, tzinfo=UTC)
    for bad in ("0 7 * *", "60 * * * *", "*/0 * * * *", "a b c d e"):
        with pytest.raises(ValueError):
            parse_cron(bad)


def test_cron_day_fields_and_names_as_debian_reads_them():
    utc = zoneinfo.ZoneInfo("UTC")

    def at(day: int, month: int = 11) -> float:
        return datetime(2026, month, day, tzinfo=UTC).timestamp()

    # neither day field starts with *: the 1st or a Monday (Monday 30 November, then Tuesday 1 December)
    assert parse_cron("0 0 1 * 1").next_fire(at(29), utc) == at(30)
    assert parse_cron("0 0 1 * 1").next_fire(at(30), utc) == at(1, 12)
    # day of month starting with *: both must match, an odd day that is a Monday (not Monday 2 November)
    assert parse_cron("0 0 */2 * 1").next_fire(at(1), utc) == at(9)
    # names of days and months, as docs/reports.md says
    for named, numbered in (("0 7 * * mon", "0 7 * * 1"), ("0 8 1 jan,apr,jul,oct *", "0 8 1 1,4,7,10 *")):
        assert parse_cron(named).next_fire(at(1), utc) == parse_cron(numbered).next_fire(at(1), utc)


@pytest.mark.prometheus
async def test_scheduler_catches_up_once_and_never_twice(prometheus, tmp_path):
    archive = tmp_path / "archive"
    config = parse_config(
        base_config(
            prometheus.url,
            archive,
            schedule={"weekly": "0 7 * * 1", "daily": "30 6 * * *", "catch_up": 2, "formats": ["json"]},
        )
    )
    clock = {"now": d.E + 8 * 3600.0}  # Monday 08:00 UTC: both crons fired today

    async with aiohttp.ClientSession() as session:
        first = Scheduler(config, archive, clock=lambda: clock["now"])
        built = await first.tick(session)
        weeks = [
            p.name
            for p in (
                period_containing("weekly", datetime.fromtimestamp(t, UTC).date(), config.tz)
                for t in (d.A + 3600, d.B + 3600)
            )
        ]
        days = [f"daily-{datetime.fromtimestamp(t, UTC):%Y-%m-%d}" for t in (d.E - 2 * 86400, d.E - 86400)]
        assert sorted(built) == sorted(days + weeks)  # oldest first within a kind, two of each
        assert built.index(weeks[0]) < built.index(weeks[1])
        stamps = {p: (archive / p / "manifest.json").stat().st_mtime_ns for p in built}
        assert await first.tick(session) == []  # same fire times: nothing to do

        restarted = Scheduler(config, archive, clock=lambda: clock["now"])
        assert await restarted.tick(session) == []  # the archive is the record
        assert {p: (archive / p / "manifest.json").stat().st_mtime_ns for p in built} == stamps

        clock["now"] += 86400  # a day later only the new day is due
        assert await restarted.tick(session) == [f"daily-{datetime.fromtimestamp(d.E, UTC):%Y-%m-%d}"]
    index = (archive / "index.html").read_text()
    for name in built:
        assert f'href="{name}/{name}.json"' in index
    report = json.loads((archive / weeks[1] / f"{weeks[1]}.json").read_text())
    assert report["period"]["start_ts"] == d.B and report["period"]["end_ts"] == d.E


def berlin(*fields: int, fold: int = 0) -> float:
    return datetime(*fields, tzinfo=BERLIN, fold=fold).timestamp()


def test_cron_across_daylight_saving_changes():
    daily = parse_cron("0 6 * * *")
    # 06:00 local every day: 23 hours apart over the spring change, 25 over the autumn one
    assert daily.next_fire(berlin(2026, 3, 28, 6, 0), BERLIN) == berlin(2026, 3, 29, 6, 0)
    assert berlin(2026, 3, 29, 6, 0) - berlin(2026, 3, 28, 6, 0) == 23 * 3600
    assert daily.previous_fire(berlin(2026, 10, 26, 5, 59), BERLIN) == berlin(2026, 10, 25, 6, 0)
    assert daily.next_fire(berlin(2026, 10, 25, 6, 0), BERLIN) - berlin(2026, 10, 25, 6, 0) == 24 * 3600
    assert daily.next_fire(berlin(2026, 10, 24, 6, 0), BERLIN) - berlin(2026, 10, 24, 6, 0) == 25 * 3600

    # 02:30 does not exist on 29 March: it fires once, at the first minute after the gap (03:00 CEST)
    night = parse_cron("30 2 * * *")
    gap_fire = night.next_fire(berlin(2026, 3, 29, 0, 0), BERLIN)
    assert datetime.fromtimestamp(gap_fire, BERLIN).isoformat() == "2026-03-29T03:00:00+02:00"
    assert night.next_fire(gap_fire, BERLIN) == berlin(2026, 3, 30, 2, 30)
    # 02:30 happens twice on 25 October: it fires once, the first time
    first = berlin(2026, 10, 25, 2, 30)
    second = berlin(2026, 10, 25, 2, 30, fold=1)
    assert second - first == 3600
    assert night.next_fire(berlin(2026, 10, 25, 0, 0), BERLIN) == first
    assert night.next_fire(first, BERLIN) == berlin(2026, 10, 26, 2, 30)
    # at 02:15 the second time round, the latest fire is that day's 02:30 (45 minutes ago), not the day before's
    assert night.previous_fire(berlin(2026, 10, 25, 2, 15, fold=1), BERLIN) == first


@pytest.mark.prometheus
async def test_scheduler_across_a_daylight_saving_day(prometheus, tmp_path):
    """Daily reports in Europe/Berlin around 29 March 2026 (23 hours): each built once, with its own length."""
    archive = tmp_path / "archive"
    config = parse_config(
        base_config(
            prometheus.url,
            archive,
            timezone="Europe/Berlin",
            schedule={"daily": "0 6 * * *", "catch_up": 2, "formats": ["json"]},
        )
    )
    clock = {"now": berlin(2026, 3, 30, 7, 0)}
    async with aiohttp.ClientSession() as session:
        scheduler = Scheduler(config, archive, clock=lambda: clock["now"])
        assert await scheduler.tick(session) == ["daily-2026-03-28", "daily-2026-03-29"]
        clock["now"] = berlin(2026, 3, 31, 5, 59)  # before the next fire: nothing new
        assert await Scheduler(config, archive, clock=lambda: clock["now"]).tick(session) == []
        clock["now"] = berlin(2026, 3, 31, 6, 0)
        assert await scheduler.tick(session) == ["daily-2026-03-30"]
    report = json.loads((archive / "daily-2026-03-29" / "daily-2026-03-29.json").read_text())
    assert report["period"]["seconds"] == 23 * 3600
    assert report["period"]["start"] == "2026-03-29T00:00:00+01:00"
    assert report["previous_period"]["seconds"] == 24 * 3600


def test_cron_that_can_never_fire_is_a_config_error():
    with pytest.raises(ValueError, match="never fires"):
        parse_cron("0 0 30 2 *")
    assert parse_cron("0 0 29 2 *").next_fire(berlin(2026, 11, 1, 0, 0), BERLIN) == berlin(2028, 2, 29, 0, 0)
