"""The command lines the README leads with, `dg` and the project's `taxi-pipeline` (`dg` ending a
failure with one line naming why), run as a user runs them from the project folder with the
project's venv active, against the bundled mirror."""

import json
import re

import dagster as dg
import pytest

from taxi_pipeline_tests.support.runs import (
    BIN,
    cli_env,
    dagster_materialize_command,
    dg_command,
    dg_env,
    run_cli,
    taxi_pipeline_command,
)

# What Dagster's warnings look like on a terminal: "<file>:<line>: SupersessionWarning: ...".
WARNING_LINE = re.compile(r"\b(\w*Warning): ")
PROJECT_WARNING_LINE = re.compile(r"/taxi_pipeline/[\w/]+\.py:\d+: (\w*Warning): ")


@pytest.fixture
def user_env(tmp_path, release_url):
    """A user's environment with the project's venv active: own DAGSTER_HOME, lake and DuckDB in tmp."""
    return dg_env(cli_env(tmp_path, release_url))


def warnings_in(output: str) -> list[str]:
    """The warning categories printed in a command's output, in order."""
    return WARNING_LINE.findall(output)


def project_warnings_in(output: str) -> list[str]:
    """The warning categories printed in a command's output that the project's own code raised."""
    return PROJECT_WARNING_LINE.findall(output)


