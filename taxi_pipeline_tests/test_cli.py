"""The README's command lines, run as a user runs them: subprocesses against a local server."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def user_env(tmp_path, release_url):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAXI_")}
    env.update(
        DAGSTER_HOME=str(home),
        TAXI_SOURCE_URL=release_url,
        TAXI_LAKE_DIR=str(tmp_path / "lake"),
        TAXI_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
    )
    return env


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.cli
def test_asset_materialize_one_partition_is_recorded_in_the_instance(user_env, monkeypatch):
    done = run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "taxi_pipeline.definitions",
         "--select", "*", "--partition", "green|2020-04-01"],
        user_env,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.setenv("DAGSTER_HOME", user_env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        [run_record] = instance.get_run_records()
        assert run_record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert run_record.dagster_run.tags["dagster/partition"] == "green|2020-04-01"
        event = instance.get_latest_materialization_event(dg.AssetKey("warehouse_trips"))
        assert event.asset_materialization.partition == "green|2020-04-01"
        assert event.asset_materialization.metadata["slice_rows"].value == 35_612

    report = run([sys.executable, "-m", "taxi_pipeline.report"], user_env)
    assert report.returncode == 0, report.stderr
    assert "green    2020-04        35,612" in report.stdout


@pytest.mark.cli
def test_unknown_target_fails_with_one_clear_line(user_env):
    done = run([sys.executable, "-m", "taxi_pipeline.report"], {**user_env, "TAXI_PIPELINE_TARGET": "mainframe"})

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "taxi_pipeline: TAXI_PIPELINE_TARGET='mainframe' is not a known target; use one of: local, gcp"
    ]
