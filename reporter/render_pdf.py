"""PDF printed from the report's HTML by headless Chromium, when Chromium is installed.

Chromium runs with a fresh profile, no background networking and every host name
resolving to nothing, so printing cannot reach the network even if the HTML tried.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger("reporter.pdf")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # The browser's own clock check (clients2.google.com) survives --disable-background-networking.
    "--disable-features=NetworkTimeServiceQuerying",
]


class PdfError(Exception):
    pass


def chromium_available(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def run_chromium(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Chromium with the fixed flags and a throwaway profile; the whole process group dies on timeout."""
    profile = tempfile.mkdtemp(prefix="inventory-report-chromium-")
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise PdfError(f"chromium did not finish within {timeout:g}s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def html_to_pdf(html: str, chromium: str = "/usr/bin/chromium", timeout: float = 90.0) -> bytes:
    with tempfile.TemporaryDirectory(prefix="inventory-report-pdf-") as work:
        source = Path(work) / "report.html"
        target = Path(work) / "report.pdf"
        source.write_text(html, encoding="utf-8")
        result = run_chromium(
            chromium, ["--no-pdf-header-footer", f"--print-to-pdf={target}", source.as_uri()], timeout
        )
        if not target.exists() or target.stat().st_size == 0:
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"chromium exited {result.returncode} without a PDF: {tail[0]}")
        return target.read_bytes()
