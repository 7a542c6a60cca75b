"""How far back a PromQL expression reads: its range selectors, subqueries and offsets.

Enough of PromQL's syntax to find them, not a parser: strings and comments are blanked,
brackets matched, and each `[range]` or `[range:step]` attributed to the selector or
parenthesised expression before it. A range selector nested in subqueries reads its
own range plus every enclosing subquery's range, each moved back by its offset.
`@` modifiers pin a window to a fixed time; they are skipped (the window is counted as
if at the evaluation time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365 * 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_OFFSET = re.compile(r"\s*offset\s+(-?)\s*([0-9][0-9a-z.]*)", re.IGNORECASE)
_AT = re.compile(r"\s*@\s*(?:[0-9.e+-]+|start\(\s*\)|end\(\s*\))", re.IGNORECASE)
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_:]")


def parse_promql_duration(text: str) -> float | None:
    """`1h30m`, `5m`, `500ms`, or a number of seconds; None if it is neither."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos else None


@dataclass(frozen=True)
class _Window:
    start: int  # where the expression the brackets apply to starts
    open: int  # position of `[`
    range: float
    offset: float
    subquery: bool


def _blank(query: str) -> str:
    query = _STRING.sub(lambda m: " " * len(m.group(0)), query)
    return _COMMENT.sub(lambda m: " " * len(m.group(0)), query)


def _modifiers(text: str, pos: int, consumed: set[int]) -> float:
    """The offset (seconds, negative for `offset -5m`) of the `@`/`offset` modifiers at pos;
    the positions of the offsets read are added to `consumed`."""
    offset = 0.0
    while True:
        at = _AT.match(text, pos)
        if at:
            pos = at.end()
            continue
        match = _OFFSET.match(text, pos)
        if not match:
            return offset
        seconds = parse_promql_duration(match.group(2)) or 0.0
        offset += -seconds if match.group(1) else seconds
        consumed.add(match.start(2))
        pos = match.end()


def _windows(query: str) -> tuple[list[_Window], list[tuple[int, float]]]:
    """Every bracketed window, and every offset on an instant selector (position, seconds)."""
    text = _blank(query)
    opens: list[int] = []
    matching: dict[int, int] = {}  # `)` -> its `(`
    for pos, char in enumerate(text):
        if char == "(":
            opens.append(pos)
        elif char == ")" and opens:
            matching[pos] = opens.pop()
    windows = []
    consumed: set[int] = set()
    for match in re.finditer(r"\[([^\[\]]*)\]", text):
        inner = match.group(1)
        range_text, _, step = inner.partition(":")
        seconds = parse_promql_duration(range_text)
        if seconds is None:
            continue
        before = match.start() - 1
        while before >= 0 and text[before].isspace():
            before -= 1
        start = before
        if before >= 0 and text[before] == ")" and before in matching:
            start = matching[before]
            while start > 0 and _IDENT_CHAR.match(text[start - 1]):  # a function's name
                start -= 1
        offset = _modifiers(text, match.end(), consumed)
        windows.append(_Window(start, match.start(), seconds, offset, ":" in inner))
    instant_offsets = [
        (m.start(), _modifiers(text, m.start(), set())) for m in _OFFSET.finditer(text) if m.start(2) not in consumed
    ]
    return windows, instant_offsets


def lookback_seconds(query: str) -> float:
    """How far before its evaluation time the query reads samples, from its range selectors,
    subqueries and offsets (0 for an expression of instant selectors only; the lookback
    delta by which an instant selector finds its latest sample is not counted)."""
    windows, instant_offsets = _windows(query)
    subqueries = [w for w in windows if w.subquery]

    def enclosing(pos: int) -> float:
        return sum(s.range + s.offset for s in subqueries if s.start <= pos < s.open)

    reach = [w.range + w.offset + enclosing(w.open) for w in windows]
    reach += [offset + enclosing(pos) for pos, offset in instant_offsets]
    return max([0.0, *reach])


def shown(seconds: float) -> str:
    """A duration as PromQL writes it: 15m, 1h30m, 45s."""
    if seconds <= 0:
        return "0s"
    parts = []
    rest = round(seconds, 3)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if rest >= size:
            count = int(rest // size)
            parts.append(f"{count}{unit}")
            rest -= count * size
    if rest > 0:
        parts.append(f"{round(rest * 1000)}ms")
    return "".join(parts)
