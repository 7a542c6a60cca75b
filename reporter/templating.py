"""The reporter's HTML pages, from the Jinja2 templates in reporter/templates/.

Autoescape is on for every template: a value is HTML-escaped unless it is Markup, and
the only Markup is the charts' SVG, drawn by matplotlib and cleaned in render_html.py,
and the dashboards of the config's `dashboards`, drawn by reporter/dashboards (which escapes
every value it draws) or embedded as PNG.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("reporter", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
