"""Database URLs as the services hand them to SQLAlchemy."""

from __future__ import annotations


def with_psycopg(url: str) -> str:
    """A postgresql:// (or postgres://) URL on the psycopg 3 driver, which we install
    (SQLAlchemy's default for it is psycopg2); any other URL, a driver named, as it is."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
