"""`taxi-pipeline`: the `dg` command line, ending a failed command with one line that says why.

`taxi-pipeline launch ...` runs `dg launch ...` in this process, `taxi-pipeline backfill ...` runs
`dagster job backfill ...`. When a command fails for a reason the pipeline describes (a setting, a
partition key, a step's `dg.Failure`, a lake file that cannot be written, a source given up on),
its last line names that reason instead of a traceback; any other error keeps its traceback. The
steps' reasons come from `remember_step_failure`, a failure hook. The partition keys Dagster does
not check itself (an empty `--partition`, backfill keys) are checked before it starts.
"""

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import click
import dagster as dg
from dagster_shared.check import CheckError

from taxi_pipeline.defs.lake.files import LakeWriteError
from taxi_pipeline.errors import SettingError, causes

# Why steps of this process failed: {one-line reason: [step keys]}, in the order they failed.
_step_failures: dict[str, list[str]] = {}


@contextmanager
def known_notices_silenced() -> Iterator[None]:
    """No notice of the Dagster 1.13.27 beta and preview features the project relies on on purpose
    (`backfill_policy`, partitioned asset checks, some raised inside Dagster itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        yield


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _trip_partitions():
    """The trip partitions of the settings of the environment."""
    from taxi_pipeline.partitions import build_trip_partitions
    from taxi_pipeline.settings import Settings

    settings = Settings.from_environment()
    return build_trip_partitions(settings.release, settings.first_month)


def _partition_line() -> str:
    """The line for partitioned assets run with no `--partition`, with how the keys read."""
    return (
        f"--partition: no partition key given, and the selected assets are partitioned. {_trip_partitions().key_form()}"
    )


def _partition_refusal(error: BaseException) -> str | None:
    """The line for partitioned assets that `dg launch --assets` (dagster 1.13.27) was given no
    `--partition` for, the only place that reads Dagster's text (a bare `CheckError`); else None."""
    if isinstance(error, CheckError) and "no '--partition' option was provided" in str(error):
        return _partition_line()
    return None


def _option_values(args: list[str], *names: str) -> list[str]:
    """The values given to the options `names` in `args`, as `--name value` or `--name=value`."""
    values = []
    for i, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in names and (equals or i + 1 < len(args)):
            values.append(value if equals else args[i + 1])
    return values


def check_partition_keys(command: str | None, args: list[str]) -> None:
    """Refuse, with the trip partitions' own `PartitionKeyError`, the keys dagster 1.13.27 does not
    check against the partitions itself: `launch --partition ''` (taken as no key: a run of
    `trips_job` without one, or a `CheckError` for `--assets`) and every key of `backfill` (checked
    against the partition names, refused without the form; `--partitions ''` selects all of them)."""
    from taxi_pipeline.partitions import PartitionKeyError

    if command == "launch":
        keys = [key for key in _option_values(args, "--partition") if not key]
    elif command == "backfill":
        keys = _option_values(args, "--from", "--to")
        for listed in _option_values(args, "--partitions"):
            keys += [key.strip() for key in listed.split(",") if key.strip()] or [""]
    else:
        keys = []
    if keys:
        partitions = _trip_partitions()
        for key in keys:
            if refused := partitions.refusal(key):
                raise PartitionKeyError(refused)


def step_failure_reason(error: BaseException | None) -> str | None:
    """Why a step failed, on one line, for the errors the pipeline describes: a `dg.Failure`'s
    description, a lake file that cannot be written, or the cause of a step's last retry with the
    number of attempts. None for any other error."""
    if isinstance(error, dg.Failure) and error.description:
        return _first_line(error.description)
    if lake_error := next((e for e in causes(error) if isinstance(e, LakeWriteError)), None):
        return _first_line(lake_error.strerror or str(lake_error))
    if isinstance(error, dg.RetryRequested) and error.__cause__ is not None:
        cause = error.__cause__
        reason = getattr(cause, "reason", None) or _first_line(str(cause)) or type(cause).__name__
        return f"{reason} (gave up after {error.max_retries + 1} attempts)"
    return None


def one_line_error(error: BaseException | None) -> str | None:
    """The line for an error a user fixes by a setting or an argument, or for a step's failure
    the pipeline describes, found anywhere in `error`'s causes; else None."""
    for cause in causes(error):
        if isinstance(cause, SettingError):
            return f"taxi_pipeline: {cause}"
        if reason := _partition_refusal(cause) or step_failure_reason(cause):
            return f"taxi_pipeline: {reason}"
    return None


@dg.failure_hook(name="one_line_failure")
def remember_step_failure(context: dg.HookContext) -> None:
    """Note why a step failed, for `taxi-pipeline`'s last line. A partitioned step of a run
    without a partition (`--job trips_job --partition ''` starts one) fails reading its partition
    key: that is said as a missing --partition."""
    reason = step_failure_reason(context.op_exception)
    if reason is None and isinstance(context.op_exception, dg.DagsterInvariantViolationError):
        tags = context.instance.get_run_by_id(context.run_id).tags
        if "dagster/partition" not in tags and "dagster/asset_partition_range_start" not in tags:
            reason = _partition_line()
    if reason is not None:
        _step_failures.setdefault(reason, []).append(context.step_key)


def main(argv: list[str] | None = None) -> int:
    """Run `dg` with `argv` (`dagster job backfill` for `backfill ...`); end a failure the pipeline
    describes with one line naming it."""
    from dagster._cli import ENV_PREFIX as DAGSTER_ENV_PREFIX
    from dagster._cli.job import job_backfill_command
    from dagster_dg_cli.cli import ENV_PREFIX, cli

    args = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in args if not arg.startswith("-")), None)
    if command == "backfill":
        run = partial(
            job_backfill_command.main,
            args=args[args.index(command) + 1 :],
            prog_name="taxi-pipeline backfill",
            auto_envvar_prefix=f"{DAGSTER_ENV_PREFIX}_JOB_BACKFILL",
        )
    else:
        run = partial(cli.main, args=args, prog_name="taxi-pipeline", auto_envvar_prefix=ENV_PREFIX)
    _step_failures.clear()
    try:
        check_partition_keys(command, args)
        with known_notices_silenced():
            run(standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:  # a prompt (backfill's) answered no, or Ctrl-C
        print("Aborted!", file=sys.stderr)
        return 1
    # A PartitionKeyError, Dagster's "Materialization failed." or "Run ... resulted in failure."
    except click.ClickException as e:
        e.show()
        for reason, steps in _step_failures.items():
            print(f"taxi_pipeline: {', '.join(steps)} failed: {reason}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        line = one_line_error(e)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
