"""Grafana dashboards of inventory-monitor, generated from Python (grafana/generate.py)."""
