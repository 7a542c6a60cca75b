"""inventory-enhancer: baseline- and cooldown-governed automated actions driven by Prometheus."""

__version__ = "0.1.0"
