"""Cron expressions of the schedule (minute hour day-of-month month day-of-week), read by cronsim.

cronsim follows Debian cron, daylight-saving quirks included: a fire time that falls in
the hour skipped in spring runs at the first minute after the gap, and one in the hour
repeated in autumn runs once, the first time. When neither day field starts with `*`,
either one matching is enough; otherwise both must match (`*/2 * 1`: odd days that are
Mondays). Here only the five-field form is accepted, and each problem is named after
its field for the config's one-line error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo

from cronsim import CronSim, CronSimError

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
# The longest daylight-saving shift in the tz database (Antarctica/Troll: 2 h), with room to spare:
# a fire in autumn's repeated hour can lie this far behind the wall clock's reading.
_LONGEST_SHIFT = 3 * 3600
_CHECK_FROM = datetime(2000, 1, 1)


def _field_problem(text: str, name: str, low: int, high: int) -> str:
    outside = [number for number in re.findall(r"\d+", text) if not low <= int(number) <= high]
    if outside:
        return f"{name}: {outside[0]!r} outside {low}-{high}"
    return f"{name}: invalid value {text!r} (expected *, a number, a range, a list or a step)"


class Cron:
    """One validated expression; fire times are Unix seconds, wall-clock times in `tz`."""

    def __init__(self, spec: str):
        fields = spec.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 cron fields (minute hour day-of-month month day-of-week), got {len(fields)}")
        for index, (name, low, high) in enumerate(FIELDS):
            alone = ["*"] * 5
            alone[index] = fields[index]
            try:
                CronSim(" ".join(alone), _CHECK_FROM)
            except CronSimError:
                raise ValueError(_field_problem(fields[index], name, low, high)) from None
        try:
            CronSim(spec, _CHECK_FROM)
        except CronSimError:
            raise ValueError(f"{spec!r} never fires (none of its months has that day)") from None
        self.spec = spec

    def _fires(self, start: float, tz: tzinfo, reverse: bool) -> Iterator[float]:
        local = datetime.fromtimestamp(start, UTC).astimezone(tz)
        # cronsim stops after 50 years without a match
        return (fire.timestamp() for fire in CronSim(self.spec, local, reverse=reverse))

    def previous_fire(self, now: float, tz: tzinfo) -> float | None:
        """The latest fire time <= now."""
        # cronsim walks wall-clock time, so in autumn's repeated hour a fire already past can
        # lie ahead of the clock's reading: start later and skip what has not happened yet.
        return next((fire for fire in self._fires(now + _LONGEST_SHIFT, tz, reverse=True) if fire <= now), None)

    def next_fire(self, now: float, tz: tzinfo) -> float | None:
        """The earliest fire time > now."""
        return next((fire for fire in self._fires(now, tz, reverse=False) if fire > now), None)


def parse_cron(spec: str) -> Cron:
    """A Cron, or ValueError naming the field at fault ('minute: '61' outside 0-59')."""
    return Cron(spec)
