"""Retries with exponential backoff, full jitter, a cap, a deadline and Retry-After, on
tenacity (https://tenacity.readthedocs.io).

The caller decides what may be retried (`retryable`) and where a server's Retry-After is
(`retry_after`), most simply by raising `RetryableError` from an attempt and passing
`retryable=is_retryable, retry_after=retry_after_of`; this module decides how long to wait
and when to stop:

- before retry n (n = 1, 2, ...) the backoff is `initial x 2^(n-1)`, at most `cap`; with
  `jitter` (full jitter) a uniform draw between 0 and that;
- a Retry-After (delta-seconds or an HTTP date) is waited out, up to `max_retry_after`:
  the wait is the longer of it and the backoff;
- after `attempts` attempts the last error is raised as it was;
- with a deadline, a wait that would end past it is not started: `OutOfTime` is raised
  at once instead, carrying the last error and the wait it needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import NoReturn, TypeVar

import tenacity

T = TypeVar("T")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header as seconds from `now` (time.time() by default): delta-seconds or
    an HTTP date (RFC 9110). None when absent or unreadable; never negative."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class RetryableError(Exception):
    """One attempt that failed: what happened, whether another attempt may help (`retry`),
    and the wait the server asked for (`retry_after`, seconds, e.g. its Retry-After)."""

    def __init__(self, problem: str, *, retry: bool = True, retry_after: float | None = None):
        super().__init__(problem)
        self.retry = retry
        self.retry_after = retry_after


def is_retryable(error: Exception) -> bool:
    """For Retry.call's `retryable`: a RetryableError that allows another attempt."""
    return isinstance(error, RetryableError) and error.retry


def retry_after_of(error: Exception) -> float | None:
    """For Retry.call's `retry_after`: the wait a RetryableError carries, else None."""
    return error.retry_after if isinstance(error, RetryableError) else None


class OutOfTime(Exception):
    """The next retry would have to wait past the deadline; nothing more was tried."""

    def __init__(self, last: BaseException, wait: float):
        super().__init__(f"{last}: would need to wait {wait:.1f}s, more than the time left")
        self.last = last
        self.wait = wait


def _no_retry_after(_: BaseException) -> float | None:
    return None


@dataclass(frozen=True)
class Retry:
    """How often and how long to retry one call."""

    attempts: int  # in all, the first one included (retries + 1)
    initial: float  # backoff before the first retry, doubled for each next one
    cap: float = 60.0  # no backoff is longer
    jitter: bool = True  # full jitter: a uniform draw between 0 and the backoff
    max_retry_after: float = 60.0  # a longer Retry-After is waited out only this long

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (1 for the first), without Retry-After."""
        ceiling = min(self.cap, self.initial * 2.0 ** (retry - 1))
        return random.uniform(0.0, ceiling) if self.jitter else ceiling

    def wait(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before retry number `retry`, honouring a server's Retry-After (seconds)."""
        delay = self.backoff(retry)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[Exception], bool],
        retry_after: Callable[[Exception], float | None] = _no_retry_after,
        deadline: float | None = None,
        before_sleep: Callable[[int, Exception, float], None] | None = None,
    ) -> T:
        """`attempt()` until it returns, raises what `retryable` refuses, or the attempts
        run out (its last error is raised). `deadline` is a time.monotonic() instant;
        `before_sleep(retry, error, wait)` is told about each retry before its wait.
        Cancellation is never retried."""

        def should_retry(error: BaseException) -> bool:
            return isinstance(error, Exception) and retryable(error)

        def wait(state: tenacity.RetryCallState) -> float:
            return self.wait(state.attempt_number, retry_after(_error(state)))

        def stop(state: tenacity.RetryCallState) -> bool:
            return state.attempt_number >= self.attempts or past_deadline(state)

        def past_deadline(state: tenacity.RetryCallState) -> bool:
            return deadline is not None and state.upcoming_sleep > deadline - time.monotonic()

        def give_up(state: tenacity.RetryCallState) -> NoReturn:
            error = _error(state)
            if state.attempt_number < self.attempts:  # stopped by the deadline, not by the count
                raise OutOfTime(error, state.upcoming_sleep) from error
            raise error

        def announce(state: tenacity.RetryCallState) -> None:
            if before_sleep is not None:
                before_sleep(state.attempt_number, _error(state), state.upcoming_sleep)

        retrying = tenacity.AsyncRetrying(
            sleep=asyncio.sleep,
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(should_retry),
            before_sleep=announce,
            retry_error_callback=give_up,
        )
        return await retrying(attempt)


def _error(state: tenacity.RetryCallState) -> Exception:
    error = state.outcome.exception() if state.outcome is not None else None
    assert isinstance(error, Exception)  # only failures reach wait, stop and give-up
    return error
