"""What the assets that fetch or write a local file share: the file itself, and a download's
failures told apart into Dagster's terms (fail at once, or retry with backoff)."""

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from taxi_pipeline.assets.retries import INTERRUPTS, retry_later, stop_interrupted_run
from taxi_pipeline.lake import naming_the_file
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


# Part files (downloads and conversions being written) live in a folder of their own under the
# system temp folder (TMPDIR), one per user, named after the writing process: a process killed
# mid-write (SIGKILL, a crash) leaves its part behind, and the next step to make one removes it.
PARTS_FOLDER = "taxi_pipeline-parts"
_WRITER_PID = re.compile(r"\.pid(\d+)-")


def parts_folder() -> Path:
    """The folder of the part files of this user (created if missing)."""
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    folder = Path(tempfile.gettempdir()) / f"{PARTS_FOLDER}-{user}"
    folder.mkdir(mode=0o755, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's, or no such check here
        return True
    return True


def sweep_dead_parts(folder: Path) -> list[Path]:
    """Remove the part files in `folder` whose writing process no longer exists; the removed."""
    removed = []
    for path in folder.glob("*.part"):
        found = _WRITER_PID.search(path.name)
        if found and not _alive(int(found.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def local_part_file(prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty local file for a step to fill, readable by all like the rest of the lake, in
    `parts_folder()` (swept first of parts left by dead processes); removed when the block
    fails (whatever the reason), left to its IO manager when it succeeds."""
    folder = parts_folder()
    sweep_dead_parts(folder)
    fd, name = tempfile.mkstemp(prefix=f"{prefix}pid{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    path = Path(name)
    path.chmod(0o644)  # mkstemp makes it owner-only
    try:
        with naming_the_file(path):
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
