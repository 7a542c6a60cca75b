"""redact_url: the one way a URL that may hold credentials is shown."""

from __future__ import annotations

import pytest

from servicekit.secrets import MASK, redact, redact_url


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://admin:s3cret@prometheus:9090", f"http://admin:{MASK}@prometheus:9090"),
        ("postgresql://u:p%40ss@db/inv?sslmode=require", f"postgresql://u:{MASK}@db/inv?sslmode=require"),
        (
            "postgresql://u@db/inv?password=pw-9&sslmode=require",
            f"postgresql://u@db/inv?password={MASK}&sslmode=require",
        ),
        ("https://hooks.example.org/x?token=abc123", f"https://hooks.example.org/x?token={MASK}"),
        ("https://h/x?a=1&ACCESS_TOKEN=abc#frag", f"https://h/x?a=1&ACCESS_TOKEN={MASK}#frag"),
        ("https://h/x?api_key=k1;sig=s2", f"https://h/x?api_key={MASK};sig={MASK}"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("https://h/x?monkey=1&tokens=2", "https://h/x?monkey=1&tokens=2"),  # only whole names
    ],
)
def test_redact_url_masks_passwords_and_credential_parameters(url, shown):
    assert redact_url(url) == shown
    assert redact(f"POST {url} failed") == f"POST {shown} failed"
