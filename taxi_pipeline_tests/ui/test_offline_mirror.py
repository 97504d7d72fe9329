"""`make dev-demo` offline: a real `dagster dev` (webserver and daemon) on the course's offline
mirror (deploy/mirror.py) runs a GraphQL backfill of three months of two colors, every run a
success: the bundled real month lands exactly its rows as `course`, the generated ones exactly
the rows of their files as `course (generated)`, in the slices' `loads` rows and in the report."""

import gzip
import time

import pytest

from deploy.mirror import build_mirror
from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import deployed_env
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
from taxi_pipeline_tests.support.warehouse_rows import loaded_slices, warehouse_rows

pytestmark = pytest.mark.ui

# Three months of two colors; yellow 2021-01 is the bundled real month, the other five generated.
RANGE = [f"{color}|{month}" for color in ("green", "yellow") for month in ("2020-12-01", "2021-01-01", "2021-02-01")]
REAL = "yellow|2021-01-01"


@pytest.fixture(scope="module")
def offline_ui(tmp_path_factory):
    """`dagster dev` with deploy/dagster.yaml and the course's offline mirror as TAXI_SOURCE_URL."""
    base = tmp_path_factory.mktemp("offline")
    mirror = build_mirror("course", base / "mirror")
    env = deployed_env(base, mirror.source_url)
    server = start_dagster_dev(env, base / "dagster-dev.log")
    try:
        yield server, env, base / "mirror"
    finally:
        stop_dagster_dev(server)


def file_rows(mirror, key: str) -> int:
    """The trips in a month's file of the mirror: its lines but the header."""
    color, month = key.split("|")
    return len(gzip.decompress(release_file(color, month[:7], mirror).read_bytes()).splitlines()) - 1


def latest_report(env) -> dict | None:
    """The `slices` of the latest trips_per_month materialization, {(color, month): (rows, source)}."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef  # opens another process's DAGSTER_HOME

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("trips_per_month"))
    if event is None:
        return None
    records = event.asset_materialization.metadata["slices"].value.records
    return {(r.data["color"], r.data["month"]): (r.data["rows"], r.data["source"]) for r in records}


def test_a_backfill_of_three_months_of_two_colors_succeeds_offline_flagging_the_generated_ones(offline_ui):
    server, env, mirror = offline_ui

    launched = server.launch_backfill(RANGE, "offline range")
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    runs = server.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=len(RANGE))

    assert [r["status"] for r in runs] == ["SUCCESS"] * len(RANGE)
    expected = {
        (key.split("|")[0], key.split("|")[1][:7]): (
            (SAMPLE_ROWS[key], "course") if key == REAL else (file_rows(mirror, key), "course (generated)")
        )
        for key in RANGE
    }
    assert expected[("yellow", "2021-01")] == (22_792, "course")
    assert all(200 <= rows <= 500 for (rows, source) in expected.values() if source != "course")
    assert warehouse_rows(env["TAXI_DUCKDB_PATH"]) == {slice_: rows for slice_, (rows, _) in expected.items()}
    assert loaded_slices(env["TAXI_DUCKDB_PATH"]) == expected
    # The report follows the loads by its automation sensor, and shows each slice's source.
    deadline = time.monotonic() + 180
    while latest_report(env) != expected and time.monotonic() < deadline:
        time.sleep(2)
    assert latest_report(env) == expected
