"""What the exporter, the enhancer and the reporter share: config loading and its one-line
errors, the web config (TLS, basic auth) and HTTP server limits, logging, the Prometheus
query client and its config section, secrets and their redaction, retries with backoff
and Retry-After, database URLs.

The services import from here and never from each other (docs/architecture.md; a test
checks the import graph).
"""
