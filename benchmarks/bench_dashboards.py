"""Time to render all five shipped dashboards (grafana/dashboards/*.json) for one hour of demo data.

Run: .venv/bin/python -m benchmarks.bench_dashboards [--repeat 5] [--png] [--keep DIR] [--reuse DIR]

The data is the demo's own: `python -m demo.run --fast` (1 s scrapes and rule evaluations,
the whole stack: exporter on a seeded database, inventory API, fakes, enhancer, Alertmanager,
Prometheus with the shipped rules) runs for --demo-seconds (110 s: the enhancer polls every
30 s and its low-stock rule needs its condition for 1 m before it acts, so its decisions
appear after about 90 s), its TSDB is dumped with promtool,
and the hour before the run's end is filled by replaying the run (build_demo_hour below):
every 15 s of the earlier part of the hour takes the series' sample from the same offset
into the run; counters (_total, _count, _sum, _bucket) carry on from one replay to the next
so they only grow, and *_timestamp_seconds gauges move with the time they are replayed at.
The run's own samples (1 s apart) are kept as they were, counters shifted by the same
constant. Two series the demo cannot produce within minutes (the enhancer's baselines need
2 h to 6 h of history, so do the improvements measured after a verified action) are added,
marked synthetic="true". promtool turns it all into blocks; a Prometheus with no scrape
jobs serves them.

The timed part: render_dashboards over one aiohttp session, five dashboards, every variable
resolved and every panel queried and drawn (HTML); with --png, separately, the Chromium
screenshots of the five. Median of --repeat runs (after one warm-up run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
HOUR = 3600
REPLAY_STEP = 15
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


@dataclass(frozen=True)
class DemoHour:
    tsdb: Path  # a TSDB directory (blocks only)
    start: float  # the hour: [start, end]
    end: float
    run_start: float  # the demo's own samples: [run_start, end]


def run_demo(state_dir: Path, seconds: float, skus: int = 500) -> Path:
    """The demo stack with 1 s scrapes for `seconds`; returns its Prometheus TSDB directory."""
    from demo.run import free_port_offset

    command = [
        sys.executable,
        "-m",
        "demo.run",
        "--fast",
        "--duration",
        str(seconds),
        "--state-dir",
        str(state_dir),
        "--port-offset",
        str(free_port_offset()),
        "--skus",
        str(skus),
    ]
    log = state_dir.parent / "demo.log"
    with log.open("wb") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=seconds + 240)
    if done.returncode != 0:
        raise RuntimeError(f"demo.run exited {done.returncode}: {log.read_text(errors='replace')[-3000:]}")
    return state_dir / "prometheus"


def dump(tsdb: Path) -> dict[str, list[tuple[float, float]]]:
    """Every sample of a TSDB (promtool tsdb dump), by series: the key is the series' label text."""
    done = subprocess.run(["/usr/bin/promtool", "tsdb", "dump", str(tsdb)], capture_output=True, text=True, check=True)
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        labels, _, rest = line.rpartition("} ")
        value, _, stamp = rest.partition(" ")
        series[labels + "}"].append((int(stamp) / 1000, float(value)))
    for points in series.values():
        points.sort()
    return series


def _parse(key: str) -> tuple[str, str]:
    """The metric name and the other labels as OpenMetrics text, from a dump's label text."""
    name, rest = "", []
    for match in _LABEL.finditer(key[1:-1]):
        if match.group(1) == "__name__":
            name = match.group(2)
        else:
            rest.append(f'{match.group(1)}="{match.group(2)}"')
    return name, ",".join(rest)


def _value_at(points: list[tuple[float, float]], at: float, times: list[float]) -> tuple[float, float] | None:
    """The last sample at or before `at` (within Prometheus's 5 minute lookback)."""
    import bisect

    i = bisect.bisect_right(times, at) - 1
    if i < 0 or at - points[i][0] > 300:
        return None
    return points[i]


