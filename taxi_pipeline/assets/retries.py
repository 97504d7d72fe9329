"""Retries of a step that met a transient error, as Dagster `RetryRequested`s with exponential
backoff and jitter, their delays rounded to 0.1 s, and one warning line per failed attempt
naming the cause (instead of the cause's traceback on every attempt)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import dagster as dg


def retry_delay(base_seconds: float, retry_number: int) -> float:
    """Seconds to wait before retry `retry_number` (1 for the first): about 1, 3 and 7 times
    `base_seconds` (exponential, ± `base_seconds` of jitter), rounded to 0.1 s."""
    policy = dg.RetryPolicy(delay=base_seconds, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    return round(max(0.0, policy.calculate_delay(retry_number)), 1)


def one_line(error: BaseException) -> str:
    """An error's message on one line (its first), or its type's name when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def retry_later(context: dg.AssetExecutionContext, error: Exception, base_seconds: float, max_retries: int) -> NoReturn:
    """Raise a request to run the step again after `retry_delay`, logging the attempt, the
    cause and the delay at WARNING. The attempts before the last drop the cause from the
    request (it is in the warning); the last keeps it, so the step's failure names it."""
    attempt, attempts = context.retry_number + 1, max_retries + 1
    seconds = retry_delay(base_seconds, attempt)
    if context.retry_number < max_retries:
        context.log.warning(f"attempt {attempt} of {attempts} failed: {one_line(error)}; retrying in {seconds:g} s")
        raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds) from None
    context.log.warning(f"attempt {attempt} of {attempts} failed: {one_line(error)}; no retries left")
    raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds) from error


@contextmanager
def retried_on_error(context: dg.AssetExecutionContext, base_seconds: float, max_retries: int) -> Iterator[None]:
    """Around a step's body: a `dg.Failure` (a permanent error the body told apart) fails the
    step as it is; any other error is transient and retried (`retry_later`)."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as e:
        retry_later(context, e, base_seconds, max_retries)
