"""Templates for action bodies, matchers and messages.

A template is any JSON value; strings in it may name fields in braces:
``{labels.NAME}`` (a label of the target), ``{value}``, ``{baseline}``, ``{rule}``.
A string that is exactly one numeric field (``"{value}"``) renders as a number, so a
JSON body can carry the value without quoting it. Only these fields exist, so a
label value from Prometheus can never reach into anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

FIELD = re.compile(r"\{([^{}]*)\}")
_LABEL_FIELD = re.compile(r"labels\.[A-Za-z_][A-Za-z0-9_]*")
_SCALAR_FIELDS = ("value", "baseline", "rule")


class TemplateError(ValueError):
    pass


class Fields(TypedDict):
    """What a template can name, for one target of one rule: render()'s keyword arguments."""

    labels: dict[str, str]
    value: float | None
    baseline: float | None
    rule: str


def unknown_fields(template: Any) -> list[str]:
    """Field names in a template that no target can ever fill (for config checks)."""
    found = []
    for text in _strings(template):
        for name in FIELD.findall(text):
            if name not in _SCALAR_FIELDS and not _LABEL_FIELD.fullmatch(name):
                found.append(name)
    return found


def regex_quote(text: str) -> str:
    """`text` as a regular expression that matches only itself: Go's regexp.QuoteMeta,
    which Alertmanager's regex matchers (RE2) read."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def render(
    template: Any,
    *,
    labels: dict[str, str],
    value: float | None,
    baseline: float | None,
    rule: str,
    escape: Callable[[str], str] | None = None,
) -> Any:
    """The template with its fields filled in; `escape` (e.g. regex_quote) is applied to
    every filled-in text, never to the template's own text, and then every field renders
    as text."""
    fields: dict[str, Any] = {"value": value, "baseline": baseline, "rule": rule}
    quote = escape or (lambda text: text)

    def lookup(name: str) -> Any:
        if name.startswith("labels."):
            label = name[len("labels.") :]
            if label not in labels:
                raise TemplateError(f"target has no label {label!r}")
            return labels[label]
        if name in fields:
            return fields[name]
        raise TemplateError(f"unknown template field {{{name}}}")

    def render_string(text: str) -> Any:
        whole = FIELD.fullmatch(text)
        if whole and whole.group(1) in ("value", "baseline") and escape is None:
            return lookup(whole.group(1))
        return FIELD.sub(lambda m: quote(_as_text(lookup(m.group(1)))), text)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return render_string(node)
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(template)


def _as_text(item: Any) -> str:
    if item is None:
        return ""
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for item in node.values():
            yield from _strings(item)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
