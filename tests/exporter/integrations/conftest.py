"""Fixtures of the integration connector tests (helpers in integration_support.py)."""

from __future__ import annotations

import sqlite3

import pytest
from integration_support import TOKENS, seed_statements


@pytest.fixture
def inventory_db(sqlite_db) -> str:
    """A SQLite inventory in the reference schema with the seed; returns its URL."""
    conn = sqlite3.connect(sqlite_db)
    for statement in seed_statements():
        conn.execute(statement)
    conn.commit()
    conn.close()
    return f"sqlite:///{sqlite_db}"


@pytest.fixture(autouse=True)
def tokens(monkeypatch):
    for kind, token in TOKENS.items():
        monkeypatch.setenv(f"TEST_{kind.upper()}_TOKEN", token)
