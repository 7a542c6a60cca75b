"""Make docs/images/report.png: the dataset's week as a real report, shot by headless Chromium.

Run: .venv/bin/python -m tests.reporter.screenshot [docs/images/report.png]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from PIL import Image

from reporter.cli import main
from reporter.render_pdf import run_chromium
from tests.reporter import dataset
from tests.reporter.conftest import PrometheusServer, base_config


def shoot(target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="report-shot-"))
    try:
        dataset.write_openmetrics(work / "series.om.txt")
        subprocess.run(
            [
                "/usr/bin/promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(work / "series.om.txt"),
                str(work / "tsdb"),
            ],
            check=True,
            capture_output=True,
        )
        server = PrometheusServer(work)
        try:
            (work / "reporter.yml").write_text(yaml.safe_dump(base_config(server.url, work / "archive")))
            end = datetime.fromtimestamp(dataset.B, UTC).strftime("%Y-%m-%d")
            assert (
                main(["--config", str(work / "reporter.yml"), "--period", "weekly", "--end", end, "--format", "html"])
                == 0
            )
        finally:
            server.stop()
        page = next((work / "archive").glob("weekly-*/*.html"))
        raw = work / "shot.png"
        run_chromium(
            "/usr/bin/chromium",
            [f"--screenshot={raw}", "--window-size=1000,2600", "--hide-scrollbars", page.as_uri()],
            timeout=90,
        )
        image = Image.open(raw).convert("RGB")
        # the summary page and the start of the service section; 64 colours keep it small
        image = image.crop((0, 0, 1000, 1900)).quantize(colors=64)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, optimize=True)
        print(f"{target}: {target.stat().st_size} bytes")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/report.png"))
