"""The demo's dashboards without Grafana: every shipped dashboard re-rendered from the live
Prometheus every minute (reporter/dashboards) and served as static pages.

    python -m demo.dashboards --prometheus URL --out DIR [--host H] [--port 3001]
                              [--every 60s] [--range 1h]

DIR/index.html links the dashboards with the time of their last render and how many
panels drew data; DIR/<name>.html is each dashboard as Grafana lays it out over the last
`--range`; DIR/status.json the same as data (what tests read). A render that fails (a
Prometheus restart) is logged and the last pages stay served.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from reporter.dashboards import render_dashboards
from reporter.dashboards.render import DASHBOARDS_DIR
from servicekit.config import parse_duration
from servicekit.prometheus import PrometheusClient, PrometheusUnavailable

log = logging.getLogger("demo.dashboards")


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def _index(status: dict[str, dict[str, object]], rendered_at: float, prometheus: str) -> str:
    rows = "".join(
        f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(str(entry['title']))}</a></td>"
        f"<td>{entry['with_data']} of {entry['panels']}</td></tr>"
        for name, entry in status.items()
    )
    when = time.strftime("%H:%M:%S", time.localtime(rendered_at))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>inventory-monitor dashboards</title>
<meta http-equiv="refresh" content="60">
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}</style></head>
<body><h1>inventory-monitor dashboards</h1>
<p>Drawn from the same JSON Grafana is provisioned with, over the last hour of
{html.escape(prometheus)}; rendered at {when}, again every minute.</p>
<table><tr><th>dashboard</th><th>panels with data</th></tr>{rows}</table></body></html>
"""


async def render_once(client: PrometheusClient, out: Path, seconds: float, prometheus: str) -> None:
    end = time.time()
    files = dashboard_files()
    rendered = await render_dashboards(files, client, end - seconds, end)
    status: dict[str, dict[str, object]] = {}
    for path, dashboard in zip(files, rendered):
        name = path.stem
        # The page refreshes itself, so an open tab follows the re-renders.
        page = dashboard.document.replace("<head>", '<head><meta http-equiv="refresh" content="60">', 1)
        _write(out / f"{name}.html", page)
        drawn = [panel for panel in dashboard.panels if panel.status not in ("text", "row")]
        status[name] = {
            "title": dashboard.title,
            "panels": len(drawn),
            "with_data": sum(1 for panel in drawn if panel.status == "ok"),
            "without_data": sorted(panel.title for panel in drawn if panel.status != "ok"),
            "rendered_at": end,
        }
    _write(out / "index.html", _index(status, end, prometheus))
    _write(out / "status.json", json.dumps(status, indent=2))


def _write(path: Path, text: str) -> None:
    # Atomic: a browser reading mid-render gets the previous page, never half of one.
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


async def run(prometheus: str, out: Path, host: str, port: int, every: float, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = web.Application()

    async def index(request: web.Request) -> web.StreamResponse:
        if not (out / "index.html").exists():
            return web.Response(status=503, text="first render under way\n")
        return web.FileResponse(out / "index.html")

    app.router.add_get("/", index)
    app.router.add_static("/", out)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("dashboards on http://%s:%d/ (every %gs from %s)", host, port, every, prometheus)
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(prometheus, session, retries=1)
        while True:
            started = time.monotonic()
            try:
                await render_once(client, out, seconds, prometheus)
            except (PrometheusUnavailable, OSError) as exc:
                log.warning("render failed, the last pages stay: %s", exc)
            await asyncio.sleep(max(1.0, every - (time.monotonic() - started)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.dashboards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument("--out", required=True, help="directory of the pages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--every", default="60s", help="time between renders")
    parser.add_argument("--range", dest="range_", default="1h", help="time range drawn")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        asyncio.run(
            run(
                args.prometheus.rstrip("/"),
                Path(args.out),
                args.host,
                args.port,
                parse_duration(args.every),
                parse_duration(args.range_),
            )
        )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