def build_openmetrics(series: dict[str, list[tuple[float, float]]], path: Path) -> tuple[float, float, float]:
    """The hour ending at the run's last sample, as OpenMetrics; returns (start, end, run_start)."""

    run_start = min(p[0][0] for p in series.values() if p)
    end = max(p[-1][0] for p in series.values() if p)
    span = max(end - run_start, 1.0)
    start = end - HOUR
    replay = [t for t in range(math.ceil(start / REPLAY_STEP) * REPLAY_STEP, int(run_start), REPLAY_STEP)]
    cycles = math.ceil((run_start - start) / span) + 1
    families: dict[str, list[str]] = defaultdict(list)
    enhancer_labels, rules = "", set()
    for key, points in series.items():
        name, labels = _parse(key)
        # staleness markers (a target gone, a series no longer exported) are NaN: left out, here and below
        points = [p for p in points if not math.isnan(p[1])]
        if not name or not points:
            continue
        times = [p[0] for p in points]
        counter = name.endswith(COUNTER_SUFFIXES)
        increase = max(points[-1][1] - points[0][1], 0.0) if counter else 0.0
        lines = families[name]
        body = f"{name}{{{labels}}}"
        for t in replay:
            k = math.floor((t - run_start) / span)  # negative: replays before the run
            source = run_start + (t - run_start) - k * span
            found = _value_at(points, source, times)
            if found is None or math.isnan(found[1]):
                continue
            value = found[1]
            if counter:
                value += (cycles + k) * increase
            elif name.endswith("_timestamp_seconds"):
                value += t - found[0]
            lines.append(f"{body} {value!r} {t}")
        shift = cycles * increase
        for t, value in points:
            if math.isnan(value):
                continue
            lines.append(f"{body} {value + shift if counter else value!r} {t:.3f}")
        if name == "inventory_enhancer_rule_backoff":
            rule = re.search(r'rule="([^"]*)"', labels)
            if rule:
                rules.add(rule.group(1))
                enhancer_labels = re.sub(r',?rule="[^"]*"', "", labels)
    # the two series a demo run of minutes cannot produce (see the module's docstring)
    all_times = [float(t) for t in replay] + [float(t) for t in range(math.ceil(run_start), int(end) + 1)]
    for i, rule in enumerate(sorted(rules)):
        labels = f'{enhancer_labels},rule="{rule}",synthetic="true"'.lstrip(",")
        for t in all_times:
            baseline = 0.5 + 0.1 * i + 0.05 * math.sin((t - start) / 600 + i)
            families["inventory_enhancer_baseline"].append(f"inventory_enhancer_baseline{{{labels}}} {baseline!r} {t}")
            ratio = (0.3, -0.05, 0.12, 0.0, 0.45, 0.2)[i % 6]
            families["inventory_enhancer_action_improvement_ratio"].append(
                f"inventory_enhancer_action_improvement_ratio{{{labels}}} {ratio!r} {t}"
            )
    with path.open("w") as out:
        for name, lines in families.items():
            if not lines:
                continue
            out.write(f"# TYPE {name} gauge\n")
            out.write("\n".join(lines))
            out.write("\n")
        out.write("# EOF\n")
    return start, end, run_start


def build_demo_hour(workdir: Path, demo_seconds: float = 110.0) -> DemoHour:
    """Run the demo, then build the hour's TSDB under workdir/tsdb (see the module's docstring)."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = run_demo(workdir / "demo-state", demo_seconds)
    series = dump(source)
    text = workdir / "hour.om.txt"
    start, end, run_start = build_openmetrics(series, text)
    target = workdir / "tsdb"
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(text), str(target)],
        check=True,
        capture_output=True,
    )
    text.unlink()
    (workdir / "hour.json").write_text(json.dumps({"start": start, "end": end, "run_start": run_start}))
    shutil.rmtree(workdir / "demo-state", ignore_errors=True)
    return DemoHour(target, start, end, run_start)


def load_demo_hour(workdir: Path) -> DemoHour:
    meta = json.loads((workdir / "hour.json").read_text())
    return DemoHour(workdir / "tsdb", meta["start"], meta["end"], meta["run_start"])


# --- the benchmark -----------------------------------------------------------------------------


async def _render_all(url: str, hour: DemoHour, png: bool) -> tuple[float, float, list[object]]:
    from reporter.dashboards import add_pngs, render_dashboards
    from servicekit.prometheus import PrometheusClient

    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(url, session, timeout=30, retries=0)
        began = time.perf_counter()
        rendered = await render_dashboards([str(p) for p in DASHBOARDS], client, hour.start, hour.end)
        html_seconds = time.perf_counter() - began
    png_seconds = math.nan
    if png:
        began = time.perf_counter()
        add_pngs(rendered)
        png_seconds = time.perf_counter() - began
    return html_seconds, png_seconds, list(rendered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--png", action="store_true", help="also time the five PNG screenshots")
    parser.add_argument("--demo-seconds", type=float, default=110.0)
    parser.add_argument("--keep", help="build the data in this directory and keep it")
    parser.add_argument("--reuse", help="a directory made by an earlier --keep: skip the demo run")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from tests.conftest import PrometheusServer

    temporary = None
    if args.reuse:
        workdir = Path(args.reuse)
        hour = load_demo_hour(workdir)
    else:
        workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-dashboards-"))
        temporary = None if args.keep else workdir
        print(f"running the demo for {args.demo_seconds:g}s and building the hour in {workdir} ...", flush=True)
        began = time.perf_counter()
        hour = build_demo_hour(workdir, args.demo_seconds)
        print(f"data ready in {time.perf_counter() - began:.0f}s", flush=True)
    server = PrometheusServer(workdir)
    try:
        html_times, png_times = [], []
        for run in range(args.repeat + 1):
            html_s, png_s, rendered = asyncio.run(_render_all(server.url, hour, args.png))
            if run == 0:  # warm-up: Prometheus's caches, imports
                panels = [p for r in rendered for p in r.panels if p.type != "row"]  # type: ignore[attr-defined]
                with_data = sum(1 for p in panels if p.status == "ok")
                print(f"{len(rendered)} dashboards, {len(panels)} panels, {with_data} with data")
                for p in panels:
                    if p.status != "ok":
                        print(f"  {p.title!r} ({p.type}): {p.status} {'; '.join(p.errors)}")
                continue
            html_times.append(html_s)
            png_times.append(png_s)
        print(
            "command: .venv/bin/python -m benchmarks.bench_dashboards "
            + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
        )
        print(
            f"HTML, five dashboards, one hour: median {statistics.median(html_times):.2f}s "
            f"(runs: {', '.join(f'{t:.2f}' for t in html_times)}; target <= 5 s)"
        )
        if args.png:
            print(
                f"PNG screenshots of the five: median {statistics.median(png_times):.2f}s "
                f"(runs: {', '.join(f'{t:.2f}' for t in png_times)})"
            )
    finally:
        server.stop()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
