"""The HTML opened in real headless Chromium, and the PDF Chromium prints from it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from reporter.cli import main
from reporter.render_pdf import chromium_available, run_chromium
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(not chromium_available(CHROMIUM), reason="chromium is not installed"),
]
HOSTILE_TITLE = 'Stock <script>alert("x")</script> & <img src=//evil.example/x.png>'


@pytest.fixture(scope="module")
def monthly_like(prometheus, tmp_path_factory):
    """The dataset's week as a weekly report (capacity included), with a hostile title."""
    out = tmp_path_factory.mktemp("html")
    config = base_config(prometheus.url, out / "archive", output={"title": HOSTILE_TITLE})
    (out / "reporter.yml").write_text(yaml.safe_dump(config))
    end = datetime.fromtimestamp(d.B + d.DAY, UTC).strftime("%Y-%m-%d")
    assert (
        main(
            [
                "--config",
                str(out / "reporter.yml"),
                "--period",
                "weekly",
                "--end",
                end,
                "--format",
                "html,pdf,json",
                "--log-level",
                "warning",
            ]
        )
        == 0
    )
    directory = next((out / "archive").glob("weekly-*"))
    return directory, json.loads((directory / f"{directory.name}.json").read_text())


def test_html_is_self_contained_and_escaped(monthly_like):
    directory, report = monthly_like
    html = (directory / f"{directory.name}.html").read_text()
    assert not re.search(r"https?://", html), re.search(r".{60}https?://.{60}", html).group(0)
    assert "<script" not in html.lower() and "@import" not in html and "@font-face" not in html
    for reference in re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html):
        assert reference.startswith(("#", "data:")), reference
    assert "default-src 'none'" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in html  # Jinja2's autoescape
    assert html.count("<svg") == len(report["charts"]) == 8
    for chart in report["charts"]:
        assert f'data-chart="{chart["key"]}"' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids collide between charts"


def page_requests(netlog: Path) -> set[str]:
    """Remote URLs the page asked for. Chromium's own services (sign-in, updater, clock) run with
    no document ("initiator": "not an origin"); the resolver rule already maps them to nothing."""
    requests = set()
    for event in json.loads(netlog.read_text())["events"]:
        params = event.get("params", {})
        url, initiator = params.get("url", ""), params.get("initiator")
        if (
            initiator is not None
            and initiator != "not an origin"
            and not url.startswith(("file:", "data:", "about:", "chrome:"))
        ):
            requests.add(url)
    return requests


def open_in_chromium(page: Path, directory: Path) -> tuple[Path, set[str]]:
    shot, netlog = directory / "shot.png", directory / "netlog.json"
    result = run_chromium(
        CHROMIUM,
        [
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            "--hide-scrollbars",
            f"--log-net-log={netlog}",
            "--net-log-capture-mode=Everything",
            page.as_uri(),
        ],
        timeout=90,
    )
    assert shot.exists(), result.stderr.decode()[-2000:]
    return shot, page_requests(netlog)


def test_chromium_renders_a_non_blank_page_without_network(monthly_like, tmp_path):
    directory, _ = monthly_like
    shot, requests = open_in_chromium(directory / f"{directory.name}.html", tmp_path)
    from PIL import Image, ImageStat

    image = Image.open(shot).convert("L")
    stddev = ImageStat.Stat(image).stddev[0]
    assert image.size == (1280, 2400) and stddev > 20, f"blank screenshot (stddev {stddev:.1f})"
    # dark pixels: text and chart lines
    assert sum(image.histogram()[:128]) > 20_000
    assert requests == set()


def test_the_network_check_sees_a_page_request(tmp_path):
    """Control: a page that does fetch something is caught by the same check."""
    page = tmp_path / "fetching.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><img src="http://report-test.invalid/pixel.png"></body></html>')
    _, requests = open_in_chromium(page, tmp_path)
    assert requests == {"http://report-test.invalid/pixel.png"}


def test_pdf_has_one_page_per_section(monthly_like):
    directory, report = monthly_like
    pdf = (directory / f"{directory.name}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    # the summary page, then one page for each of the five sections
    assert pages == 1 + len(report["sections"]) == 6
