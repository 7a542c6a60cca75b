"""Values as Grafana shows them: units (fieldConfig.defaults.unit), decimals, value
mappings, thresholds and Grafana's named colours.

Only what Grafana documents for the units listed in UNITS is reproduced; an unknown unit
is shown as a plain number followed by the unit's id, so nothing is silently mislabelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

# Grafana's light theme: named colours and the shades it derives from them.
_HUES = {
    "red": ("#FFA6B0", "#FF7383", "#F2495C", "#E02F44", "#C4162A"),
    "orange": ("#FFCB7D", "#FFB357", "#FF9830", "#FA6400", "#E55400"),
    "yellow": ("#FFF899", "#FFEE52", "#FADE2A", "#F2CC0C", "#E0B400"),
    "green": ("#C8F2C2", "#96D98D", "#73BF69", "#56A64B", "#37872D"),
    "blue": ("#C0D8FF", "#8AB8FF", "#5794F2", "#3274D9", "#1F60C4"),
    "purple": ("#DEB6F2", "#CA95E5", "#B877D9", "#A352CC", "#8F3BB8"),
}
_SHADES = ("super-light-", "light-", "", "semi-dark-", "dark-")
NAMED_COLORS: dict[str, str] = {
    f"{prefix}{hue}": shades[i] for hue, shades in _HUES.items() for i, prefix in enumerate(_SHADES)
}
NAMED_COLORS.update(
    {
        "text": "#24292E",
        "transparent": "transparent",
        "white": "#FFFFFF",
        "black": "#000000",
        "gray": "#808080",
        "grey": "#808080",
        "dark-gray": "#464C54",
    }
)
# Grafana's classic palette (palette-classic), in order.
CLASSIC_PALETTE = (
    "#7EB26D",
    "#EAB839",
    "#6ED0E0",
    "#EF843C",
    "#E24D42",
    "#1F78C1",
    "#BA43A9",
    "#705DA0",
    "#508642",
    "#CCA300",
    "#447EBC",
    "#C15C17",
    "#890F02",
    "#0A437C",
    "#6D1F62",
    "#584477",
    "#B7DBAB",
    "#F4D598",
    "#70DBED",
    "#F9BA8F",
)


def color(name: str | None, default: str = "#24292E") -> str:
    """A Grafana colour name (green, semi-dark-red, text) or a CSS colour as it is."""
    if not name:
        return default
    return NAMED_COLORS.get(name.strip().lower(), name.strip())


def text_on(background: str) -> str:
    """Black or white, whichever reads better on the background colour."""
    rgb = _rgb(background)
    if rgb is None:
        return "#24292E"
    r, g, b = rgb
    return "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#FFFFFF"


def _rgb(css: str) -> tuple[float, float, float] | None:
    css = css.strip()
    if css.startswith("#") and len(css) in (4, 7):
        digits = css[1:] if len(css) == 7 else "".join(c * 2 for c in css[1:])
        try:
            return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
        except ValueError:
            return None
    if css.startswith("rgb"):
        try:
            parts = css[css.index("(") + 1 : css.index(")")].split(",")
            return float(parts[0]), float(parts[1]), float(parts[2])
        except (ValueError, IndexError):
            return None
    return None


# --- numbers -----------------------------------------------------------------------------------


def auto_decimals(value: float) -> int:
    """Grafana's getDecimalsForValue: enough decimals for the value's magnitude."""
    if value == 0 or not math.isfinite(value):
        return 0
    if float(value).is_integer():
        return 0
    magnitude = math.floor(math.log10(abs(value)))
    dec = -magnitude + 1
    norm = abs(value) / 10 ** (-dec)
    if norm > 2.25:
        dec += 1
    return max(0, dec)


_EXACT = Context(prec=400, rounding=ROUND_HALF_UP)  # every float's digits fit


def to_fixed(value: float, decimals: int | None) -> str:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if decimals is None:
        value = round(value, 10)  # 0.6 * 100 is 60.00000000000001: shown as 60
        decimals = auto_decimals(value)
    # like JavaScript's toFixed: the exact binary value, halves rounded up (42.25 -> 42.3)
    if abs(value) >= 1e21:  # toFixed gives up there too: exponent notation
        return f"{value:g}"
    decimals = min(max(decimals, 0), 20)
    text = str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), context=_EXACT))
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


@dataclass(frozen=True)
class Formatted:
    prefix: str
    text: str
    suffix: str

    def __str__(self) -> str:
        return f"{self.prefix}{self.text}{self.suffix}"


def _scaled(value: float, decimals: int | None, base: float, suffixes: Sequence[str]) -> Formatted:
    """Scale down by powers of `base` while the value is that large (Grafana's scaledUnits)."""
    steps, size = 0, abs(value)
    while math.isfinite(size) and size >= base and steps < len(suffixes) - 1:
        size /= base
        steps += 1
    return Formatted("", to_fixed(value / base**steps, decimals), suffixes[steps])


_SHORT = ("", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept")
_SI_PREFIXES = ("", " k", " M", " G", " T", " P", " E")
_BIN_PREFIXES = ("", " Ki", " Mi", " Gi", " Ti", " Pi", " Ei")


def _short(value: float, decimals: int | None) -> Formatted:
    if abs(value) < 1000 or not math.isfinite(value):
        return Formatted("", to_fixed(value, decimals), "")
    return _scaled(value, decimals, 1000, _SHORT)


def _count(unit: str) -> Callable[[float, int | None], Formatted]:
    def fmt(value: float, decimals: int | None) -> Formatted:
        f = _short(value, decimals)
        return Formatted("", f.text, f"{f.suffix} {unit}")

    return fmt


def _fixed_suffix(suffix: str, factor: float = 1.0) -> Callable[[float, int | None], Formatted]:
    def fmt(value: float, decimals: int | None) -> Formatted:
        return Formatted("", to_fixed(value * factor, decimals), suffix)

    return fmt


def _bytes(prefixes: Sequence[str], base: float, unit: str) -> Callable[[float, int | None], Formatted]:
    suffixes = [p + unit if p else " " + unit for p in prefixes]

    def fmt(value: float, decimals: int | None) -> Formatted:
        return _scaled(value, decimals, base, suffixes)

    return fmt


def _currency(symbol: str, after: bool = False) -> Callable[[float, int | None], Formatted]:
    def fmt(value: float, decimals: int | None) -> Formatted:
        f = _scaled(value, decimals, 1000, ("", "K", "M", "B", "T")) if abs(value) >= 1000 else None
        text, scale = (f.text, f.suffix) if f else (to_fixed(value, decimals), "")
        if after:
            return Formatted("", text, f"{scale} {symbol}")
        sign = "-" if text.startswith("-") else ""
        return Formatted(f"{sign}{symbol}", text.lstrip("-"), scale)

    return fmt


_DURATIONS = (  # (seconds, suffix) from the largest, as Grafana's toSeconds goes
    (31536000, " year"),
    (604800, " week"),
    (86400, " day"),
    (3600, " hour"),
    (60, " min"),
    (1, " s"),
)


def _seconds(value: float, decimals: int | None) -> Formatted:
    """Grafana's `s`: ns/µs/ms below a second, then s, min, hour, day, week, year."""
    if not math.isfinite(value):
        return Formatted("", to_fixed(value, decimals), " s")
    size = abs(value)
    if size == 0:
        return Formatted("", to_fixed(0, decimals), " s")
    if size < 1e-6:
        return Formatted("", to_fixed(value * 1e9, decimals), " ns")
    if size < 1e-3:
        return Formatted("", to_fixed(value * 1e6, decimals), " µs")
    if size < 1:
        return Formatted("", to_fixed(value * 1e3, decimals), " ms")
    for seconds, suffix in _DURATIONS:
        if size >= seconds:
            return Formatted("", to_fixed(value / seconds, decimals), suffix)
    return Formatted("", to_fixed(value, decimals), " s")


def _milliseconds(value: float, decimals: int | None) -> Formatted:
    if math.isfinite(value) and abs(value) < 1000:
        return Formatted("", to_fixed(value, decimals), " ms")
    return _seconds(value / 1000, decimals)


def _none(value: float, decimals: int | None) -> Formatted:
    return Formatted("", to_fixed(value, decimals), "")


UNITS: dict[str, Callable[[float, int | None], Formatted]] = {
    "none": _none,
    "": _none,
    "short": _short,
    "percent": _fixed_suffix("%"),
    "percentunit": _fixed_suffix("%", 100.0),
    "humidity": _fixed_suffix(" %H"),
    "dB": _fixed_suffix(" dB"),
    "s": _seconds,
    "ms": _milliseconds,
    "µs": lambda v, d: _seconds(v / 1e6, d),
    "ns": lambda v, d: _seconds(v / 1e9, d),
    "m": lambda v, d: _seconds(v * 60, d),
    "h": lambda v, d: _seconds(v * 3600, d),
    "d": lambda v, d: _seconds(v * 86400, d),
    "bytes": _bytes(_BIN_PREFIXES, 1024, "B"),
    "decbytes": _bytes(_SI_PREFIXES, 1000, "B"),
    "bits": _bytes(_BIN_PREFIXES, 1024, "b"),
    "decbits": _bytes(_SI_PREFIXES, 1000, "b"),
    "kbytes": lambda v, d: _bytes(_BIN_PREFIXES, 1024, "B")(v * 1024, d),
    "mbytes": lambda v, d: _bytes(_BIN_PREFIXES, 1024, "B")(v * 1024**2, d),
    "gbytes": lambda v, d: _bytes(_BIN_PREFIXES, 1024, "B")(v * 1024**3, d),
    "Bps": _bytes(_SI_PREFIXES, 1000, "B/s"),
    "binBps": _bytes(_BIN_PREFIXES, 1024, "B/s"),
    "bps": _bytes(_SI_PREFIXES, 1000, "b/s"),
    "binbps": _bytes(_BIN_PREFIXES, 1024, "b/s"),
    "reqps": _count("req/s"),
    "rps": _count("rd/s"),
    "wps": _count("wr/s"),
    "iops": _count("io/s"),
    "ops": _count("ops/s"),
    "opm": _count("ops/min"),
    "reqpm": _count("req/min"),
    "cps": _count("c/s"),
    "currencyUSD": _currency("$"),
    "currencyEUR": _currency("€"),
    "currencyGBP": _currency("£"),
    "currencyJPY": _currency("¥"),
    "currencyCHF": _currency("CHF", after=True),
    "currencyINR": _currency("₹"),
    "celsius": _fixed_suffix("°C"),
    "fahrenheit": _fixed_suffix("°F"),
    "hertz": _bytes(_SI_PREFIXES, 1000, "Hz"),
}


def format_value(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    """The value as Grafana would print it for that unit (None: no value)."""
    if value is None:
        return "No data"
    if isinstance(decimals, float):
        decimals = int(decimals)
    unit = unit or "none"
    if unit.startswith("suffix:"):
        return str(Formatted("", to_fixed(value, decimals), unit[7:]))
    if unit.startswith("prefix:"):
        return str(Formatted(unit[7:], to_fixed(value, decimals), ""))
    if unit.startswith("count:"):
        return str(_count(unit[6:])(value, decimals))
    if unit.startswith("currency:"):
        return str(_currency(unit[9:])(value, decimals))
    formatter = UNITS.get(unit)
    if formatter is None:
        return f"{to_fixed(value, decimals)} {unit}"
    return str(formatter(value, decimals)).strip()


# --- thresholds and mappings -------------------------------------------------------------------


def threshold_color(value: float | None, thresholds: dict[str, Any] | None, lo: float, hi: float) -> str | None:
    """The colour of the last step at or below the value (percentage steps between lo and hi)."""
    if value is None or not thresholds or not math.isfinite(value):
        return None
    steps = thresholds.get("steps") or []
    if not steps:
        return None
    probe = value
    if thresholds.get("mode") == "percentage":
        probe = 0.0 if hi == lo else (value - lo) / (hi - lo) * 100
    chosen = steps[0]
    for step in steps:
        limit = step.get("value")
        if limit is None or (isinstance(limit, (int, float)) and probe >= limit):
            chosen = step
    return color(chosen.get("color"))


def threshold_steps(thresholds: dict[str, Any] | None, lo: float, hi: float) -> list[tuple[float, str]]:
    """(absolute start value, colour) of every step; the base step starts at -inf."""
    out = []
    for step in (thresholds or {}).get("steps") or []:
        limit = step.get("value")
        if limit is None:
            start = -math.inf
        elif (thresholds or {}).get("mode") == "percentage":
            start = lo + (hi - lo) * float(limit) / 100
        else:
            start = float(limit)
        out.append((start, color(step.get("color"))))
    return out


@dataclass(frozen=True)
class Mapped:
    text: str | None
    color: str | None


def apply_mappings(value: float | None, mappings: list[dict[str, Any]] | None) -> Mapped | None:
    """Grafana's value mappings: value, range, regex (on the shown text) and special ones."""
    for mapping in mappings or []:
        kind, options = mapping.get("type"), mapping.get("options") or {}
        result: dict[str, Any] | None = None
        if kind == "value" and value is not None:
            for key, candidate in options.items():
                try:
                    if float(key) == value:
                        result = candidate
                        break
                except ValueError:
                    continue
        elif kind == "range" and value is not None:
            lo, hi = options.get("from"), options.get("to")
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                result = options.get("result")
        elif kind == "special":
            match = options.get("match")
            if (
                (match in ("null", "null+nan") and value is None)
                or (match in ("nan", "null+nan") and value is not None and math.isnan(value))
                or (match == "true" and value == 1)
                or (match == "false" and value == 0)
            ):
                result = options.get("result")
        # old-style mappings (Grafana 7): {"type": 1, "value": "1", "text": "UP"}
        elif kind == 1 and value is not None:
            try:
                if float(mapping.get("value", "nan")) == value:
                    result = {"text": mapping.get("text")}
            except (TypeError, ValueError):
                pass
        if result:
            shown = result.get("color")
            return Mapped(result.get("text"), color(shown) if shown else None)
    return None
