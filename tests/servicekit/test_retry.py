"""servicekit.retry: backoff, full jitter, the cap, Retry-After (seconds and HTTP dates), the
deadline, and who decides what is retried."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate

import pytest

from servicekit.retry import OutOfTime, Retry, RetryableError, is_retryable, parse_retry_after, retry_after_of

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),  # never negative
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),  # IMF-fixdate
        ("Thursday, 01-Jan-26 00:02:00 GMT", 120.0),  # RFC 850, still allowed
        ("Thu Jan  1 00:01:00 2026", 60.0),  # asctime
        ("Thu, 01 Jan 2026 01:00:00 +0100", 0.0),  # a zone other than GMT: the same instant
        ("Thu, 01 Jan 2026 00:00:10 -0000", 10.0),  # no zone given: UTC
        ("Wed, 31 Dec 2025 23:59:00 GMT", 0.0),  # in the past: no wait
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header, seconds):
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "inf", "nan", "1e999", "Thu, 99 Foo 2026"])
def test_an_absent_or_unreadable_retry_after_is_none(header):
    assert parse_retry_after(header, now=NOW) is None


def test_an_http_date_is_measured_from_the_clock_by_default():
    header = formatdate(time.time() + 30, usegmt=True)
    assert 28.0 <= parse_retry_after(header) <= 30.0


def test_backoff_doubles_up_to_the_cap():
    retry = Retry(attempts=10, initial=0.5, cap=5.0, jitter=False)
    assert [retry.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_full_jitter_draws_between_zero_and_the_capped_backoff():
    random.seed(15)
    retry = Retry(attempts=10, initial=0.5, cap=3.0)
    for n, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (8, 3.0)]:
        draws = [retry.backoff(n) for _ in range(2000)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # spread over the whole range, not only its upper half
        assert min(draws) < 0.05 * ceiling and max(draws) > 0.95 * ceiling
        assert sum(draws) / len(draws) == pytest.approx(ceiling / 2, rel=0.1)


def test_retry_after_is_waited_out_up_to_its_cap():
    retry = Retry(attempts=5, initial=1.0, jitter=False, max_retry_after=60.0)
    assert retry.wait(1, None) == 1.0
    assert retry.wait(1, 7.0) == 7.0  # the server asked for longer
    assert retry.wait(3, 2.0) == 4.0  # never shorter than our own backoff
    assert retry.wait(1, 3600.0) == 60.0  # at most the cap
    jittered = Retry(attempts=5, initial=1.0, max_retry_after=10.0)
    assert all(jittered.wait(1, 7.0) == 7.0 for _ in range(100))


class Flaky(Exception):
    def __init__(self, text: str, retry_after: float | None = None, retry: bool = True):
        super().__init__(text)
        self.retry_after, self.retry = retry_after, retry


def failing(*errors: Exception, result: object = "ok"):
    calls: list[float] = []

    async def attempt() -> object:
        calls.append(time.monotonic())
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return attempt, calls


def _retryable(error: Exception) -> bool:
    return isinstance(error, Flaky) and error.retry


async def test_retries_until_success_and_reports_each_wait():
    attempt, calls = failing(Flaky("one"), Flaky("two"))
    told: list[tuple[int, str, float]] = []
    retry = Retry(attempts=3, initial=0.02, jitter=False)
    result = await retry.call(attempt, retryable=_retryable, before_sleep=lambda n, e, w: told.append((n, str(e), w)))
    assert result == "ok" and len(calls) == 3
    assert told == [(1, "one", 0.02), (2, "two", 0.04)]
    assert calls[1] - calls[0] >= 0.02 and calls[2] - calls[1] >= 0.04


async def test_the_last_error_is_raised_as_it_was_after_the_last_attempt():
    errors = [Flaky("first"), Flaky("second"), Flaky("third")]
    attempt, calls = failing(*errors)
    with pytest.raises(Flaky) as caught:
        await Retry(attempts=3, initial=0.001).call(attempt, retryable=_retryable)
    assert caught.value is errors[2] and len(calls) == 3


async def test_what_the_caller_calls_final_is_raised_at_once():
    attempt, calls = failing(Flaky("rejected", retry=False))
    with pytest.raises(Flaky, match="rejected"):
        await Retry(attempts=5, initial=0.001).call(attempt, retryable=_retryable)
    assert len(calls) == 1
    attempt, calls = failing(KeyError("a bug"))  # anything else is not ours to retry either
    with pytest.raises(KeyError):
        await Retry(attempts=5, initial=0.001).call(attempt, retryable=_retryable)
    assert len(calls) == 1


async def test_one_attempt_means_no_retry():
    attempt, calls = failing(Flaky("once"))
    with pytest.raises(Flaky):
        await Retry(attempts=1, initial=0.001).call(attempt, retryable=_retryable)
    assert len(calls) == 1


async def test_retry_after_replaces_a_shorter_backoff():
    attempt, calls = failing(Flaky("429", retry_after=0.3))
    await Retry(attempts=2, initial=0.001).call(
        attempt, retryable=_retryable, retry_after=lambda e: getattr(e, "retry_after", None)
    )
    assert calls[1] - calls[0] >= 0.3


async def test_retry_after_as_an_http_date_is_honoured():
    # an HTTP date has whole seconds: the next one but one is 1 to 2 s away
    when = datetime.fromtimestamp(int(time.time()) + 2, tz=UTC)
    header = format_datetime(when, usegmt=True)
    attempt, calls = failing(Flaky("503"))
    await Retry(attempts=2, initial=0.001).call(
        attempt, retryable=_retryable, retry_after=lambda e: parse_retry_after(header)
    )
    waited = calls[1] - calls[0]
    assert 1.0 <= waited <= 2.2 and time.time() >= when.timestamp() - 0.05


async def test_a_wait_past_the_deadline_is_not_started():
    error = Flaky("429", retry_after=30.0)
    attempt, calls = failing(error)
    started = time.monotonic()
    with pytest.raises(OutOfTime) as caught:
        await Retry(attempts=5, initial=0.001).call(
            attempt,
            retryable=_retryable,
            deadline=time.monotonic() + 1.0,
            retry_after=lambda e: getattr(e, "retry_after", None),
        )
    assert time.monotonic() - started < 0.5 and len(calls) == 1
    assert caught.value.last is error and caught.value.wait == 30.0
    assert str(caught.value) == "429: would need to wait 30.0s, more than the time left"


async def test_waits_that_fit_before_the_deadline_are_taken():
    attempt, calls = failing(Flaky("a"), Flaky("b"))
    assert (
        await Retry(attempts=3, initial=0.01, jitter=False).call(
            attempt, retryable=_retryable, deadline=time.monotonic() + 5.0
        )
        == "ok"
    )
    assert len(calls) == 3


async def test_cancellation_is_never_retried():
    calls = 0

    async def slow() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)

    task = asyncio.ensure_future(Retry(attempts=5, initial=0.001).call(slow, retryable=lambda e: True))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == 1


async def test_cancellation_during_a_wait_ends_the_retries():
    attempt, calls = failing(Flaky("x"), Flaky("y"))
    task = asyncio.ensure_future(Retry(attempts=3, initial=10.0, jitter=False).call(attempt, retryable=_retryable))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(calls) == 1


async def test_retryable_error_says_whether_and_when_to_retry():
    assert is_retryable(RetryableError("503")) and retry_after_of(RetryableError("503")) is None
    assert not is_retryable(RetryableError("400", retry=False))
    assert retry_after_of(RetryableError("429", retry_after=7.0)) == 7.0
    assert not is_retryable(KeyError("a bug")) and retry_after_of(KeyError("a bug")) is None
    final = RetryableError("rejected", retry=False)
    attempt, calls = failing(RetryableError("429", retry_after=0.3), final)
    with pytest.raises(RetryableError) as caught:
        await Retry(attempts=5, initial=0.001).call(attempt, retryable=is_retryable, retry_after=retry_after_of)
    assert caught.value is final and str(final) == "rejected"
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.3
