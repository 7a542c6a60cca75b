"""The demo's webhook sink: where Alertmanager and the enhancer's notifications land.

  python -m demo.sink [--port 9099]

POST /alerts/<receiver>   an Alertmanager webhook payload (one line printed per alert)
POST /notify              an enhancer notification
POST /actions/<name>      an action call, when an enhancer config points actions here
GET  /received[?kind=alert|notify|action][&receiver=][&since=<unix seconds>]
                          everything recorded, oldest first, as JSON (for tests)
DELETE /received          forget everything
GET  /-/healthy
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from typing import Any

from aiohttp import web

RECORDS_KEY = web.AppKey("records", collections.deque)
OUT_KEY = web.AppKey("out", object)
MAX_RECORDS = 10000


def _print(app: web.Application, line: str) -> None:
    out = app[OUT_KEY]
    out.write(line + "\n")
    out.flush()


def _alert_line(receiver: str, alert: dict[str, Any]) -> str:
    labels = dict(alert.get("labels") or {})
    name = labels.pop("alertname", "?")
    severity = labels.pop("severity", "-")
    shown = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("monitor", "service"))
    summary = (alert.get("annotations") or {}).get("summary", "")
    return f"ALERT {alert.get('status', '?'):8} {severity:8} {name} [{receiver}] {shown} :: {summary}".rstrip()


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _record(app: web.Application, kind: str, path: str, body: Any, **extra: Any) -> dict[str, Any]:
    record = {"kind": kind, "path": path, "received_at": time.time(), "body": body, **extra}
    app[RECORDS_KEY].append(record)
    return record


async def alerts(request: web.Request) -> web.Response:
    receiver = request.match_info["receiver"]
    body = await _body(request)
    _record(request.app, "alert", request.path, body, receiver=receiver)
    items = body.get("alerts") if isinstance(body, dict) else None
    if not isinstance(items, list):
        _print(request.app, f"ALERT [{receiver}] unexpected payload: {str(body)[:200]}")
    else:
        for alert in items:
            _print(request.app, _alert_line(receiver, alert if isinstance(alert, dict) else {}))
    return web.json_response({"ok": True})


async def notify(request: web.Request) -> web.Response:
    body = await _body(request)
    _record(request.app, "notify", request.path, body)
    text = body.get("summary") or body.get("message") if isinstance(body, dict) else None
    _print(request.app, f"NOTIFY {text or json.dumps(body)[:300]}")
    return web.json_response({"ok": True})


async def action(request: web.Request) -> web.Response:
    body = await _body(request)
    _record(request.app, "action", request.path, body, action=request.match_info["name"])
    _print(request.app, f"ACTION {request.match_info['name']} {json.dumps(body)[:300]}")
    return web.json_response({"ok": True})


async def received(request: web.Request) -> web.Response:
    records = list(request.app[RECORDS_KEY])
    kind, receiver, since = request.query.get("kind"), request.query.get("receiver"), request.query.get("since")
    if kind:
        records = [r for r in records if r["kind"] == kind]
    if receiver:
        records = [r for r in records if r.get("receiver") == receiver]
    if since:
        try:
            cutoff = float(since)
        except ValueError:
            raise web.HTTPBadRequest(text="since must be Unix seconds\n") from None
        records = [r for r in records if r["received_at"] >= cutoff]
    return web.json_response(records)


async def clear(request: web.Request) -> web.Response:
    request.app[RECORDS_KEY].clear()
    return web.json_response({"ok": True})


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy.\n")


def build_app(out=None) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[RECORDS_KEY] = collections.deque(maxlen=MAX_RECORDS)
    app[OUT_KEY] = out or sys.stdout
    app.router.add_post("/alerts/{receiver}", alerts)
    app.router.add_post("/notify", notify)
    app.router.add_post("/actions/{name}", action)
    app.router.add_get("/received", received)
    app.router.add_delete("/received", clear)
    app.router.add_get("/-/healthy", healthy)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.sink", description="Webhook sink for alerts and notifications."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    args = parser.parse_args(argv)
    print(f"webhook sink on http://{args.host}:{args.port} (GET /received lists what arrived)", flush=True)
    web.run_app(build_app(), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
