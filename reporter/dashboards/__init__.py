"""Grafana dashboards (grafana/dashboards/*.json) rendered without Grafana: HTML with inline
SVG, and PNG through headless Chromium. See docs/dashboards-rendering.md."""

from reporter.dashboards.render import (
    RenderedDashboard,
    RenderedPanel,
    add_pngs,
    find_dashboard,
    load_dashboard,
    render_dashboard,
    render_dashboards,
    render_dashboards_sync,
)

__all__ = [
    "RenderedDashboard",
    "RenderedPanel",
    "add_pngs",
    "find_dashboard",
    "load_dashboard",
    "render_dashboard",
    "render_dashboards",
    "render_dashboards_sync",
]
