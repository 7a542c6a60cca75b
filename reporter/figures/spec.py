"""What a report figure is (FigureSpec) and the PromQL helpers figures share; the
catalogue (catalogue.py) and the service-level figures (service_level.py) build on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reporter.config import Objectives


def db_count(selector: str, by: str) -> str:
    """Events of the period from a counter the exporter derives from database rows.

    The value at the period's end minus the last value before its start, per `by`
    (max over exporter instances: every replica reads the same rows, and a new instance
    label is no new counter). No extrapolation: the rows are whole events. A label set
    never seen in the lookback ($before) before the period is new, and counts from 0
    (its first value is events of this period: the exporter published it when its
    first row appeared). A counter that went down (rows deleted) falls back to increase().
    """
    end = f"max by ({by}) (last_over_time({selector}[$w]))"
    start = f"max by ({by}) (last_over_time({selector}[$before] offset $w))"
    return f"(({end} - {start}) >= 0 or ({end} unless {start}) or max by ({by}) (increase({selector}[$w])))"


# The analytics publishes the last closed UTC day's one-day-ahead sums, labelled with that
# day, from its first cycle after the day ends until its first cycle of the day after:
# a day's sums are all published within 2 days of its start.
DAY_SUMS_LAG = 2 * 86400


def day_sums(numerator: str) -> str:
    """Per UTC day (label `day`) and exporter instance: the last published value of the
    numerator sum (part="numerator") and of the actual demand (part="actual")."""
    parts = (("numerator", numerator), ("actual", "inventory_forecast_day_actual_units"))
    return " or ".join(
        f'label_replace(last_over_time({name}[$wdays]), "part", "{part}", "", "")' for part, name in parts
    )


@dataclass(frozen=True)
class FigureSpec:
    key: str
    section: str
    title: str
    # ratio, seconds, per_second, count, units, money, bytes, days, score, sku_hours, signal (a rule's unit)
    unit: str
    query: str | None  # None: derived from other figures (evaluate.py)
    by: tuple[str, ...] = ()
    at: str = "end"  # "end" or "start": when the instant query is evaluated
    better: str | None = None  # higher | lower | zero | None (neutral)
    objective: Callable[[Objectives], float] | None = None
    objective_op: str = ">="  # the figure meets its objective when value <op> objective
    whole: bool = False  # a count of events: round increase()'s extrapolation away
    fallback: str | None = None  # for label sets the query misses (episodes without ALERTS_FOR_STATE)
    positive_only: bool = False  # values <= 0 or infinite mean "not applicable" (days until full)
    # Said of a label set seen in one period only: for alerts, no ALERTS series means it did not fire.
    absent_note: str | None = None
    description: str = ""
    # The query answers per UTC day (label `day`) a numerator and an actual (label `part`):
    # evaluated DAY_SUMS_LAG after the period's end, the period's days are kept and the
    # figure is sum(numerator) / sum(actual) over them (reporter/figures/evaluate.py).
    day_sums: bool = False
