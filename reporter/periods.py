"""Report periods: calendar days, weeks, months and quarters in the configured time zone.

A period is [start, end): start inclusive, end exclusive, both local midnights, so a
day across a daylight-saving change lasts 23 or 25 hours and a month its own length.
The previous period is the one of the same kind just before; a custom period's
previous one has the same length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

KINDS = ("daily", "weekly", "monthly", "quarterly")


@dataclass(frozen=True)
class Period:
    kind: str  # daily | weekly | monthly | quarterly | custom
    start: datetime  # aware, local
    end: datetime  # aware, local, exclusive
    week_start: str = "monday"

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    @property
    def seconds(self) -> int:
        return int(round(self.end_ts - self.start_ts))

    @property
    def name(self) -> str:
        """Archive name: daily-2026-11-22, weekly-2026-W47, monthly-2026-11, quarterly-2026-Q4."""
        s = self.start
        if self.kind == "daily":
            return f"daily-{s:%Y-%m-%d}"
        if self.kind == "weekly":
            if self.week_start == "monday":
                year, week, _ = s.date().isocalendar()
                return f"weekly-{year}-W{week:02d}"
            return f"weekly-{s:%Y-%m-%d}"
        if self.kind == "monthly":
            return f"monthly-{s:%Y-%m}"
        if self.kind == "quarterly":
            return f"quarterly-{s.year}-Q{(s.month - 1) // 3 + 1}"
        return f"custom-{s:%Y%m%dT%H%M}-{self.end:%Y%m%dT%H%M}"

    @property
    def label(self) -> str:
        """Human words for headings."""
        s, last = self.start, self.end - timedelta(seconds=1)
        if self.kind == "daily":
            return f"{s:%A %d %B %Y}"
        if self.kind == "weekly":
            return f"week of {s:%d %b} to {last:%d %b %Y}"
        if self.kind == "monthly":
            return f"{s:%B %Y}"
        if self.kind == "quarterly":
            return f"Q{(s.month - 1) // 3 + 1} {s.year} ({s:%b} to {last:%b})"
        return f"{s:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

    @property
    def tz(self) -> tzinfo:
        """The period's time zone: its start's (a period's ends are aware)."""
        tz = self.start.tzinfo
        assert tz is not None, f"period {self.kind} starting {self.start} has no time zone"
        return tz

    def previous(self) -> Period:
        tz = self.tz
        if self.kind == "custom":
            length = self.end_ts - self.start_ts
            return Period("custom", _from_ts(self.start_ts - length, tz), self.start, self.week_start)
        day_before = (self.start - timedelta(days=1)).date()
        return period_containing(self.kind, day_before, tz, self.week_start)


def _from_ts(ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, UTC).astimezone(tz)


def _midnight(day: date, tz: tzinfo) -> datetime:
    # zoneinfo resolves a nonexistent or repeated local midnight (rare DST zones) by fold=0.
    return datetime.combine(day, time(0), tzinfo=tz)


def period_containing(kind: str, day: date, tz: tzinfo, week_start: str = "monday") -> Period:
    if kind == "daily":
        first, after = day, day + timedelta(days=1)
    elif kind == "weekly":
        offset = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
        first = day - timedelta(days=offset)
        after = first + timedelta(days=7)
    elif kind == "monthly":
        first = day.replace(day=1)
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    elif kind == "quarterly":
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        month = first.month + 3
        after = date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    else:
        raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(KINDS)}")
    return Period(kind, _midnight(first, tz), _midnight(after, tz), week_start)


def last_complete(kind: str, now: float, tz: tzinfo, week_start: str = "monday") -> Period:
    """The newest period of this kind that ended at or before `now`."""
    local = _from_ts(now, tz)
    current = period_containing(kind, local.date(), tz, week_start)
    return current.previous() if current.end_ts > now else current


def complete_before(kind: str, now: float, tz: tzinfo, count: int, week_start: str = "monday") -> list[Period]:
    """The `count` newest complete periods, newest first."""
    periods = [last_complete(kind, now, tz, week_start)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdw]))?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, tz: tzinfo, now: float) -> datetime:
    """'2026-11-22', '2026-11-22T06:00', an ISO time with an offset, 'now' or 'now-1h'."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        back = int(match.group(1)) * _UNITS[match.group(2)] if match.group(1) else 0
        return _from_ts(now - back, tz)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: expected 2026-11-22, 2026-11-22T06:00, or now-1h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def custom_period(start: datetime, end: datetime, week_start: str = "monday") -> Period:
    if end <= start:
        raise ValueError("--to must be after --from")
    return Period("custom", start, end, week_start)
