"""One line, not a traceback, for the errors a user fixes with a setting or an argument, and
one last line naming why a command-line run failed (a source that cannot be reached, a
permanent `dg.Failure`) after Dagster's own output."""

import atexit
import sys
from pathlib import Path

import dagster as dg
from dagster_shared.check import CheckError

from taxi_pipeline.defs.lake.files import LakeWriteError
from taxi_pipeline.settings import SettingError

# How the loaded code location's partition keys read; set once its partitions are known.
_partition_hint = "keys read color|YYYY-MM-01, e.g. green|2020-04-01"
# Why steps of this process failed: {one-line reason: [step keys]}, in the order they failed.
_step_failures: dict[str, list[str]] = {}
_printed: set[str] = set()
# The tags of a run that has a partition or a range of them.
_PARTITION_TAGS = ("dagster/partition", "dagster/asset_partition_range_start")


def describe_partitions(hint: str) -> None:
    """Make a bad --partition's line say how this code location's keys read (`hint`)."""
    global _partition_hint
    _partition_hint = hint


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _no_partition_line() -> str:
    """The line for partitioned assets run without a partition key."""
    return (
        "--partition: no partition key given (an empty key is none), and the selected assets are partitioned. "
        f"Partition {_partition_hint}."
    )


def _is_missing_partition(error: BaseException) -> bool:
    """Whether `error` is `dagster asset materialize`'s (and `dg launch --assets`') refusal of
    partitioned assets without a partition key: an empty `--partition ''` counts as none. Dagster
    raises it as a bare `CheckError`, told apart from its other checks only by its text."""
    return isinstance(error, CheckError) and "'--partition'" in str(error)


def _lake_write_error(error: BaseException | None) -> LakeWriteError | None:
    """The `LakeWriteError` in `error`'s chain of causes (Dagster wraps an IO manager's error)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, LakeWriteError):
            return error
        error = error.__cause__ or error.__context__
    return None


def step_failure_reason(error: BaseException | None) -> str | None:
    """Why a step failed, on one line, for the errors this project tells apart: a `dg.Failure`'s
    description (a permanent error: the month is not published, a wrong file), a lake file that
    cannot be written (a full disk: the path and the cause), or the cause of the last of a step's
    retries (`RetryRequested` raised from it) with the number of attempts. None for any other
    error, which keeps its traceback."""
    if isinstance(error, dg.Failure) and error.description:
        return _first_line(error.description)
    if (lake_error := _lake_write_error(error)) is not None:
        return _first_line(lake_error.strerror or str(lake_error))
    if isinstance(error, dg.RetryRequested) and error.__cause__ is not None:
        cause = error.__cause__
        reason = getattr(cause, "reason", None) or _first_line(str(cause)) or type(cause).__name__
        return f"{reason} (gave up after {error.max_retries + 1} attempts)"
    return None


def one_line_error(error: BaseException | None) -> str | None:
    """The line to show for an error the user fixes by a setting or an argument, or for a
    step's failure this project describes (found anywhere in its chain of causes), else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, SettingError):
            return f"taxi_pipeline: {error}"
        if isinstance(error, dg.DagsterInvalidSubsetError) and "partition key" in str(error):
            return f"taxi_pipeline: --partition: {error} Partition {_partition_hint}."
        if isinstance(error, dg.DagsterUnknownPartitionError):  # `dg launch --job`'s bad key
            return f"taxi_pipeline: --partition: {error} Partition {_partition_hint}."
        if _is_missing_partition(error):
            return f"taxi_pipeline: {_no_partition_line()}"
        if reason := step_failure_reason(error):
            return f"taxi_pipeline: {reason}"
        error = error.__cause__ or error.__context__
    return None


@dg.failure_hook(name="one_line_failure")
def remember_step_failure(context: dg.HookContext) -> None:
    """Note why a step failed (`step_failure_reason`), for the line a command line ends with. A
    partitioned step of a run without a partition (`dg launch --job trips_job --partition ''`
    starts one) fails reading its partition key: that is said as a missing --partition."""
    reason = step_failure_reason(context.op_exception)
    if reason is None and isinstance(context.op_exception, dg.DagsterInvariantViolationError):
        tags = context.instance.get_run_by_id(context.run_id).tags
        if not any(tag in tags for tag in _PARTITION_TAGS):
            reason = _no_partition_line()
    if reason is not None:
        _step_failures.setdefault(reason, []).append(context.step_key)


def step_failure_lines() -> list[str]:
    """One line per reason steps of this process failed for, naming the steps: the last lines
    a command line prints, after Dagster's `Error: Materialization failed.`."""
    return [f"taxi_pipeline: {', '.join(steps)} failed: {reason}" for reason, steps in _step_failures.items()]


def _is_dagster_command_line() -> bool:
    """Whether this process is the `dagster` command line (a console script or `python -m
    dagster`), not a test runner or a notebook that loaded the definitions."""
    main = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return main.name in ("dagster", "dg") or (main.name == "__main__.py" and main.parent.name == "dagster")


def _print_step_failures() -> None:
    if not _is_dagster_command_line():
        return
    for line in step_failure_lines():
        if line not in _printed:
            print(line, file=sys.stderr)


def install_one_line_errors() -> None:
    """Make an uncaught setting error (or a bad --partition) end a command-line process with one
    line naming the setting instead of a traceback, and a process whose steps failed for a
    reason this project describes end with that reason; any other error keeps its traceback.
    (`dagster asset materialize` ends a failed run with click's `Error: Materialization
    failed.` and exit status 1, not an exception: the reasons are printed when the process exits.)"""
    previous = sys.excepthook
    if getattr(previous, "taxi_pipeline", False):
        return

    def excepthook(kind, value, traceback):
        line = one_line_error(value)
        if line is None:
            previous(kind, value, traceback)
        else:
            _printed.add(line)
            print(line, file=sys.stderr)

    excepthook.taxi_pipeline = True
    sys.excepthook = excepthook
    atexit.register(_print_step_failures)
