"""TAXI_SOURCE=tlc end to end, offline: the TLC's real parquet files and the 2020-04 samples of all
four services (in the 2020 era's types) from a mirror laid out like the TLC's host, served over
HTTP as CloudFront answers and read through file://, through the code location's own jobs into
DuckDB, Postgres and BigQuery: every month exactly its rows, every lake file one schema."""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from google.cloud import bigquery

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.defs.lake.files import LAKE_FILE_TEMPLATE, raw_file_template
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import metadata_of, step_failures
from taxi_pipeline_tests.support.tlc import TLC_MIRROR_ROWS, TLC_ZONES_ROWS, serve_tlc_mirror, tlc_mirror

# The four services of 2020-04, and the month the TLC's physical types switched.
FOUR_SERVICES_AND_THE_TYPE_SWITCH = [
    "yellow|2020-04-01",
    "green|2020-04-01",
    "fhv|2020-04-01",
    "fhvhv|2020-04-01",
    "green|2023-02-01",
]
FAILURE = "dagster._core.definitions.events.Failure: "


@pytest.fixture
def trip_data(tmp_path) -> Path:
    """The `trip-data` folder of a TLC-like mirror holding every month of `TLC_MIRROR_ROWS`."""
    return tlc_mirror(tmp_path / "tlc")


def tlc_definitions(monkeypatch, source_url: str, **env: str) -> dg.Definitions:
    """The code location as Dagster loads it with TAXI_SOURCE=tlc from 2020-01 and `env`."""
    for name, value in {
        "TAXI_SOURCE": "tlc",
        "TAXI_FIRST_MONTH": "2020-01",
        "TAXI_SOURCE_URL": source_url,
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    return build_definitions(Settings.from_environment())


def run_months(defs: dg.Definitions, keys: list[str], instance: dg.DagsterInstance) -> dict:
    """The zone table (all its rows), then `trips_job` (assets and audit) for each key; {key: result}."""
    zones = defs.resolve_job_def("zones_job").execute_in_process(instance=instance)
    assert metadata_of(zones, "taxi_zones")["rows"] == TLC_ZONES_ROWS
    job = defs.resolve_job_def("trips_job")
    return {key: job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False) for key in keys}


def run_month(defs: dg.Definitions, key: str) -> dg.ExecuteInProcessResult:
    """`trips_job` for one partition on a fresh instance; the result, failed or not."""
    with dg.instance_for_test() as instance:
        return defs.resolve_job_def("trips_job").execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )


def expected_counts(keys: list[str]) -> list[tuple[str, object, int]]:
    return sorted((*split_partition_key(key), TLC_MIRROR_ROWS[key]) for key in keys)


def slice_counts(defs: dg.Definitions) -> list[tuple]:
    with dg.build_resources({"warehouse": defs.resources["warehouse"]}) as resources:
        return sorted(resources.warehouse.slice_counts())


def test_every_month_of_every_service_lands_exactly_its_rows_in_one_schema(
    trip_data, monkeypatch, http_server, lake_dir, duckdb_path
):
    url = http_server(serve_tlc_mirror(trip_data.parent)) + "/trip-data"
    defs = tlc_definitions(monkeypatch, url, TAXI_LAKE_DIR=str(lake_dir), TAXI_DUCKDB_PATH=str(duckdb_path))
    keys = sorted(TLC_MIRROR_ROWS)

    with dg.instance_for_test() as instance:
        results = run_months(defs, keys, instance)

        assert {key: step_failures(result) for key, result in results.items()} == dict.fromkeys(keys, {})
        assert slice_counts(defs) == expected_counts(keys)
        for key, result in results.items():
            color, month = split_partition_key(key)
            raw = lake_dir / raw_file_template("parquet").format(color=color, month=f"{month:%Y-%m}")
            assert raw.read_bytes() == (trip_data / f"{color}_tripdata_{month:%Y-%m}.parquet").read_bytes()
            lake = lake_dir / LAKE_FILE_TEMPLATE.format(color=color, month=f"{month:%Y-%m}")
            assert pq.read_schema(lake) == CANONICAL_SCHEMA, key
            assert pq.ParquetFile(lake).metadata.num_rows == TLC_MIRROR_ROWS[key]
            download = metadata_of(result, "raw_trips")
            assert download["source"] == "tlc"
            assert download["source_url"] == f"{url}/{color}_tripdata_{month:%Y-%m}.parquet"
            assert download["last_modified"].endswith(" GMT")
            assert "etag" in download
            checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
            assert all(check.passed for check in checks.values()), key
            zones = checks["location_ids_are_taxi_zones"].metadata["zone_ids_from"].value
            assert zones == str(lake_dir / "raw/misc/taxi_zone_lookup.csv")


