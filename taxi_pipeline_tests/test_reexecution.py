"""A failed run re-executed from failure, as the UI's "Re-execute from failure" does."""

import shutil

import dagster as dg

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.samples import (
    copy_release,
    lake_file,
    mirror_of_lines,
    release_file,
    release_lines,
    release_zones,
)
from taxi_pipeline_tests.support.warehouse_rows import parquet_checksum, slice_checksums, warehouse_rows


def trips_job():
    """The local target's trips_job, rebuilt from the environment in any process."""
    return build_definitions(Settings.from_environment()).resolve_job_def("trips_job")


def local_trips_job(tmp_path, monkeypatch):
    """trips_job of the local target on the mirror `tmp_path/mirror`, with its own DAGSTER_HOME,
    lake and DuckDB file in `tmp_path`, rebuildable in any process."""
    for name, value in {
        "DAGSTER_HOME": str(tmp_path / "home"),
        "TAXI_SOURCE_URL": (tmp_path / "mirror").as_uri(),
        "TAXI_LAKE_DIR": str(tmp_path / "lake"),
        "TAXI_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "home").mkdir()
    return dg.build_reconstructable_job("taxi_pipeline_tests.test_reexecution", "trips_job")


def test_failed_run_reexecuted_from_failure_succeeds_once_the_month_is_published(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "fhv"
    mirror.mkdir(parents=True)
    # trips_job refreshes the zone table too: the mirror holds it, as every release does.
    release_zones(tmp_path / "mirror").parent.mkdir()
    shutil.copy(release_zones(), release_zones(tmp_path / "mirror"))
    job = local_trips_job(tmp_path, monkeypatch)

    with dg.DagsterInstance.get() as instance:
        with dg.execute_job(job, instance, tags={"dagster/partition": "fhv|2019-01-01"}) as first:
            assert not first.success  # the month is not in the mirror yet
        shutil.copy(release_file("fhv", "2019-01"), mirror / "fhv_tripdata_2019-01.csv.gz")

        options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
        # The UI copies the parent run's tags, the partition among them; execute_job needs them given.
        with dg.execute_job(job, instance, tags=first.dagster_run.tags, reexecution_options=options) as second:
            assert second.success
            assert second.dagster_run.parent_run_id == first.run_id
            executed = {e.step_key for e in second.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
        assert "raw_trips" in executed and "warehouse_trips" in executed

    rows = build_definitions(Settings.from_environment()).resources["warehouse"]
    with dg.build_resources({"warehouse": rows}) as resources:
        assert [(c, n) for c, _, n in resources.warehouse.slice_counts()] == [("fhv", 18)]


def test_a_run_resumed_after_another_staged_a_bad_copy_publishes_its_own_audited_file(tmp_path, monkeypatch):
    """Run A stages and audits the real month, and fails to publish (a folder is in the lake
    file's way); run B stages a bad copy of the same month, which its audit blocks; A re-executed from
    failure then publishes and loads A's audited bytes, not B's."""
    mirror = copy_release(tmp_path / "mirror")
    job = local_trips_job(tmp_path, monkeypatch)
    tags = {"dagster/partition": "green|2020-04-01"}
    blocking_the_lake = lake_file(tmp_path / "lake", "green", "2020-04") / "a folder where the lake file goes"
    blocking_the_lake.mkdir(parents=True)

    with dg.DagsterInstance.get() as instance:
        with dg.execute_job(job, instance, tags=tags) as first:
            assert not first.success
            failed = {e.step_key for e in first.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE}
            assert failed == {"lake_trips_parquet"}
        mirror_of_lines(mirror, "green", "2020-04", release_lines("green", "2020-04", 1_000))
        with dg.execute_job(job, instance, tags=tags) as second:  # B: the same month, cut to 1,000 trips
            assert not second.success
            assert second.get_asset_check_evaluations()  # audited, and blocked: the zone's first publication
        shutil.rmtree(blocking_the_lake.parent)

        options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
        with dg.execute_job(job, instance, tags=first.dagster_run.tags, reexecution_options=options) as resumed:
            assert resumed.success

    lake = lake_file(tmp_path / "lake", "green", "2020-04")
    assert warehouse_rows(tmp_path / "warehouse.duckdb") == {("green", "2020-04"): 35_612}
    assert parquet_checksum(lake) == slice_checksums(tmp_path / "warehouse.duckdb")[("green", "2020-04")]
