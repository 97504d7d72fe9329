"""One line, not a traceback, for the errors a user fixes with a setting or an argument."""

import sys

import dagster as dg

from taxi_pipeline.settings import SettingError

# How the loaded code location's partition keys read; set once its partitions are known.
_partition_hint = "keys read color|YYYY-MM-01, e.g. green|2020-04-01"


def describe_partitions(hint: str) -> None:
    """Make a bad --partition's line say how this code location's keys read (`hint`)."""
    global _partition_hint
    _partition_hint = hint


def one_line_error(error: BaseException | None) -> str | None:
    """The line to show for an error the user fixes by a setting or an argument (found anywhere
    in its chain of causes), else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, SettingError):
            return f"taxi_pipeline: {error}"
        if isinstance(error, dg.DagsterInvalidSubsetError) and "partition key" in str(error):
            return f"taxi_pipeline: --partition: {error} Partition {_partition_hint}."
        error = error.__cause__ or error.__context__
    return None


def install_one_line_errors() -> None:
    """Make an uncaught setting error (or a bad --partition) end a command-line process with one
    line naming the setting instead of a traceback; any other error keeps its traceback."""
    previous = sys.excepthook
    if getattr(previous, "taxi_pipeline", False):
        return

    def excepthook(kind, value, traceback):
        line = one_line_error(value)
        if line is None:
            previous(kind, value, traceback)
        else:
            print(line, file=sys.stderr)

    excepthook.taxi_pipeline = True
    sys.excepthook = excepthook
