"""Maintenance windows: which instants they cover, their config errors, and the engine
deciding but sending nothing while one is in force (real Prometheus, real receiver)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from enhancer.config import parse_config
from enhancer.maintenance import DAYS, active_window
from enhancer.metrics import build_registry
from servicekit.config import ConfigError

from .conftest import HOUR, MINUTE, FakeClock, outcomes
from .test_engine import T0, location_rule


def at(text: str) -> float:
    """'2026-11-21 23:30' in UTC -> Unix seconds."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


def maintenance(windows: list[dict], tz: str = "UTC"):
    return parse_config({"maintenance": {"timezone": tz, "windows": windows}}).maintenance


# 2026-11-21 is a Saturday.
@pytest.mark.parametrize(
    "instant, covered",
    [
        ("2026-11-21 22:59", False),
        ("2026-11-21 23:00", True),  # start is inside
        ("2026-11-21 23:30", True),
        ("2026-11-22 00:30", True),  # Sunday morning: the Saturday window runs past midnight
        ("2026-11-22 01:00", False),  # end is outside
        ("2026-11-20 23:30", False),  # Friday is not listed
        ("2026-11-22 23:30", False),  # nor is Sunday evening
        ("2026-11-21 00:30", False),  # Saturday morning belongs to a Friday window, and there is none
    ],
)
def test_a_window_past_midnight(instant, covered):
    config = maintenance([{"days": ["sat"], "start": "23:00", "end": "01:00"}])
    found = active_window(config, at(instant))
    assert (found == "sat 23:00-01:00 UTC") if covered else found is None


def test_windows_are_in_local_time_across_daylight_saving():
    config = maintenance([{"start": "02:00", "end": "04:00"}], tz="Europe/Berlin")
    # winter (UTC+1): 01:30 UTC is 02:30 in Berlin
    assert active_window(config, at("2026-11-23 01:30")) == "daily 02:00-04:00 Europe/Berlin"
    assert active_window(config, at("2026-11-23 00:30")) is None  # 01:30 local
    assert active_window(config, at("2026-11-23 03:00")) is None  # 04:00 local: ended
    # summer (UTC+2): 01:30 UTC is 03:30 in Berlin, 02:30 UTC is 04:30
    assert active_window(config, at("2026-07-01 01:30")) is not None
    assert active_window(config, at("2026-07-01 02:30")) is None
    # 2026-03-29: clocks jump from 02:00 to 03:00; 01:15 UTC is 03:15 local, inside
    assert active_window(config, at("2026-03-29 01:15")) is not None


@pytest.mark.parametrize(
    "window, tz, key, problem",
    [
        ({"start": "02:00", "end": "02:00"}, "UTC", "maintenance.windows.0", "the window would be empty"),
        ({"start": "25:00", "end": "02:00"}, "UTC", "maintenance.windows.0.start", "String should match pattern"),
        ({"days": ["funday"], "start": "01:00", "end": "02:00"}, "UTC", "maintenance.windows.0.days.0", "'mon'"),
        (
            {"start": "01:00", "end": "02:00"},
            "Mars/Olympus",
            "maintenance.timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_bad_windows_are_config_errors(window, tz, key, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config({"maintenance": {"timezone": tz, "windows": [window]}}, "enhancer.yml")
    assert str(caught.value).startswith(f"enhancer.yml: {key}: ")
    assert problem in str(caught.value)


async def test_no_action_is_sent_in_a_window_and_the_next_poll_after_it_acts(make_engine, receiver):
    # a 30-minute window starting at T0 on T0's weekday, in UTC
    start = datetime.fromtimestamp(T0, UTC)
    end = start + timedelta(minutes=30)
    window = {"days": [DAYS[start.weekday()]], "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    clock = FakeClock(T0 - T0 % 60)
    engine = make_engine([location_rule(receiver, cooldown="1h")], clock=clock, maintenance={"windows": [window]})

    report = await engine.run_cycle()
    assert receiver.requests == []
    assert [d.outcome for d in report.decisions] == ["suppressed_maintenance"]
    assert report.decisions[0].reason == f"maintenance window {window['days'][0]} {window['start']}-{window['end']} UTC"
    assert b"inventory_enhancer_maintenance_active 1.0" in generate_latest(build_registry(engine))
    clock.advance(29 * MINUTE)
    await engine.run_cycle()
    assert receiver.requests == []
    # the suppression is logged once for the run of polls, and spends no budget
    assert [r.outcome for r in engine.store.list_actions(rule="po")] == ["suppressed_maintenance"]
    assert engine.store.budget_usage(clock() - HOUR, False) == {}

    clock.advance(1 * MINUTE)  # the window's end: no cooldown holds it back
    await engine.run_cycle()
    assert len(receiver.to("/actions/purchase-orders")) == 1
    assert outcomes(engine, "po") == {"suppressed_maintenance": 2, "success": 1}
    assert b"inventory_enhancer_maintenance_active 0.0" in generate_latest(build_registry(engine))
