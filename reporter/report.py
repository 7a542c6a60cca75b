"""A report's content: its figures (value this period and the previous one), charts and changes.

Built by reporter/figures/evaluate.py, listed by reporter/changes.py, rendered by
reporter/render_html.py and reporter/outputs.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from reporter.periods import Period
from reporter.prometheus import Series

if TYPE_CHECKING:
    from reporter.changes import Change


class FigureDict(TypedDict):
    """A figure in the JSON report and the webhook payload."""

    key: str
    section: str
    title: str
    unit: str
    labels: dict[str, str]
    value: float | None
    previous: float | None
    delta: float | None
    delta_ratio: float | None
    objective: float | None
    objective_op: str | None
    objective_met: bool | None
    previous_objective_met: bool | None
    better: str | None
    note: str | None
    previous_note: str | None


@dataclass
class Figure:
    key: str
    section: str
    title: str
    unit: str
    labels: dict[str, str]
    value: float | None
    previous: float | None
    better: str | None = None
    objective: float | None = None
    objective_op: str = ">="
    note: str | None = None
    previous_note: str | None = None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def delta_ratio(self) -> float | None:
        if self.value is None or self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous)

    def meets(self, value: float | None) -> bool | None:
        if value is None or self.objective is None:
            return None
        return value >= self.objective if self.objective_op == ">=" else value <= self.objective

    @property
    def met(self) -> bool | None:
        return self.meets(self.value)

    @property
    def previous_met(self) -> bool | None:
        return self.meets(self.previous)

    def label_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items())

    def to_dict(self) -> FigureDict:
        return {
            "key": self.key,
            "section": self.section,
            "title": self.title,
            "unit": self.unit,
            "labels": self.labels,
            "value": self.value,
            "previous": self.previous,
            "delta": self.delta,
            "delta_ratio": self.delta_ratio,
            "objective": self.objective,
            "objective_op": self.objective_op if self.objective is not None else None,
            "objective_met": self.met,
            "previous_objective_met": self.previous_met,
            "better": self.better,
            "note": self.note,
            "previous_note": self.previous_note,
        }


@dataclass
class Chart:
    key: str
    section: str
    title: str
    unit: str
    legend: str | None
    current: list[Series]
    previous: list[Series]
    step: float

    @property
    def has_data(self) -> bool:
        return any(series.points for series in self.current + self.previous)


@dataclass
class Report:
    title: str
    period: Period
    previous_period: Period
    generated_at: float
    sections: list[str]
    figures: list[Figure]
    charts: list[Chart]
    changes: list[Change] = field(default_factory=list)
    # Grafana dashboards drawn over the period (config `dashboards`): title, HTML
    # fragment, PNG (None without Chromium: the fragment is embedded instead).
    dashboards: list[tuple[str, str, bytes | None]] = field(default_factory=list)

    def section_figures(self, section: str) -> list[Figure]:
        return [f for f in self.figures if f.section == section]

    def section_has_data(self, section: str) -> bool:
        return any(f.value is not None for f in self.section_figures(section))
