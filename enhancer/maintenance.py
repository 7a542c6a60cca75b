"""Maintenance windows: weekly times in which the enhancer decides but never acts.

Operators patch, migrate and re-index on a schedule; a resync or a worker restart in
the middle of that does harm. A window is a weekday set and a local start and end time
in the config's timezone; an end at or before the start runs past midnight into the
next day, so `sat 23:00-01:00` covers the first hour of Sunday.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from enhancer.config import MaintenanceConfig, MaintenanceWindow

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def _covers(window: MaintenanceWindow, local: datetime) -> bool:
    start, end = _parse(window.start), _parse(window.end)
    days = window.days or DAYS
    now = local.time().replace(tzinfo=None)
    if start < end:
        return DAYS[local.weekday()] in days and start <= now < end
    # past midnight: the evening of a listed day, or the morning after one
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    return (DAYS[local.weekday()] in days and now >= start) or (yesterday in days and now < end)


def active_window(config: MaintenanceConfig, now: float) -> str | None:
    """The first window covering `now` (Unix seconds) as 'sat 23:00-01:00 Europe/Berlin', or None."""
    local = datetime.fromtimestamp(now, ZoneInfo(config.timezone))
    for window in config.windows:
        if _covers(window, local):
            days = ",".join(window.days) if window.days else "daily"
            return f"{days} {window.start}-{window.end} {config.timezone}"
    return None
