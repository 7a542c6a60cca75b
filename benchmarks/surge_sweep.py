"""The demand-surge settings against the alert-quality benchmark's healthy month.

    .venv/bin/python -m benchmarks.surge_sweep [--days 30] [--skus 2000]

benchmarks/alert_quality.py's stock simulation (Poisson demand with the daily and weekly
profile, 3 locations, no fault) run once per combination of surge_factor, surge_min_units
and surge_cover (surge_window stays 3h): for each, how many times a month a location's
inventory_demand_surge_skus went from 0 to above 0 (false surges: the healthy month has no
run on a SKU), and, on the month with the sku_run fault, how soon the warehouse's gauge
rose after the run started.
The defaults of exporter/analytics/config.py were chosen from its output (docs/analytics.md).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from benchmarks.alert_quality import DAY, LOCATIONS, T0, fault_catalogue, schedule_faults, simulate_stock
from exporter.analytics.config import AnalyticsConfig

FACTORS = (4.0, 8.0, 10.0)
MIN_UNITS = (5.0, 8.0, 10.0)
# 5d: about the simulated lead time, i.e. "gone before a replenishment could arrive".
COVERS = ("1d", "5d")


def onsets(series: np.ndarray) -> int:
    above = series > 0
    return int(np.count_nonzero(above[1:] & ~above[:-1]) + int(above[0]))


def false_surges(days: int, skus: int, config: AnalyticsConfig) -> int:
    """Location-level surge onsets over the healthy month."""
    out = simulate_stock(np.random.default_rng(22), T0, days * DAY // 60, skus, {}, surge=config)
    return sum(onsets(out[("inventory_demand_surge_skus", location)]) for location in LOCATIONS)


def run_caught_after(days: int, skus: int, config: AnalyticsConfig) -> int | None:
    """Minutes from the start of the benchmark's run on a warehouse SKU until the warehouse's
    surge gauge rises above its value at that start; None if it does not during the run
    (with many false surges the count can stay level while they come and go)."""
    catalogue = fault_catalogue(short=False)
    schedule_faults(catalogue, days)
    run = next(f for f in catalogue if f.name == "sku_run")
    out = simulate_stock(np.random.default_rng(22), T0, days * DAY // 60, skus, {"sku_run": run}, surge=config)
    gauge = out[("inventory_demand_surge_skus", "warehouse")]
    start, end = run.start // 60, (run.start + run.duration) // 60
    risen = np.flatnonzero(gauge[start:end] > gauge[start])
    return int(risen[0]) if risen.size else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--skus", type=int, default=2000, help="SKUs per location")
    args = parser.parse_args(argv)
    print(f"{args.days} days, {args.skus} SKUs x {len(LOCATIONS)} locations, surge_window 3h")
    print("| surge_factor | surge_min_units | surge_cover | false surges a month | run on a SKU caught after |")
    print("|---|---|---|---|---|")
    for factor, units, cover in itertools.product(FACTORS, MIN_UNITS, COVERS):
        config = AnalyticsConfig(surge_factor=factor, surge_min_units=units, surge_cover=cover)
        healthy = false_surges(args.days, args.skus, config)
        caught = run_caught_after(args.days, args.skus, config)
        after = "no rise (lost among false surges)" if caught is None else f"{caught} min"
        print(f"| {factor:g} | {units:g} | {cover} | {healthy} | {after} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
