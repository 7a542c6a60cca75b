"""python -m reporter.dashboards --prometheus URL --dashboard FILE [--dashboard ...]
    [--from -1h] [--to now] --out DIR [--png] [--var name=value ...]

Writes DIR/<file stem>.html (and .png with --png) for each dashboard, and prints one line
per dashboard: its panels drawn with data, without data, and not drawn.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reporter.dashboards.render import find_dashboard, render_dashboards_sync
from reporter.dashboards.variables import duration_seconds, parse_time
from servicekit.exitcodes import ExitCode


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reporter.dashboards",
        description="Render Grafana dashboard JSON to HTML (and PNG) without Grafana.",
    )
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument(
        "--dashboard", action="append", required=True, help="dashboard JSON file, or a name in grafana/dashboards/"
    )
    parser.add_argument("--from", dest="start", default="now-1h", help="start: now-1h, -1h, ISO 8601, Unix time")
    parser.add_argument("--to", dest="end", default="now", help="end (same forms)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--png", action="store_true", help="also a PNG screenshot (headless Chromium)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="variable value (repeatable)")
    parser.add_argument("--width", type=int, default=1600, help="grid width in pixels")
    parser.add_argument("--scrape-interval", default="15s", help="the data source's scrape interval (timeInterval)")
    parser.add_argument("--timezone", help="IANA zone for time axes (default: the dashboard's, else UTC)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per Prometheus query")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    now = time.time()
    try:
        start, end = parse_time(args.start, now), parse_time(args.end, now)
        scrape = duration_seconds(args.scrape_interval)
        paths = [find_dashboard(name) for name in args.dashboard]
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    if end <= start:
        print("error: --to must be after --from", file=sys.stderr)
        return ExitCode.CONFIG
    variables: dict[str, list[str]] = {}
    for item in args.var:
        name, _, value = item.partition("=")
        variables.setdefault(name.strip(), []).append(value)
    from servicekit.prometheus import PrometheusConfig

    config = PrometheusConfig(url=args.prometheus, timeout=args.timeout)
    rendered = render_dashboards_sync(
        [str(p) for p in paths],
        config,
        start,
        end,
        png=args.png,
        chromium=args.chromium,
        variables=variables,
        width=args.width,
        scrape_interval=scrape,
        timezone_name=args.timezone,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path, item in zip(paths, rendered):
        (out / f"{path.stem}.html").write_text(item.document, encoding="utf-8")
        if item.png is not None:
            (out / f"{path.stem}.png").write_bytes(item.png)
        drawn = [p for p in item.panels if p.type != "row"]
        counts = {s: sum(1 for p in drawn if p.status == s) for s in ("ok", "no data", "error", "placeholder")}
        print(
            f"{out / path.stem}.html: {item.title}: {len(drawn)} panels, {counts['ok']} with data, "
            f"{counts['no data']} no data, {counts['error']} errors, {counts['placeholder']} not rendered"
        )
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
