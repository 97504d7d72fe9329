"""How a step's errors end it: a `PermanentError` fails it at once, an interrupt stops the run for
good, any other error is retried with Dagster's backoff and jitter (rounded to 0.1 s), raised as
`dg.RetryRequested` by the step: a `dg.RetryPolicy` cannot keep these messages (docs/failure-behaviour.md)."""

from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from typing import NoReturn

import dagster as dg
from dagster._core.storage.tags import MAX_RETRIES_TAG

from taxi_pipeline.errors import PermanentError, causes

INTERRUPTS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)


@contextmanager
def _ended(context: dg.AssetExecutionContext, describe, retry: Callable[[Exception], NoReturn] | None):
    try:
        yield
    except PermanentError as e:
        raise dg.Failure(description=describe(e), allow_retries=False) from None
    except (*INTERRUPTS, Exception) as e:
        # An interrupt, or an error raised from one (DuckDB raises `RuntimeError('Query interrupted')`).
        if interrupt := next((cause for cause in causes(e) if isinstance(cause, INTERRUPTS)), None):
            context.log.warning("interrupted: the run stops here and is not retried")
            # An interrupted run fails as UNEXPECTED_TERMINATION, which the instance's run retries launch again.
            context.instance.add_run_tags(context.run.run_id, {MAX_RETRIES_TAG: "0"})
            raise interrupt from None
        if retry is None or isinstance(e, dg.Failure):
            raise
        retry(e)


def not_retried(
    context: dg.AssetExecutionContext, describe: Callable[[Exception], str] = str
) -> AbstractContextManager:
    """Around a step's body: a `PermanentError` fails the step with `describe(error)` as its
    description, an interrupt stops the run, any other error fails the step as it is."""
    return _ended(context, describe, None)


def retried_on_error(
    context: dg.AssetExecutionContext,
    base_seconds: float,
    max_retries: int,
    describe: Callable[[Exception], str] = str,
) -> AbstractContextManager:
    """As `not_retried`, but any other error is retried after about 1, 3 and 7 times
    `base_seconds` (± `base_seconds`), with a warning per failed attempt naming its cause."""

    def retry(error: Exception) -> NoReturn:
        attempt, attempts = context.retry_number + 1, max_retries + 1
        policy = dg.RetryPolicy(delay=base_seconds, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
        seconds = round(max(0.0, policy.calculate_delay(attempt)), 1)
        last = attempt > max_retries
        then = "no retries left" if last else f"retrying in {seconds:g} s"
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        context.log.warning(f"attempt {attempt} of {attempts} failed: {first_line}; {then}")
        # The last request keeps its cause: the step's failure and the command line's last line name it.
        raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds) from (error if last else None)

    return _ended(context, describe, retry)
