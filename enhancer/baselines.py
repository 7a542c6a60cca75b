"""Baselines from history: robust (median, scaled MAD) and seasonal (same time of week).

The statistics are pure functions over numbers; `fetch_baselines` only decides which
ranges to ask Prometheus for and groups the answer per target.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from enhancer.config import RobustBaseline, SeasonalBaseline
from servicekit.prometheus import PrometheusClient, target_key

# Scales the MAD so it estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Baseline:
    center: float  # median
    deviation: float  # scaled MAD
    samples: int
    min_samples: int

    @property
    def trusted(self) -> bool:
        return self.samples >= self.min_samples


def robust_stats(values: Iterable[float]) -> tuple[float, float, int]:
    """(median, scaled MAD, count) of the finite values; NaN median when there are none."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, 0
    center = statistics.median(finite)
    mad = statistics.median(abs(v - center) for v in finite)
    return center, MAD_SCALE * mad, len(finite)


def robust_ranges(spec: RobustBaseline, now: float) -> list[tuple[float, float]]:
    end = now - spec.offset
    return [(end - spec.window, end)]


def seasonal_ranges(spec: SeasonalBaseline, now: float) -> list[tuple[float, float]]:
    """One window centred on this moment of the week, for each of the last `weeks` weeks."""
    half = spec.window / 2
    return [(now - week * WEEK - half, now - week * WEEK + half) for week in range(1, spec.weeks + 1)]


async def fetch_baselines(
    client: PrometheusClient, spec: RobustBaseline | SeasonalBaseline, query: str, now: float
) -> dict[str, Baseline]:
    ranges = robust_ranges(spec, now) if isinstance(spec, RobustBaseline) else seasonal_ranges(spec, now)
    answers = await asyncio.gather(*(client.query_range(query, start, end, spec.step) for start, end in ranges))
    values_by_target: dict[str, list[float]] = {}
    for series_list in answers:
        for series in series_list:
            values_by_target.setdefault(target_key(series.labels), []).extend(v for _, v in series.points)
    baselines = {}
    for key, values in values_by_target.items():
        center, deviation, count = robust_stats(values)
        baselines[key] = Baseline(center, deviation, count, spec.min_samples)
    return baselines
