"""What the assets that fetch or write a local file share: the file itself, and a download's
failures told apart into Dagster's terms (fail at once, or retry with backoff)."""

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from taxi_pipeline.assets.retries import INTERRUPTS, retry_later, stop_interrupted_run
from taxi_pipeline.resources.source import MonthNotPublishedError, SourceRejectedError, TripSourceResource
from taxi_pipeline.settings import SettingError
from taxi_pipeline.sources import MonthNotOfferedError

DOWNLOAD_MAX_RETRIES = 3
# A retry will not change these: the source cannot have the month or has not published it, the
# source refuses, a setting is wrong.
PERMANENT_SOURCE_ERRORS: tuple[type[Exception], ...] = (
    MonthNotOfferedError,
    MonthNotPublishedError,
    SourceRejectedError,
    SettingError,
)


@contextmanager
def local_part_file(prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty local file for a step to fill, readable by all like the rest of the lake;
    removed when the block fails (whatever the reason), left to its IO manager when it succeeds."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(fd)
    path = Path(name)
    path.chmod(0o644)  # mkstemp makes it owner-only
    try:
        yield path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@contextmanager
def download_failures(
    context: dg.AssetExecutionContext,
    source: TripSourceResource,
    permanent: tuple[type[Exception], ...] = PERMANENT_SOURCE_ERRORS,
    describe: Callable[[Exception], str] = str,
) -> Iterator[None]:
    """Around a download: an error in `permanent` fails the step at once with `describe(error)`;
    any other (5xx, resets, timeouts, a full temp disk) is transient and retried with backoff
    from the source's `retry_delay_seconds`: about 1, 3 and 7 times it, each failed attempt
    logged at WARNING with its cause and delay. An interrupt (Ctrl-C, Terminate) stops the run,
    retried neither here nor by the instance's run retries."""
    try:
        yield
    except permanent as e:
        raise dg.Failure(description=describe(e), allow_retries=False) from None
    except INTERRUPTS as e:
        stop_interrupted_run(context, e)
    except Exception as e:
        # The delay's base is a setting (TAXI_SOURCE_RETRY_DELAY), read when the definitions
        # load, so it cannot be an asset's retry_policy, fixed when the module is imported.
        retry_later(context, e, source.retry_delay_seconds, DOWNLOAD_MAX_RETRIES)
