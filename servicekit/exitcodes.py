"""The exit statuses of every service's command line."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the work failed: a port in use, a failing statement, a report not delivered
    CONFIG = 2  # the config, a flag or the state could not be used: nothing was done
