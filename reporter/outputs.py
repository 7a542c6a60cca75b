"""The archive: one directory per period with the report in each format, and an index page.

Every file is written to a temporary name in its final directory and renamed into
place (os.replace is atomic on POSIX), so a reader sees the old file or the new one,
never half of one. Everything is rendered before the first write: a failure leaves
nothing behind. manifest.json is written last; its presence is the record that the
period's report exists (the scheduler relies on it), and it records deliveries.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from reporter.changes import ChangeDict
from reporter.periods import Period
from reporter.report import FigureDict, Report
from reporter.templating import render_page

MANIFEST = "manifest.json"


class PeriodDict(TypedDict):
    kind: str
    name: str
    label: str
    start: str  # ISO 8601, local time with its offset
    end: str
    start_ts: float
    end_ts: float
    seconds: int


class SectionDict(TypedDict):
    name: str
    has_data: bool


class ChartDict(TypedDict):
    key: str
    section: str
    title: str
    has_data: bool


class ReportDict(TypedDict):
    """The JSON report."""

    title: str
    period: PeriodDict
    previous_period: PeriodDict
    generated_at: str
    sections: list[SectionDict]
    figures: list[FigureDict]
    changes: list[ChangeDict]
    charts: list[ChartDict]


class DeliveryRecord(TypedDict):
    ok: bool
    at: str
    detail: str


class Manifest(TypedDict):
    """manifest.json as write_archive writes it (as read back, it is whatever JSON the file holds)."""

    period: str
    kind: str
    label: str
    start: str
    end: str
    generated_at: str
    files: dict[str, str]  # format -> file name
    changes: int
    deliveries: dict[str, DeliveryRecord]  # channel -> its last attempt


def _period_dict(period: Period) -> PeriodDict:
    return {
        "kind": period.kind,
        "name": period.name,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "start_ts": period.start_ts,
        "end_ts": period.end_ts,
        "seconds": period.seconds,
    }


def report_dict(report: Report) -> ReportDict:
    return {
        "title": report.title,
        "period": _period_dict(report.period),
        "previous_period": _period_dict(report.previous_period),
        "generated_at": datetime.fromtimestamp(report.generated_at, UTC).isoformat(),
        "sections": [{"name": name, "has_data": report.section_has_data(name)} for name in report.sections],
        "figures": [figure.to_dict() for figure in report.figures],
        "changes": [change.to_dict() for change in report.changes],
        "charts": [
            {"key": c.key, "section": c.section, "title": c.title, "has_data": c.has_data} for c in report.charts
        ],
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


CSV_COLUMNS = [
    "section",
    "key",
    "title",
    "unit",
    "labels",
    "value",
    "previous",
    "delta",
    "delta_ratio",
    "objective",
    "objective_op",
    "objective_met",
    "note",
]


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for figure in report.figures:
        row: dict[str, object] = {**figure.to_dict(), "labels": figure.label_text()}
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def write_archive(out_dir: Path, report: Report, rendered: dict[str, bytes]) -> Manifest:
    """rendered: format -> bytes, all produced before this call. Returns the manifest."""
    directory = out_dir / report.period.name
    files: dict[str, str] = {}
    for fmt, data in rendered.items():
        name = f"{report.period.name}.{fmt}"
        atomic_write(directory / name, data)
        files[fmt] = name
    manifest: Manifest = {
        "period": report.period.name,
        "kind": report.period.kind,
        "label": report.period.label,
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "generated_at": datetime.fromtimestamp(report.generated_at, UTC).isoformat(),
        "files": files,
        "changes": len(report.changes),
        "deliveries": {},
    }
    atomic_write(directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    write_index(out_dir)
    return manifest


def read_manifest(out_dir: Path, period_name: str) -> dict[str, Any] | None:
    """A period's manifest.json as JSON (Manifest, unless an older or damaged file), or None."""
    try:
        manifest: dict[str, Any] = json.loads((out_dir / period_name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest


def record_delivery(out_dir: Path, period_name: str, channel: str, ok: bool, detail: str = "") -> None:
    manifest = read_manifest(out_dir, period_name) or {"period": period_name, "files": {}}
    manifest.setdefault("deliveries", {})[channel] = {"ok": ok, "at": datetime.now(UTC).isoformat(), "detail": detail}
    atomic_write(out_dir / period_name / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


def write_index(out_dir: Path) -> None:
    manifests = []
    for directory in out_dir.iterdir() if out_dir.exists() else []:
        manifest = read_manifest(out_dir, directory.name) if directory.is_dir() else None
        if manifest:
            manifests.append(manifest)
    manifests.sort(key=lambda m: (m.get("start", ""), m.get("period", "")), reverse=True)
    html = render_page(
        "index.html.j2", manifests=manifests, updated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    )
    atomic_write(out_dir / "index.html", html.encode())