@pytest.mark.cli
def test_dg_check_defs_loads_the_code_location(user_env):
    done = run_cli(dg_command("check", "defs"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "All definitions loaded successfully." in done.stdout + done.stderr
    assert warnings_in(done.stdout + done.stderr) == []


@pytest.mark.cli
def test_dg_list_defs_names_the_assets_jobs_and_automation(user_env):
    done = run_cli(dg_command("list", "defs", "--json"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)
    assert {asset["asset_key"] for asset in listed["assets"]} == {
        "raw_trips",
        "cleaned_trips",
        "lake_trips_parquet",
        "warehouse_trips",
        "taxi_zones",
        "trips_per_month",
    }
    assert {job["name"] for job in listed["jobs"]} == {"trips_job", "zones_job"}
    assert [(s["name"], s["cron_schedule"]) for s in listed["schedules"]] == [("monthly_trips_schedule", "0 5 1 * *")]
    assert {sensor["name"] for sensor in listed["sensors"]} == {
        "new_month_sensor",
        "republished_month_sensor",
        "run_failure_webhook",
        "trips_per_month_automation",
    }


def only_run(env: dict) -> dg.DagsterRun:
    """The one run recorded in the instance of `env`'s DAGSTER_HOME."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [record] = instance.get_run_records()
        return record.dagster_run


def warehouse_slice_rows(env: dict) -> tuple[str, int]:
    """(partition, slice_rows) of the latest `warehouse_trips` materialization in `env`'s instance."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("warehouse_trips"))
        materialization = event.asset_materialization
        return materialization.partition, materialization.metadata["slice_rows"].value


@pytest.mark.cli
def test_taxi_pipeline_launch_of_the_readmes_assets_partition_is_recorded_without_warnings(user_env):
    done = run_cli(taxi_pipeline_command("launch", "--assets", "*", "--partition", "green|2020-04-01"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    assert warnings_in(done.stdout + done.stderr) == []
    run = only_run(user_env)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == "green|2020-04-01"
    assert warehouse_slice_rows(user_env) == ("green|2020-04-01", 35_612)


@pytest.mark.cli
def test_dg_launch_of_trips_job_is_a_run_of_the_job(user_env):
    done = run_cli(dg_command("launch", "--job", "trips_job", "--partition", "fhv|2019-01-01"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    # Plain `dg` shows Dagster's notices of its own beta features; none comes from the project's code.
    assert project_warnings_in(done.stdout + done.stderr) == []
    run = only_run(user_env)
    assert (run.job_name, run.status, run.tags["dagster/partition"]) == (
        "trips_job",
        dg.DagsterRunStatus.SUCCESS,
        "fhv|2019-01-01",
    )
    assert warehouse_slice_rows(user_env) == ("fhv|2019-01-01", 18)


@pytest.mark.cli
def test_dagster_asset_materialize_prints_only_dagsters_own_notices(user_env):
    done = run_cli(dagster_materialize_command("fhv|2020-01-01"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    # Dagster's CLI says once, before the project loads, that `dg launch` supersedes the command;
    # nothing of the project's own code adds a warning.
    assert warnings_in(done.stdout + done.stderr)[0] == "SupersessionWarning"
    assert project_warnings_in(done.stdout + done.stderr) == []
    assert "Use 'dg launch --assets <selection>' instead." in done.stderr


# Runs each command line of argv[1] (a JSON list) in this one process as its console script would
# (`dg`, `dagster`, `taxi-pipeline`: an uncaught exception printed as Python prints it), and prints
# [[exit code, stdout, stderr], ...] as JSON: one Python start and one load of the code location
# for them all, instead of one for each.
EACH_IN_ONE_PROCESS = """
import contextlib, io, json, sys, traceback
from importlib.metadata import entry_points

scripts = {script.name: script for script in entry_points(group="console_scripts")}
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = argv
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = scripts[argv[0]].load()()
        except SystemExit as exit:
            code = exit.code
        except Exception:
            traceback.print_exc()
            code = 1
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""

# Each command and flag that takes a partition key, up to the key.
KEY_COMMANDS = {
    "dg launch --job": ["dg", "launch", "--job", "trips_job", "--partition"],
    "dg launch --assets": ["dg", "launch", "--assets", "*", "--partition"],
    "dagster asset materialize": [
        *("dagster", "asset", "materialize", "-m", "taxi_pipeline.definitions", "--select", "*", "--partition")
    ],
    "taxi-pipeline launch --job": ["taxi-pipeline", "launch", "--job", "trips_job", "--partition"],
    "taxi-pipeline launch --assets": ["taxi-pipeline", "launch", "--assets", "*", "--partition"],
    "taxi-pipeline backfill": [
        *("taxi-pipeline", "backfill", "-m", "taxi_pipeline.definitions", "-j", "trips_job", "--noprompt"),
        "--partitions",
    ],
}
BAD_KEYS = {"unknown": "green|2030-01-01", "malformed": "green-2020-04", "color": "purple|2020-04-01", "empty": ""}
RANGE = (
    "Months run 2019-01..2021-07 for yellow, green, fhv (TAXI_SOURCE=course); "
    "the form is color|YYYY-MM-01, e.g. yellow|2021-07-01."
)
WHY = {
    "unknown": "2030-01 is after the last month",
    "malformed": "it is not of the form color|YYYY-MM-01",
    "color": "purple is not one of the colors",
    "empty": "the key is empty",
}
REFUSALS = {
    kind: f"Error: {key!r} is not a partition of the trip assets: {WHY[kind]}. {RANGE}"
    for kind, key in BAD_KEYS.items()
}
# Dagster 1.13.27 reads an empty key as none and never asks the partitions about it (docs/decisions.md):
# its own commands are given the three others; `taxi-pipeline` all four.
KEY_CASES = [
    (command, kind)
    for command in KEY_COMMANDS
    for kind in BAD_KEYS
    if kind != "empty" or command.startswith("taxi-pipeline")
]


@pytest.fixture(scope="module")
def bad_key_outputs(tmp_path_factory, release_url) -> dict[tuple[str, str], tuple[int, str, str]]:
    """{(command, kind): (exit code, stdout, stderr)} of every command given every bad key, run
    from the project folder in one subprocess with its own instance, which then holds no run and
    no backfill."""
    env = dg_env(cli_env(tmp_path_factory.mktemp("bad_keys"), release_url))
    argvs = [[*KEY_COMMANDS[command], BAD_KEYS[kind]] for command, kind in KEY_CASES]

    done = run_cli([str(BIN / "python"), "-c", EACH_IN_ONE_PROCESS, json.dumps(argvs)], env)

    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert (instance.get_runs_count(), instance.get_backfills()) == (0, [])
    return {case: tuple(result) for case, result in zip(KEY_CASES, json.loads(done.stdout), strict=True)}


@pytest.mark.cli
@pytest.mark.parametrize("command,kind", KEY_CASES, ids=[f"{command}-{kind}" for command, kind in KEY_CASES])
def test_a_bad_partition_key_ends_the_command_with_one_line_naming_why(bad_key_outputs, command, kind):
    code, stdout, stderr = bad_key_outputs[command, kind]

    assert code == 1
    assert stderr.strip().splitlines()[-1] == REFUSALS[kind]
    assert "Traceback" not in stdout + stderr


NO_PARTITION = f"--partition: no partition key given, and the selected assets are partitioned. {RANGE}"


@pytest.mark.cli
def test_taxi_pipeline_launch_of_partitioned_assets_without_a_partition_ends_with_one_line(user_env, tmp_path):
    done = run_cli(taxi_pipeline_command("launch", "--assets", "*"), user_env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"taxi_pipeline: {NO_PARTITION}"]
    assert "Traceback" not in done.stdout
    assert not (tmp_path / "lake").exists()


@pytest.mark.cli
def test_taxi_pipeline_launch_of_trips_job_without_a_partition_ends_with_one_line(user_env, tmp_path):
    # Dagster starts a run of the job without a partition; its first step fails reading the key.
    done = run_cli(taxi_pipeline_command("launch", "--job", "trips_job"), user_env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"taxi_pipeline: raw_trips failed: {NO_PARTITION}"
    run = only_run(user_env)
    assert run.status == dg.DagsterRunStatus.FAILURE and "dagster/partition" not in run.tags
    assert not (tmp_path / "lake").exists()


@pytest.mark.cli
def test_taxi_pipeline_backfill_of_good_keys_is_dagsters_backfill_of_them(user_env):
    keys = ["green|2020-04-01", "fhv|2019-01-01"]
    done = run_cli(
        taxi_pipeline_command(
            *("backfill", "-w", "workspace.yaml", "-j", "trips_job", "--partitions", ",".join(keys), "--noprompt")
        ),
        user_env,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(user_env["DAGSTER_HOME"]) as instance:
        [backfill] = instance.get_backfills()
        runs = instance.get_runs()
    assert backfill.partition_names == keys
    # Queued for the daemon, one run per partition.
    assert sorted((run.tags["dagster/partition"], run.status) for run in runs) == [
        ("fhv|2019-01-01", dg.DagsterRunStatus.QUEUED),
        ("green|2020-04-01", dg.DagsterRunStatus.QUEUED),
    ]
