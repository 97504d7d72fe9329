"""The command lines the README leads with, `dg` and the project's `taxi-pipeline` (`dg` ending a
failure with one line naming why), run as a user runs them from the project folder with the
project's venv active, against the bundled mirror."""

import json
import re

import dagster as dg
import pytest

from taxi_pipeline_tests.support.runs import (
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


HINT = (
    "Partition keys read color|YYYY-MM-01, e.g. yellow|2021-07-01 (colors yellow, green, fhv; "
    "months 2019-01-01 to 2021-07-01)."
)
NO_PARTITION = (
    f"--partition: no partition key given (an empty key is none), and the selected assets are partitioned. {HINT}"
)


@pytest.mark.cli
def test_taxi_pipeline_launch_of_assets_with_an_empty_partition_ends_with_one_line(user_env):
    done = run_cli(taxi_pipeline_command("launch", "--assets", "*", "--partition", ""), user_env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"taxi_pipeline: {NO_PARTITION}"]
    assert "Traceback" not in done.stdout


@pytest.mark.cli
def test_taxi_pipeline_launch_of_trips_job_with_an_empty_partition_ends_with_one_line(user_env, tmp_path):
    # Dagster starts a run of the job without a partition; its first step fails reading the key.
    done = run_cli(taxi_pipeline_command("launch", "--job", "trips_job", "--partition", ""), user_env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"taxi_pipeline: raw_trips failed: {NO_PARTITION}"
    assert "Traceback" not in done.stderr + done.stdout
    run = only_run(user_env)
    assert run.status == dg.DagsterRunStatus.FAILURE and "dagster/partition" not in run.tags
    assert not (tmp_path / "lake").exists()


@pytest.mark.cli
def test_taxi_pipeline_launch_of_trips_job_with_an_unknown_partition_ends_with_one_line(user_env):
    done = run_cli(taxi_pipeline_command("launch", "--job", "trips_job", "--partition", "purple|2020-04-01"), user_env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"taxi_pipeline: --partition: Could not find a partition with key `purple|2020-04-01`. {HINT}"
    )
    assert "Traceback" not in done.stderr + done.stdout
