"""The soak's CI form (benchmarks/soak.py for one minute; the published run is 30+ minutes).

The whole demo stack with its traffic and default faults, plus 10 concurrent scrapers of
the exporter's /metrics: no scrape may fail or time out (1 s), latency stays low, the
exporter's and the enhancer's memory must not grow by anything like the seed's 100 MB
budget, and nothing may die (the supervisor would have restarted it).
"""

from __future__ import annotations

import pytest

from benchmarks import soak

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(200)]


def test_one_minute_of_ten_scrapers_and_demo_traffic(tmp_path):
    result = soak.run(60, scrapers=10, scrape_interval=0.1, skus=1000, workdir=tmp_path)
    print("\n" + soak.report(result, 0.1))
    assert result.errors == {}, result.errors
    assert result.scrapes > 10 * 60 * 3, "ten scrapers every 0.1 s should manage several per second each"
    assert result.latency_ms["p99"] < 250, result.latency_ms
    assert result.latency_ms["max"] < soak.SCRAPE_TIMEOUT_SECONDS * 1000
    assert result.restarts == 0, "a component died during the soak"
    assert {"exporter", "enhancer"} <= set(result.rss_mb)
    for name in ("exporter", "enhancer"):
        # a minute cannot show a slow leak, but it does catch a per-scrape one: 3,000+ scrapes
        assert result.rss_mb[name]["growth"] < 30, (name, result.rss_mb[name])
        assert result.rss_mb[name]["peak"] < 400, (name, result.rss_mb[name])
