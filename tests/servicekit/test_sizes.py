"""Sizes as Prometheus spells them (Go's units.Base2Bytes)."""

from __future__ import annotations

import pytest

from servicekit.config import parse_byte_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (1, 1),
        ("512", 512),
        ("512B", 512),
        ("64KB", 64 * 1024),
        ("64KiB", 64 * 1024),
        ("10MB", 10 * 1024 * 1024),
        ("10 MiB", 10 * 1024 * 1024),
        ("2GB", 2 * 1024**3),
    ],
)
def test_sizes(text, expected):
    assert parse_byte_size(text) == expected


@pytest.mark.parametrize("text", ["", "0", 0, -5, "10 parsecs", "1.5MB", "MB", True, None, "10mb"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(ValueError):
        parse_byte_size(text)
