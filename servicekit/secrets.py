"""Secrets: read from the environment or a file, held in a type that never prints its
value, and masked out of any text that may reach a log line, a metric, an API answer or
a report.

Every service reads its secrets here (integration tokens, enhancer webhook headers, the
reporter's SMTP password and webhook token), so they behave alike: read when needed (a
rotated file is picked up without a restart), one trailing newline dropped (what
`echo` and most editors leave), and a problem named by the variable or the file, never
by the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from servicekit.config import ConfigError, problem_at

# The one mask: what a secret looks like in any text we print.
MASK = "********"


class Secret:
    """A token or password that refuses to be printed: repr(), str() and f-strings show MASK.

    False when empty, like the string it holds."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that sends it (a header, a login)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)


class SecretError(ConfigError):
    """A secret named by the config cannot be read; the message names the variable or the
    file (and the reason), never a value."""


def _drop_one_newline(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


def read_secret(env: str | None = None, file: str | Path | None = None) -> Secret | None:
    """The secret in environment variable `env`, else in `file`; None when neither is named.

    One trailing newline is dropped; anything else (spaces, inner newlines) is part of the
    value. Raises SecretError naming the variable or the file.
    """
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SecretError(f"environment variable {env} is not set")
        return Secret(_drop_one_newline(value))
    if file:
        try:
            return Secret(_drop_one_newline(Path(file).read_text(encoding="utf-8")))
        except OSError as exc:
            raise SecretError(f"cannot read {file}: {exc.strerror or type(exc).__name__}") from None
        except UnicodeDecodeError:
            raise SecretError(f"cannot read {file}: not UTF-8 text") from None
    return None


_INLINE = "inline secrets are not accepted: put it in a file ({file}) or an environment variable ({env})"


def secret_setting(inline: str | None, env: str | None, file: str | None, name: str) -> Secret | None:
    """A config model's choice of `name`_env / `name`_file, checked and read (None when
    neither is set); raised from a model validator, an error names the key. An inline
    `name` is refused with a pointer to the other two."""
    if inline is not None:
        raise problem_at(name, _INLINE.format(file=f"{name}_file", env=f"{name}_env"))
    if env and file:
        raise problem_at(f"{name}_env", f"set {name}_env or {name}_file, not both")
    try:
        return read_secret(env, file)
    except SecretError as exc:
        raise problem_at(f"{name}_env" if env else f"{name}_file", str(exc)) from None


# scheme://user:password@host -> scheme://user:********@host. The password may hold a raw
# '@' (URL parsers take the last '@' of the authority) and a raw '/' (SQLAlchemy accepts one
# in database URLs); the host after it holds neither, and an '@' after a '?' is in the query.
_URL_CREDENTIALS = re.compile(
    r"""(?P<head> \b[A-Za-z][A-Za-z0-9+.-]*:// [^\s:/?#@]* : )   # scheme://user:
        [^\s@?#]* (?: @[^\s@/?#]* )*?                          # password
        @ (?= [^\s@/?#]* (?: [/?#\s] | $ ) )                    # @host, then the path or the end
    """,
    re.VERBOSE,
)


# ?token=...&password=...: query parameters that carry a credential by their name (a
# webhook's signed URL, libpq's ?password=, an API key). The value runs to the next
# parameter, fragment or white space.
SECRET_PARAMETERS = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "credentials",
    "key",
    "passwd",
    "password",
    "pwd",
    "secret",
    "sig",
    "signature",
    "sslpassword",
    "token",
    "x-amz-signature",
)
_SECRET_PARAMETER = re.compile(
    r"(?P<head>[?&;](?:" + "|".join(re.escape(name) for name in SECRET_PARAMETERS) + r")=)[^&;#\s]+",
    re.IGNORECASE,
)


def redact(text: str, *secrets: Secret | str | None) -> str:
    """`text` with every given secret, the password of any URL in it and the value of any
    credential-named query parameter (SECRET_PARAMETERS) replaced by MASK.

    Empty and None secrets are ignored, so a caller can pass what it has without checks.
    """
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", text)


def redact_url(url: str) -> str:
    """A URL as it may be shown: user:password@ -> user:********@, ?token=... masked."""
    return redact(url)
