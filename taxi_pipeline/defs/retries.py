"""Retries of a step that met a transient error, as Dagster `RetryRequested`s with exponential
backoff and jitter, their delays rounded to 0.1 s, and one warning line per failed attempt
naming the cause (instead of the cause's traceback on every attempt).

An interrupt (Ctrl-C, SIGTERM, Terminate) is never retried: not by the step, even when a library
turned it into an ordinary error (DuckDB raises `RuntimeError('Query interrupted')` caused by
it), nor as a whole run by the instance's run retries (deploy/dagster.yaml)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import dagster as dg
from dagster._core.storage.tags import MAX_RETRIES_TAG

INTERRUPTS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)


def retry_delay(base_seconds: float, retry_number: int) -> float:
    """Seconds to wait before retry `retry_number` (1 for the first): about 1, 3 and 7 times
    `base_seconds` (exponential, ± `base_seconds` of jitter), rounded to 0.1 s."""
    policy = dg.RetryPolicy(delay=base_seconds, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    return round(max(0.0, policy.calculate_delay(retry_number)), 1)


def one_line(error: BaseException) -> str:
    """An error's message on one line (its first), or its type's name when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def interrupt_behind(error: BaseException) -> BaseException | None:
    """The interrupt that `error` is or was raised from (its causes and contexts), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, INTERRUPTS):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def stop_interrupted_run(context: dg.AssetExecutionContext, interrupt: BaseException) -> NoReturn:
    """End the step with `interrupt`, and tag the run so the instance's run retries do not
    launch it again (an interrupted run fails as UNEXPECTED_TERMINATION, which they retry)."""
    context.log.warning("interrupted: the run stops here and is not retried")
    try:
        context.instance.add_run_tags(context.run.run_id, {MAX_RETRIES_TAG: "0"})
    except Exception as e:  # a run without an instance's storage (in-process tests) still stops
        context.log.warning(f"could not tag the run {MAX_RETRIES_TAG}=0: {one_line(e)}")
    raise interrupt


def retry_later(context: dg.AssetExecutionContext, error: Exception, base_seconds: float, max_retries: int) -> NoReturn:
    """Raise a request to run the step again after `retry_delay`, logging the attempt, the
    cause and the delay at WARNING. The attempts before the last drop the cause from the
    request (it is in the warning); the last keeps it, so the step's failure names it. An error
    raised from an interrupt stops the run instead (`stop_interrupted_run`)."""
    interrupt = interrupt_behind(error)
    if interrupt is not None:
        stop_interrupted_run(context, interrupt)
    attempt, attempts = context.retry_number + 1, max_retries + 1
    seconds = retry_delay(base_seconds, attempt)
    if context.retry_number < max_retries:
        context.log.warning(f"attempt {attempt} of {attempts} failed: {one_line(error)}; retrying in {seconds:g} s")
        raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds) from None
    context.log.warning(f"attempt {attempt} of {attempts} failed: {one_line(error)}; no retries left")
    raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds) from error


@contextmanager
def stops_when_interrupted(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Around a step's body that is not retried: an interrupt, as it is or turned into an
    ordinary error by a library, stops the run without a run retry (`stop_interrupted_run`)."""
    try:
        yield
    except INTERRUPTS as e:
        stop_interrupted_run(context, e)
    except Exception as e:
        interrupt = interrupt_behind(e)
        if interrupt is None:
            raise
        stop_interrupted_run(context, interrupt)


@contextmanager
def retried_on_error(context: dg.AssetExecutionContext, base_seconds: float, max_retries: int) -> Iterator[None]:
    """Around a step's body: a `dg.Failure` (a permanent error the body told apart) fails the
    step as it is; an interrupt stops the run; any other error is transient and retried
    (`retry_later`)."""
    try:
        yield
    except dg.Failure:
        raise
    except INTERRUPTS as e:
        stop_interrupted_run(context, e)
    except Exception as e:
        retry_later(context, e, base_seconds, max_retries)
