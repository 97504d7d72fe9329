"""`make demo` beside a running `make dev-demo`: the demo hands its runs to the UI's daemon, on the
instance and settings they share, and neither leaves a failed run."""

import os
import subprocess

import pytest

from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import PROJECT_DIR

pytestmark = pytest.mark.ui

RUNS = "{ runsOrError { ... on Runs { results { jobName status tags { key value } } } } }"


def make(*args: str) -> list[str]:
    # The venv is made by `make test` before the suite: never rebuilt from inside a test.
    return ["make", "--no-print-directory", "-C", str(PROJECT_DIR), "-o", ".venv/.installed", *args]


def test_make_demo_beside_make_dev_demo_runs_on_the_uis_daemon_and_both_succeed(tmp_path):
    where = [f"DEMO_HOME={tmp_path / 'home'}", f"DEMO_DATA={tmp_path / 'data'}", f"COURSE_MIRROR={tmp_path / 'mirror'}"]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TAXI_", "DAGSTER_"))}
    server = start_dagster_dev(
        env, tmp_path / "dev-demo.log", command=lambda port: make("dev-demo", f"UI_PORT={port}", *where)
    )
    try:
        demo = subprocess.run(make("demo", *where), env=env, capture_output=True, text=True, timeout=900)
        runs = server.graphql(RUNS)["runsOrError"]["results"]
    finally:
        stop_dagster_dev(server)

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "the UI's daemon (make dev-demo) runs the demo's runs" in demo.stdout
    assert "of its own" not in demo.stdout
    assert demo.stdout.rstrip().splitlines()[-5:] == [
        "fhv      2019-01            18",
        "fhv      2020-01            16",
        "green    2020-04        35,612",
        "yellow   2021-01        22,792",
        "total                   58,438",
    ]
    # The UI's instance holds every run of the demo, and none failed.
    assert {run["status"] for run in runs} == {"SUCCESS"}, runs
    partitions = {
        run["jobName"]: sorted(
            t["value"]
            for r in runs
            if r["jobName"] == run["jobName"]
            for t in r["tags"]
            if t["key"] == "dagster/partition"
        )
        for run in runs
    }
    assert partitions["zones_job"] == []
    assert partitions["trips_job"] == ["fhv|2019-01-01", "fhv|2020-01-01", "green|2020-04-01", "yellow|2021-01-01"]
    assert "__ASSET_JOB" in partitions  # the report, run by the UI's automation sensor
