"""A failed run re-executed from failure, as the UI's "Re-execute from failure" does."""

import shutil

import dagster as dg

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.samples import release_file, release_zones


def trips_job():
    """The local target's trips_job, rebuilt from the environment in any process."""
    return build_definitions(Settings.from_environment()).resolve_job_def("trips_job")


def test_failed_run_reexecuted_from_failure_succeeds_once_the_month_is_published(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "fhv"
    mirror.mkdir(parents=True)
    # trips_job refreshes the zone table too: the mirror holds it, as every release does.
    release_zones(tmp_path / "mirror").parent.mkdir()
    shutil.copy(release_zones(), release_zones(tmp_path / "mirror"))
    for name, value in {
        "DAGSTER_HOME": str(tmp_path / "home"),
        "TAXI_SOURCE_URL": (tmp_path / "mirror").as_uri(),
        "TAXI_LAKE_DIR": str(tmp_path / "lake"),
        "TAXI_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "home").mkdir()
    job = dg.build_reconstructable_job("taxi_pipeline_tests.test_reexecution", "trips_job")

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
