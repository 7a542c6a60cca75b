"""`inventory-exporter --check-database`: run every configured statement once and say how it went.

For someone mapping their own schema: one line per business metric (and per statement
that yields none) with the statement that feeds it, its rows, the series it gives, its
time and its error. Read-only like every run; exit 1 when a statement failed or the
database cannot be reached.
"""

from __future__ import annotations

from typing import TextIO

from exporter.business_catalogue import BUILTIN_STATEMENTS, METRICS
from exporter.collectors.business import BusinessCollector
from exporter.config import Config
from exporter.db import Database, DatabaseUnavailable
from servicekit.exitcodes import ExitCode
from servicekit.secrets import redact

HEADER = ("metric", "query", "rows", "series", "time", "error")


def check_database(config: Config, out: TextIO) -> int:
    database = Database(config.database.connection_url(), timeout=config.database.timeout)
    collector = BusinessCollector(database, config.database, config.business)
    try:
        results, errors, durations = collector.run_statements()
    except DatabaseUnavailable as exc:
        print(f"{redact(config.database.url)}: cannot read the database: {exc}", file=out)
        return ExitCode.FAILURE
    finally:
        database.dispose()
    families, failed = collector.families(results, errors)
    series = {f.name: len(f.samples) for f in families}
    # Counters are named without _total inside prometheus_client's families.
    series.update({f"{f.name}_total": len(f.samples) for f in families if f.type == "counter"})

    lines = []
    for query in collector.statements:
        metrics = BUILTIN_STATEMENTS[query].metrics if query in BUILTIN_STATEMENTS else (query,)
        for metric in [m for m in metrics if m not in collector.mapped or m == query] or ["(data quality)"]:
            error = failed.get(query)
            lines.append(
                (
                    metric,
                    query,
                    str(len(results[query].rows)) if query in results else "-",
                    "-" if error or metric == "(data quality)" else str(series.get(metric, 0)),
                    f"{durations[query] * 1000:.1f}ms" if query in durations else "-",
                    str(getattr(error, "reason", error)) if error else "",
                )
            )
    published = {line[0] for line in lines}
    for metric in METRICS:
        if metric not in published:
            lines.append((metric, "-", "-", "-", "-", "not mapped: absent"))
    widths = [max(len(row[i]) for row in [HEADER, *lines]) for i in range(len(HEADER) - 1)]
    for row in [HEADER, *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1], file=out)
    print(f"{len(collector.statements)} statements, {len(failed)} failed", file=out)
    return ExitCode.FAILURE if failed else ExitCode.OK