def test_a_month_before_the_service_began_fails_at_once_without_a_request(
    trip_data, monkeypatch, http_server, lake_dir, duckdb_path
):
    requests: list[str] = []

    class Recording(serve_tlc_mirror(trip_data.parent).func):
        def send_head(self):
            requests.append(self.path)
            return super().send_head()

    url = http_server(lambda *args, **kwargs: Recording(*args, directory=str(trip_data.parent), **kwargs))
    defs = tlc_definitions(
        monkeypatch,
        f"{url}/trip-data",
        TAXI_FIRST_MONTH="2013-06",
        TAXI_LAKE_DIR=str(lake_dir),
        TAXI_DUCKDB_PATH=str(duckdb_path),
    )

    result = run_month(defs, "green|2013-12-01")

    assert step_failures(result) == {
        "raw_trips": f"{FAILURE}green 2013-12 is before the service began: "
        "the TLC's release holds green trips from 2014-01"
    }
    assert requests == []
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def test_a_month_the_tlc_has_not_published_fails_at_once_saying_so(
    trip_data, monkeypatch, http_server, lake_dir, duckdb_path
):
    url = http_server(serve_tlc_mirror(trip_data.parent)) + "/trip-data"
    defs = tlc_definitions(monkeypatch, url, TAXI_LAKE_DIR=str(lake_dir), TAXI_DUCKDB_PATH=str(duckdb_path))

    result = run_month(defs, "fhvhv|2024-06-01")

    assert step_failures(result) == {
        "raw_trips": f"{FAILURE}fhvhv 2024-06 is not published: {url}/fhvhv_tripdata_2024-06.parquet answered HTTP 403 "
        "AccessDenied (how the TLC answers for a file it does not have yet)"
    }
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


@pytest.mark.postgres
def test_four_services_and_the_type_switch_land_in_postgres(trip_data, monkeypatch, lake_dir, postgres_url):
    defs = tlc_definitions(
        monkeypatch,
        trip_data.as_uri(),
        TAXI_WAREHOUSE="postgres",
        TAXI_POSTGRES_URL=postgres_url,
        TAXI_LAKE_DIR=str(lake_dir),
    )

    with dg.instance_for_test() as instance:
        results = run_months(defs, FOUR_SERVICES_AND_THE_TYPE_SWITCH, instance)

    assert all(result.success for result in results.values())
    assert slice_counts(defs) == expected_counts(FOUR_SERVICES_AND_THE_TYPE_SWITCH)
    # Read through file://: the raw zone holds the file's bytes, its metadata the file's date and no ETag.
    for key, result in results.items():
        color, month = split_partition_key(key)
        name = f"{color}_tripdata_{month:%Y-%m}.parquet"
        raw = lake_dir / raw_file_template("parquet").format(color=color, month=f"{month:%Y-%m}")
        assert raw.read_bytes() == (trip_data / name).read_bytes()
        download = metadata_of(result, "raw_trips")
        assert download["source_url"] == f"{trip_data.as_uri()}/{name}"
        assert download["last_modified"].endswith(" GMT") and "etag" not in download


