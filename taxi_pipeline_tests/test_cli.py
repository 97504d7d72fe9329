"""The README's command lines, run as a user runs them: subprocesses against a local server."""

import sys

import dagster as dg
import pytest

from taxi_pipeline_tests.support.png import png_size
from taxi_pipeline_tests.support.runs import cli_env, materialize, materialize_command, run_cli
from taxi_pipeline_tests.support.tlc import TLC_MIRROR_ROWS, tlc_mirror


@pytest.fixture
def user_env(tmp_path, release_url):
    """A user's environment: a DAGSTER_HOME of its own, the lake and DuckDB in tmp."""
    return cli_env(tmp_path, release_url)


@pytest.mark.cli
def test_asset_materialize_one_partition_is_recorded_in_the_instance(user_env, monkeypatch):
    done = run_cli(materialize_command("green|2020-04-01"), user_env)

    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.setenv("DAGSTER_HOME", user_env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        [run_record] = instance.get_run_records()
        assert run_record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert run_record.dagster_run.tags["dagster/partition"] == "green|2020-04-01"
        event = instance.get_latest_materialization_event(dg.AssetKey("warehouse_trips"))
        assert event.asset_materialization.partition == "green|2020-04-01"
        assert event.asset_materialization.metadata["slice_rows"].value == 35_612

    report = run_cli([sys.executable, "-m", "taxi_pipeline.defs.report"], user_env)
    assert report.returncode == 0, report.stderr
    assert "green    2020-04        35,612" in report.stdout


@pytest.mark.cli
def test_the_report_writes_the_chart_it_is_asked_for(user_env, release_url, make_resources, tmp_path):
    # Loaded in process into the DuckDB file the command's environment names (cli_env's).
    assert materialize(make_resources(release_url), "green|2020-04-01").success
    chart = tmp_path / "trips.png"

    report = run_cli([sys.executable, "-m", "taxi_pipeline.defs.report", "--chart", str(chart)], user_env)

    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines() == [
        f"{'color':<8} {'month':<8} {'rows':>12}",
        "green    2020-04        35,612",
        f"{'total':<17} {35_612:>12,}",
        f"chart written to {chart}",
    ]
    assert png_size(chart.read_bytes()) == (900, 450)


@pytest.mark.cli
def test_a_chart_that_cannot_be_written_fails_in_one_line_naming_it(user_env, tmp_path):
    chart = tmp_path / "no-such-folder" / "trips.png"

    done = run_cli([sys.executable, "-m", "taxi_pipeline.defs.report", "--chart", str(chart)], user_env)

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"taxi_pipeline: cannot write the chart to {chart}: No such file or directory"
    ]
    assert not chart.parent.exists()


@pytest.mark.cli
def test_unknown_target_fails_with_one_clear_line(user_env):
    done = run_cli(
        [sys.executable, "-m", "taxi_pipeline.defs.report"], {**user_env, "TAXI_PIPELINE_TARGET": "mainframe"}
    )

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "taxi_pipeline: TAXI_PIPELINE_TARGET='mainframe' is not a known target; use one of: local, gcp"
    ]


@pytest.mark.cli
def test_the_readmes_tlc_command_loads_an_fhvhv_month_from_a_mirror(tmp_path):
    trip_data = tlc_mirror(tmp_path / "tlc")
    env = cli_env(tmp_path, trip_data.as_uri(), TAXI_SOURCE="tlc", TAXI_FIRST_MONTH="2020-01")

    done = run_cli(materialize_command("fhvhv|2020-04-01"), env)

    assert done.returncode == 0, done.stderr[-3000:]
    report = run_cli([sys.executable, "-m", "taxi_pipeline.defs.report"], env)
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[1:] == [
        f"fhvhv    2020-04  {TLC_MIRROR_ROWS['fhvhv|2020-04-01']:>12,}",
        f"{'total':<17} {TLC_MIRROR_ROWS['fhvhv|2020-04-01']:>12,}",
    ]
