"""Security probes of the exporter's web config, as an attacker on the network would run
them (issue 17); `make security` runs the full form, `make test` the short one.

    .venv/bin/python -m benchmarks.security [--short] [--seconds 8] [--tree DIR ...] [--json FILE]

The real exporter (CLI, `--web.config.file` with basic auth at bcrypt cost 10, as the
docs show) runs pinned to core 0; the probes run on core 1. Every probe is pass/fail;
the two figures are measured and printed, never judged by a timer:

- flood: 20 clients send wrong passwords for the documented user `prometheus` while a
  legitimate scraper (right password) scrapes every 100 ms: the scraper's p50/p95/max and
  how many of its scrapes succeeded, beside the same scraper with no attack.
- enumeration: median time to refuse an unknown user and a wrong password for a real
  user, alternated; their ratio (1 means no timing difference to enumerate users by).
- refusals: a 73-byte and a 1000-byte password (401, not 500), lowercase `basic` (200),
  a bcrypt cost of 31, a malformed hash, an empty web config, a 10,000-deep YAML document
  (each: exit 2 with one line), SIGHUP (logged, still serving).

`--tree DIR` runs the flood and enumeration against another checkout too (for example
`git worktree add /tmp/before <commit>`), in the same session: the named reference.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import bcrypt

from benchmarks.bench_metrics_endpoint import free_port, pinned

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "prometheus", "scrape-pass-5b2c9e"
ATTACKERS = 20


def basic(user: str, password: str | bytes, scheme: str = "Basic") -> str:
    raw = password if isinstance(password, bytes) else password.encode()
    return f"{scheme} " + base64.b64encode(user.encode() + b":" + raw).decode()


@dataclass
class Exporter:
    tree: Path
    workdir: Path
    web_config: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    def argv(self, *extra: str) -> list[str]:
        config = self.workdir / "exporter.yml"
        config.write_text(f"listen: 127.0.0.1:{self.port}\nbusiness:\n  enabled: false\nanalytics:\n  enabled: false\n")
        (self.workdir / "web.yml").write_text(self.web_config)
        return [
            sys.executable,
            "-m",
            "exporter",
            "--config",
            str(config),
            "--web.config.file",
            str(self.workdir / "web.yml"),
            *extra,
        ]

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.tree)}
        self.process = subprocess.Popen(
            pinned(0, self.argv()), cwd=self.tree, env=env, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:  # any answer will do: without credentials it is a 401
                _status(f"http://127.0.0.1:{self.port}/-/healthy", "")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"exporter in {self.tree} did not start")

    def stop(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=15)
        return stderr


async def _get(session: aiohttp.ClientSession, url: str, auth: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.get(url, headers={"Authorization": auth}) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def _scraper(url: str, seconds: float) -> list[tuple[int, float]]:
    results: list[tuple[int, float]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await _get(session, url, basic(USER, PASSWORD))  # the first login, then cached as a scraper's is
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                results.append(await _get(session, url, basic(USER, PASSWORD)))
            except (aiohttp.ClientError, TimeoutError):
                results.append((0, 10.0))
            await asyncio.sleep(0.1)
    return results


async def _attacker(url: str, seconds: float, index: int, codes: dict[int, int]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            n += 1
            try:
                status, _ = await _get(session, url, basic(USER, f"guess-{index}-{n}"))
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            codes[status] = codes.get(status, 0) + 1
            if status == 429:
                await asyncio.sleep(0.01)  # a 429 is instant: do not just spin the prober's core


def _summary(results: list[tuple[int, float]]) -> dict[str, float]:
    times = sorted(t for _, t in results)
    ok = sum(1 for status, _ in results if status == 200)
    return {
        "scrapes": len(results),
        "ok": ok,
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "max_ms": round(1000 * times[-1], 1),
    }


async def flood(url: str, seconds: float) -> dict[str, object]:
    quiet = _summary(await _scraper(url, seconds / 2))
    codes: dict[int, int] = {}
    attack = [asyncio.ensure_future(_attacker(url, seconds, i, codes)) for i in range(ATTACKERS)]
    await asyncio.sleep(0.5)  # the flood is under way before the scraper measures
    attacked = _summary(await _scraper(url, seconds - 0.5))
    await asyncio.gather(*attack)
    return {"quiet": quiet, "attacked": attacked, "attacker_answers": dict(sorted(codes.items()))}


async def enumeration(url: str, rounds: int) -> dict[str, float]:
    unknown, wrong = [], []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds):
            for user, bucket in (("nobody", unknown), (USER, wrong)) if i % 2 else ((USER, wrong), ("nobody", unknown)):
                status, seconds = await _get(session, url, basic(user, f"wrong-{i}"))
                assert status == 401, status
                bucket.append(seconds)
    u, w = statistics.median(unknown), statistics.median(wrong)
    return {"unknown_user_ms": round(1000 * u, 2), "wrong_password_ms": round(1000 * w, 2), "ratio": round(w / u, 2)}


def _status(url: str, auth: str) -> int:
    headers = {"Authorization": auth} if auth else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def refusals(tree: Path, workdir: Path, good: str) -> dict[str, bool]:
    """Each probe: did the exporter answer as it should."""
    checks: dict[str, bool] = {}
    exporter = Exporter(tree, workdir, good)
    exporter.start()
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    try:
        checks["73-byte password: 401"] = _status(url, basic(USER, "p" * 73)) == 401
        checks["1000-byte password: 401"] = _status(url, basic(USER, "p" * 1000)) == 401
        checks["lowercase basic scheme: 200"] = _status(url, basic(USER, PASSWORD, "basic")) == 200
        assert exporter.process is not None
        exporter.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        checks["SIGHUP: still serving"] = exporter.process.poll() is None and _status(url, basic(USER, PASSWORD)) == 200
    finally:
        stderr = exporter.stop()
    checks["SIGHUP: logged"] = "SIGHUP" in stderr
    bad_configs = {
        "bcrypt cost 31": f"basic_auth_users:\n  {USER}: $2b$31${'a' * 53}\n",
        "malformed hash": f"basic_auth_users:\n  {USER}: $2b$10$garbage\n",
        "empty web config": "\n",
        "10,000-deep YAML": "basic_auth_users: " + "[" * 10_000 + "\n",
    }
    for name, body in bad_configs.items():
        probe = Exporter(tree, workdir, body)
        result = subprocess.run(
            probe.argv("--check-config"),
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        checks[f"{name}: exit 2, one line"] = result.returncode == 2 and result.stderr.count("\n") == 1
    return checks


async def measure(tree: Path, workdir: Path, good: str, seconds: float, rounds: int) -> dict[str, object]:
    exporter = Exporter(tree, workdir, good)
    exporter.start()
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    try:
        return {"flood": await flood(url, seconds), "enumeration": await enumeration(url, rounds)}
    finally:
        exporter.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.security", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the probes and a 2 s flood (what make test runs)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the flood")
    parser.add_argument("--rounds", type=int, default=40, help="requests per kind in the enumeration probe")
    parser.add_argument("--tree", action="append", default=[], help="another checkout to measure too")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.short:
        args.seconds, args.rounds = 2.0, 6
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the exporter has core 0
    good = f"basic_auth_users:\n  {USER}: {bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()}\n"
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        checks = refusals(ROOT, workdir, good)
        results["checks"] = checks
        for name, tree in [("this tree", ROOT), *((t, Path(t).resolve()) for t in args.tree)]:
            results[name] = asyncio.run(measure(tree, workdir, good, args.seconds, args.rounds))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"\n{ATTACKERS} wrong-password clients for {args.seconds:g}s; exporter on core 0, probes on core 1")
    print(
        "| code | scraper, no attack: p50 / p95 / max ms | under attack: p50 / p95 / max ms | scrapes ok "
        "| unknown user / wrong password, median ms | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, measured in results.items():
        if name == "checks":
            continue
        assert isinstance(measured, dict)
        quiet, attacked = measured["flood"]["quiet"], measured["flood"]["attacked"]
        enum = measured["enumeration"]
        print(
            f"| {name} | {quiet['p50_ms']} / {quiet['p95_ms']} / {quiet['max_ms']} "
            f"| {attacked['p50_ms']} / {attacked['p95_ms']} / {attacked['max_ms']} "
            f"| {attacked['ok']}/{attacked['scrapes']} "
            f"| {enum['unknown_user_ms']} / {enum['wrong_password_ms']} | {enum['ratio']} |"
        )
        print(f"  attacker answers: {measured['flood']['attacker_answers']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