@pytest.mark.gcp
def test_four_services_and_the_type_switch_land_in_bigquery(trip_data, monkeypatch, gcp_names):
    defs = tlc_definitions(monkeypatch, trip_data.as_uri(), TAXI_PIPELINE_TARGET="gcp", **gcp_names)

    with dg.instance_for_test() as instance:
        results = run_months(defs, FOUR_SERVICES_AND_THE_TYPE_SWITCH, instance)

    assert all(result.success for result in results.values())
    assert slice_counts(defs) == expected_counts(FOUR_SERVICES_AND_THE_TYPE_SWITCH)
    client = bigquery.Client(project=gcp_names["GCP_PROJECT"])
    table = client.get_table(f"{gcp_names['GCP_PROJECT']}.{gcp_names['BQ_DATASET']}.trips")
    assert [field.name for field in table.schema] == CANONICAL_SCHEMA.names


@pytest.mark.parametrize(
    ("cut", "what"),
    [
        ("html", "it is not a parquet file (it starts with b'<html><body>Not Found</b')"),
        ("half", "the parquet file is truncated: it lacks its footer"),
    ],
)
def test_a_download_that_is_not_a_whole_parquet_file_fails_at_once_naming_it(
    cut, what, trip_data, monkeypatch, lake_dir, duckdb_path
):
    month_file = trip_data / "green_tripdata_2022-01.parquet"
    published = month_file.read_bytes()
    month_file.write_bytes(
        b"<html><body>Not Found</body></html>" if cut == "html" else published[: len(published) // 2]
    )
    defs = tlc_definitions(
        monkeypatch, trip_data.as_uri(), TAXI_LAKE_DIR=str(lake_dir), TAXI_DUCKDB_PATH=str(duckdb_path)
    )

    result = run_month(defs, "green|2022-01-01")

    assert step_failures(result) == {
        "raw_trips": f"{FAILURE}green 2022-01: {month_file.as_uri()} is not a trip file: {what}"
    }
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert not (lake_dir / "raw/green/green_tripdata_2022-01.parquet").exists() and not duckdb_path.exists()


def test_a_month_reloaded_from_the_other_source_says_so(trip_data, monkeypatch, tmp_path, release_url):
    """green 2020-04 from the course's mirror (35,612 trips), then from the TLC's (its 1,000-trip
    sample; the drop allowed by TAXI_ROW_DROP_BLOCK=1): the slice, its `loads` row and the
    load's metadata say it came from the TLC now, and from the course before."""
    for name, value in {
        "TAXI_LAKE_DIR": str(tmp_path / "lake"),
        "TAXI_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "TAXI_ROW_DROP_BLOCK": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TAXI_SOURCE_URL", release_url)
    key = "green|2020-04-01"

    with dg.instance_for_test() as instance:
        # Each code location reads its settings when its runs start (dg.EnvVar): one after the other.
        course = build_definitions(Settings.from_environment())
        first = course.resolve_job_def("trips_job").execute_in_process(partition_key=key, instance=instance)
        tlc = tlc_definitions(monkeypatch, trip_data.as_uri())
        again = tlc.resolve_job_def("trips_job").execute_in_process(partition_key=key, instance=instance)

    loaded, reloaded = metadata_of(first, "warehouse_trips"), metadata_of(again, "warehouse_trips")
    assert (loaded["source"], loaded["slice_rows"], "reloaded_from_another_source" in loaded) == (
        "course",
        35_612,
        False,
    )
    assert (reloaded["source"], reloaded["slice_rows"]) == ("tlc", 1_000)
    assert reloaded["reloaded_from_another_source"] == "tlc, was course"
    with dg.build_resources({"warehouse": tlc.resources["warehouse"]}) as resources:
        [(month, origin)] = resources.warehouse.slice_origins().items()
    assert month == split_partition_key(key) and origin.source == "tlc" and origin.sha256 == reloaded["sha256"]
