"""Runs of the assets as the tests make them: in process, through the `dagster` CLI in a
subprocess (a user's environment, its own DAGSTER_HOME), and what a run's events say.

Also the child programs of `support/children`, started as `python -m` modules.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from taxi_pipeline.definitions import build_trip_assets

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHILDREN = "taxi_pipeline_tests.support.children"


# The monthly chain over the course's partitions, as the default settings build it.
COURSE_TRIPS = build_trip_assets()
TRIP_ASSETS, TRIP_CHECKS = COURSE_TRIPS.assets, COURSE_TRIPS.checks


def materialize(
    resources: dict,
    partition_key: str,
    *,
    run_config: dict | None = None,
    raise_on_error: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """The four assets and the audit's checks (without which nothing is published) for one
    partition, in process, in
    `instance` (default: a new ephemeral one, which remembers no earlier run).

    A failing step does not raise unless `raise_on_error`: the result tells what failed.
    """
    assets = TRIP_ASSETS + TRIP_CHECKS
    return dg.materialize(
        assets,
        partition_key=partition_key,
        resources=resources,
        run_config=run_config,
        raise_on_error=raise_on_error,
        instance=instance,
    )


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The metadata values of an asset's (first) materialization in a run."""
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def step_failures(result_or_events) -> dict[str, str]:
    """{step key: error message} of every STEP_FAILURE."""
    events = getattr(result_or_events, "all_events", result_or_events)
    return {
        e.step_key: e.step_failure_data.error.message.strip()
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    }


def only_step_failure(result: dg.ExecuteInProcessResult) -> dg.DagsterEvent:
    """The run's one STEP_FAILURE event (a ValueError when there is none or more than one)."""
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure


def error_chain(error) -> list[str]:
    """An error's message and then its causes' (Dagster wraps user errors, e.g. in retries)."""
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return messages


def with_causes(error) -> str:
    """An error's message followed by its causes', one after another on separate lines."""
    return "\n".join(error_chain(error))


def retried_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    """The step keys of every STEP_UP_FOR_RETRY of a run, in order."""
    return [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


# Every check of one partition's run, by name: the audit of cleaned_trips and the warehouse's.
TRIP_CHECK_NAMES = [
    "schema_is_canonical",
    "month_has_rows",
    "rows_near_previous_publication",
    "rows_are_not_duplicated",
    "pickup_and_dropoff_times_present",
    "location_ids_are_taxi_zones",
    "floats_are_finite",
    "required_columns_filled",
    "trips_are_possible",
    "pickups_within_the_month",
    "fares_and_distances_plausible",
    "slice_matches_lake_file",
]


def cli_env(tmp_path: Path, source_url: str, **extra: str) -> dict[str, str]:
    """The environment of a user running the CLI: own DAGSTER_HOME, lake and warehouse in tmp."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # no first-run banner
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        TAXI_SOURCE_URL=source_url,
        TAXI_LAKE_DIR=str(tmp_path / "lake"),
        TAXI_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
    )
    env.update(extra)
    return env


def deployed_env(tmp_path: Path, source_url: str, dagster_yaml: Path | None = None) -> dict[str, str]:
    """`cli_env` with the instance config `make dev` installs (deploy/dagster.yaml, or
    `dagster_yaml`): the run queue, pools, monitoring and retries of one machine."""
    env = cli_env(tmp_path, source_url)
    shutil.copy(dagster_yaml or PROJECT_DIR / "deploy" / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    return env


# The monthly chain only: raw_trips and everything downstream of it, with their checks.
MONTHLY_CHAIN = "raw_trips*"


def materialize_command(partition_key: str, select: str = "*") -> list[str]:
    """The README's `taxi-pipeline launch` (`dg launch`, ending a failure with one line naming
    why) of every asset (or of `select`) for one partition."""
    return [str(BIN / "taxi-pipeline"), "launch", "--assets", select, "--partition", partition_key]


def dagster_materialize_command(partition_key: str, select: str = "*") -> list[str]:
    """Dagster's own `dagster asset materialize` of every asset (or of `select`) for one partition."""
    return [
        str(BIN / "dagster"),
        *("asset", "materialize", "-m", "taxi_pipeline.definitions", "--select", select, "--partition", partition_key),
    ]


def dg_command(*args: str) -> list[str]:
    """The `dg` command line of the project's venv with `args` (e.g. "check", "defs")."""
    return [str(BIN / "dg"), *args]


def taxi_pipeline_command(*args: str) -> list[str]:
    """The project's `taxi-pipeline` command line (`dg`, ending a failure with one line) with `args`."""
    return [str(BIN / "taxi-pipeline"), *args]


def dg_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with the project's venv active, as after `source .venv/bin/activate` (dg warns otherwise)."""
    return {**env, "VIRTUAL_ENV": str(BIN.parent), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}


def run_cli(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command from the project folder to its end, capturing its output as text, with the
    project's venv active (as `dg` expects)."""
    return subprocess.run(args, cwd=PROJECT_DIR, env=dg_env(env), capture_output=True, text=True, timeout=timeout)


def start_cli(args: list[str], env: dict) -> subprocess.Popen:
    """Start a command from the project folder with the project's venv active, its stderr merged
    into its stdout (a pipe)."""
    return subprocess.Popen(
        args, cwd=PROJECT_DIR, env=dg_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def child_command(name: str, *args: str) -> list[str]:
    """The command line of the child program `support/children/<name>.py` with its arguments."""
    return [sys.executable, "-m", f"{CHILDREN}.{name}", *args]


def start_child(name: str, *args: str) -> subprocess.Popen:
    """Start a child program from the project folder, its stdin, stdout and stderr as text pipes
    (a child that waits on its stdin ends when the test closes it)."""
    return subprocess.Popen(
        child_command(name, *args),
        cwd=PROJECT_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_child(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a child program from the project folder to its end, capturing its output as text."""
    return subprocess.run(child_command(name, *args), cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout)


def failure_sensor_context(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance):
    """The context `run_failure_webhook` gets for the failed run of `result`, as the daemon builds it."""
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_webhook",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


def run_records(dagster_home: Path) -> list:
    """Every run of a DAGSTER_HOME instance, with its events."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return [(r.dagster_run, instance.all_logs(r.dagster_run.run_id)) for r in instance.get_run_records()]
