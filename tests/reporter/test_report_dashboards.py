"""`dashboards: [overview]` in the report config: the dashboard drawn over the report's
period, one page, as a PNG when Chromium is there and as HTML when it is not."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from PIL import Image

from reporter.cli import main
from reporter.render_pdf import chromium_available
from tests.reporter import dataset as d
from tests.reporter.conftest import base_config

pytestmark = pytest.mark.prometheus
ROOT = Path(__file__).resolve().parents[2]
OVERVIEW_TITLE = json.loads((ROOT / "grafana/dashboards/overview.json").read_text())["title"]


def _report(prometheus, tmp_path: Path, **extra) -> str:
    config = base_config(prometheus.url, tmp_path / "archive", dashboards=["overview"], **extra)
    (tmp_path / "reporter.yml").write_text(yaml.safe_dump(config))
    end = datetime.fromtimestamp(d.B + d.DAY, UTC).strftime("%Y-%m-%d")
    argv = ["--config", str(tmp_path / "reporter.yml"), "--period", "daily", "--end", end, "--format", "html"]
    assert main([*argv, "--log-level", "warning"]) == 0
    directory = next((tmp_path / "archive").glob("daily-*"))
    return (directory / f"{directory.name}.html").read_text()


@pytest.mark.skipif(not chromium_available("/usr/bin/chromium"), reason="chromium is not installed")
def test_a_configured_dashboard_is_a_page_of_the_report_as_a_png(prometheus, tmp_path):
    html = _report(prometheus, tmp_path)
    pages = re.findall(r'<section class="page dashboard">(.*?)</section>', html, re.S)
    assert len(pages) == 1
    assert f"Dashboard: {OVERVIEW_TITLE}" in pages[0]
    [data] = re.findall(r'src="data:image/png;base64,([^"]+)"', pages[0])
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.format == "PNG" and image.width >= 1200 and image.height > 200


def test_without_chromium_the_dashboard_is_embedded_as_html(prometheus, tmp_path):
    html = _report(prometheus, tmp_path, pdf={"chromium": str(tmp_path / "no-chromium")})
    [page] = re.findall(r'<section class="page dashboard">(.*?)</section>\s*</main>', html, re.S)
    assert "gd-dashboard" in page and "data:image/png" not in page
    assert "<script" not in html.lower()


def test_an_unknown_dashboard_is_a_config_error(prometheus, tmp_path, capsys):
    config = base_config(prometheus.url, tmp_path / "archive", dashboards=["overview", "nope"])
    (tmp_path / "reporter.yml").write_text(yaml.safe_dump(config))
    assert main(["--config", str(tmp_path / "reporter.yml"), "--check-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dashboards.1: no dashboard 'nope'" in err
