"""Basic auth that an unauthenticated client cannot use to stall, enumerate or crash the
server: bcrypt off the event loop in one bounded thread, the same work for unknown users,
a cache of successful logins only, 72-byte passwords refused, hashes checked at load."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading

import bcrypt
import pytest
from aiohttp import web

from servicekit import webconfig
from servicekit.webconfig import PasswordChecks, WebConfig

PASSWORD = "scrape-pass-7f3e"
HASHED = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()


def basic(user: str, password: str | bytes, scheme: str = "Basic") -> str:
    raw = password if isinstance(password, bytes) else password.encode()
    return f"{scheme} " + base64.b64encode(user.encode() + b":" + raw).decode()


class Recorder:
    """Wraps bcrypt.checkpw: which hashes were checked, on which thread, optionally slowly."""

    def __init__(self, monkeypatch, delay: float = 0.0):
        self.calls: list[tuple[bytes, str]] = []
        self.delay = delay
        self.release = threading.Event()
        real = bcrypt.checkpw

        def checkpw(password: bytes, hashed: bytes) -> bool:
            self.calls.append((hashed, threading.current_thread().name))
            if self.delay:
                self.release.wait(self.delay)
            return real(password, hashed)

        monkeypatch.setattr(webconfig.bcrypt, "checkpw", checkpw)


@pytest.fixture
async def server(aiohttp_client, tmp_path):
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: {HASHED}\n")
    config = WebConfig(str(path))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="inventory_up 1\n")

    app = web.Application(middlewares=[config.middleware()])
    app.router.add_get("/metrics", metrics)
    client = await aiohttp_client(app)
    return client, config, path


async def status(client, auth: str | None) -> int:
    response = await client.get("/metrics", headers={"Authorization": auth} if auth else {})
    await response.read()
    return response.status


async def test_bcrypt_runs_off_the_event_loop_and_a_cached_login_is_not_held_up(server, monkeypatch):
    client, _, _ = server
    assert await status(client, basic("prometheus", PASSWORD)) == 200  # cached from now on
    recorder = Recorder(monkeypatch, delay=30.0)  # a check that does not end until released
    slow = asyncio.ensure_future(status(client, basic("prometheus", "wrong")))
    while not recorder.calls:
        await asyncio.sleep(0.01)
    # The loop is free while bcrypt works: the scraper's cached login is answered now.
    assert await status(client, basic("prometheus", PASSWORD)) == 200
    assert not slow.done()
    recorder.release.set()
    assert await slow == 401
    assert [thread for _, thread in recorder.calls] == [recorder.calls[0][1]]
    assert recorder.calls[0][1].startswith("bcrypt") and recorder.calls[0][1] != threading.main_thread().name


async def test_an_unknown_user_costs_one_check_against_a_hash_of_the_same_cost(server, monkeypatch):
    client, _, _ = server
    recorder = Recorder(monkeypatch)
    assert await status(client, basic("nobody", PASSWORD)) == 401
    assert await status(client, basic("prometheus", "wrong")) == 401
    assert len(recorder.calls) == 2
    unknown, wrong = (hashed for hashed, _ in recorder.calls)
    assert unknown[:7] == wrong[:7] == HASHED[:7].encode()  # $2b$05$: the same version and cost
    # And a user's real password under another name is still refused.
    assert await status(client, basic("admin", PASSWORD)) == 401


async def test_only_successes_are_cached_so_wrong_passwords_cannot_evict_the_scraper(server, monkeypatch):
    client, _, _ = server
    assert await status(client, basic("prometheus", PASSWORD)) == 200
    recorder = Recorder(monkeypatch)
    for i in range(150):  # more than the cache holds
        assert await status(client, basic("prometheus", f"guess-{i}")) == 401
    assert len(recorder.calls) == 150  # none of them answered from a cache
    assert await status(client, basic("prometheus", PASSWORD)) == 200
    assert len(recorder.calls) == 150  # the scraper's login still cached: no bcrypt run


async def test_a_flood_of_checks_is_bounded_with_429s(server, monkeypatch):
    client, _, _ = server
    recorder = Recorder(monkeypatch, delay=30.0)
    floods = [asyncio.ensure_future(status(client, basic("prometheus", f"x{i}"))) for i in range(20)]
    while len([f for f in floods if f.done()]) < 20 - PasswordChecks.MAX_WAITING:
        await asyncio.sleep(0.01)
    done = [f.result() for f in floods if f.done()]
    assert done == [429] * (20 - PasswordChecks.MAX_WAITING)
    recorder.release.set()
    assert sorted(await asyncio.gather(*floods)) == [401] * PasswordChecks.MAX_WAITING + [429] * 12
    assert len(recorder.calls) == PasswordChecks.MAX_WAITING


@pytest.mark.parametrize("length", [72, 73, 1000])
async def test_passwords_over_72_bytes_get_401_not_500(server, monkeypatch, length):
    client, _, _ = server
    recorder = Recorder(monkeypatch)
    assert await status(client, basic("prometheus", PASSWORD.encode() + b"x" * (length - len(PASSWORD)))) == 401
    assert len(recorder.calls) == (1 if length <= 72 else 0)


async def test_the_scheme_is_case_insensitive_and_other_schemes_are_refused(server):
    client, _, _ = server
    for scheme in ("Basic", "basic", "BASIC"):
        assert await status(client, basic("prometheus", PASSWORD, scheme)) == 200
    assert await status(client, basic("prometheus", PASSWORD, "Bearer")) == 401
    assert await status(client, "Basic") == 401


@pytest.mark.parametrize(
    "broken",
    [
        "",  # emptied: must not switch auth off
        "basic_auth_users:\n  prometheus: $2b$10$garbage\n",
        "basic_auth_users:\n  prometheus: $2b$31$" + "a" * 53 + "\n",
        "basic_auth_users: " + "[" * 5000 + "\n",
    ],
)
async def test_a_broken_reload_keeps_the_last_good_config(server, broken, caplog):
    client, config, path = server
    assert await status(client, None) == 401
    path.write_text(broken)
    with caplog.at_level(logging.ERROR, logger="servicekit.webconfig"):
        assert await status(client, None) == 401
        assert await status(client, basic("prometheus", PASSWORD)) == 200
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "keeping the previous one" in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage()
