"""inventory-monitor's period reports, computed from Prometheus history."""

__version__ = "0.1.0"
