""" "What changed": figures that crossed their objective or moved more than a threshold.

Worst first: a figure that fell below its objective, then one that lost its data,
then moves for the worse (largest first), neutral moves, moves for the better, and last
figures that came back within their objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

from reporter.config import ChangesConfig
from reporter.figures.format import format_value
from reporter.report import Figure

# Rank of each kind of change in the list: lower is worse and comes first.
RANKS = {"missed_objective": 0, "lost_data": 1, "worse": 2, "moved": 3, "better": 4, "met_objective": 5}


class ChangeDict(TypedDict):
    """A change in the JSON report and the webhook payload."""

    kind: str
    key: str
    labels: dict[str, str]
    text: str
    magnitude: float | None  # None: inf, which JSON cannot carry


@dataclass(frozen=True)
class Change:
    kind: str
    key: str
    labels: dict[str, str]
    text: str
    magnitude: float  # |relative move|; inf when the previous value was 0

    def to_dict(self) -> ChangeDict:
        return {
            "kind": self.kind,
            "key": self.key,
            "labels": self.labels,
            "text": self.text,
            "magnitude": self.magnitude if math.isfinite(self.magnitude) else None,
        }


def _name(figure: Figure) -> str:
    return f"{figure.title} ({figure.label_text()})" if figure.labels else figure.title


def _objective_words(figure: Figure) -> str:
    target = format_value(figure.unit, figure.objective)
    return f"the objective of {'at least' if figure.objective_op == '>=' else 'at most'} {target}"


def _direction(better: str | None, value: float, previous: float) -> str:
    """worse, better or moved (no better direction) for a figure whose value changed."""
    delta = value - previous
    if better == "higher":
        return "better" if delta > 0 else "worse"
    if better == "lower":
        return "better" if delta < 0 else "worse"
    if better == "zero":
        return "better" if abs(value) < abs(previous) else "worse"
    return "moved"


def detect(figures: list[Figure], config: ChangesConfig) -> list[Change]:
    changes: list[Change] = []
    for figure in figures:
        name = _name(figure)
        value, previous = figure.value, figure.previous
        before = format_value(figure.unit, previous)
        after = format_value(figure.unit, value, figure.note)
        if value is None:
            if previous is not None and figure.note is None:
                changes.append(
                    Change(
                        "lost_data", figure.key, figure.labels, f"{name}: no data this period (was {before}).", math.inf
                    )
                )
            continue
        if previous is None:
            if figure.met is False:
                changes.append(
                    Change(
                        "missed_objective",
                        figure.key,
                        figure.labels,
                        f"{name} is {after}, outside {_objective_words(figure)} (no data for the previous period).",
                        math.inf,
                    )
                )
            continue
        delta = value - previous
        magnitude = abs(delta) / abs(previous) if previous else (math.inf if delta else 0.0)
        verb = "rose" if delta > 0 else "fell"
        if figure.met is False and figure.previous_met is True:
            changes.append(
                Change(
                    "missed_objective",
                    figure.key,
                    figure.labels,
                    f"{name} {verb} from {before} to {after}, now outside {_objective_words(figure)}.",
                    magnitude,
                )
            )
            continue
        if figure.met is True and figure.previous_met is False:
            changes.append(
                Change(
                    "met_objective",
                    figure.key,
                    figure.labels,
                    f"{name} {verb} from {before} to {after}, back within {_objective_words(figure)}.",
                    magnitude,
                )
            )
            continue
        threshold = config.thresholds.get(figure.key, config.threshold)
        if magnitude > threshold:
            kind = _direction(figure.better, value, previous)
            percent = "" if not math.isfinite(magnitude) else f" {magnitude * 100:.0f} %,"
            changes.append(
                Change(kind, figure.key, figure.labels, f"{name} {verb}{percent} from {before} to {after}.", magnitude)
            )
    changes.sort(key=lambda c: (RANKS[c.kind], -c.magnitude if c.kind != "met_objective" else c.magnitude))
    if config.limit:
        changes = changes[: config.limit]
    return changes
