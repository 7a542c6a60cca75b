"""A figure's value and change in words and units, as the report shows them."""

from __future__ import annotations

from reporter.report import Figure


def format_value(unit: str, value: float | None, note: str | None = None) -> str:
    """A figure's value in words and units, as the report shows it."""
    if value is None:
        return note or "no data"
    if unit == "ratio":
        digits = 3 if 0.99 <= abs(value) < 1 else 2
        return f"{value * 100:.{digits}f} %"
    if unit == "seconds":
        magnitude = abs(value)
        if magnitude < 1:
            return f"{value * 1000:.0f} ms"
        if magnitude < 120:
            return f"{value:.2f} s"
        if magnitude < 7200:
            return f"{value / 60:.1f} min"
        return f"{value / 3600:.1f} h"
    if unit == "per_second":
        return f"{value:.2f}/s"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "bytes":
        for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.2f} {suffix}"
        return f"{value:.0f} B"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "sku_hours":
        return f"{value:,.1f} SKU-h"
    if unit == "units":
        return f"{value:,.0f}"
    if unit == "signal":  # in the unit of a rule's query: three significant digits
        return f"{value:.3g}"
    return f"{value:.1f}"


def format_delta(figure: Figure) -> str:
    delta = figure.delta
    if delta is None:
        return "–"
    if figure.unit == "ratio":
        return f"{delta * 100:+.2f} pp"
    text = format_value(figure.unit, abs(delta))
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    ratio = figure.delta_ratio
    return f"{sign}{text}" + (f" ({ratio * 100:+.0f} %)" if ratio is not None and delta else "")
