"""The four assets end to end on the local target: real files, a real HTTP server, DuckDB."""

import hashlib

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.defs.warehouse.assets import taxi_zones
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.runs import materialize, metadata_of, only_step_failure
from taxi_pipeline_tests.support.samples import (
    RELEASE_DIR,
    SAMPLE_ROWS,
    YELLOW_APRIL_ROWS,
    ZONES_ROWS,
    lake_file,
    lake_zones,
    mirror_with_two_colors_in_april,
    raw_file,
    release_file,
    release_zones,
)
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows


@pytest.mark.parametrize("partition_key", list(SAMPLE_ROWS))
def test_each_sample_lands_every_row_in_the_warehouse(
    partition_key, release_url, make_resources, lake_dir, duckdb_path
):
    color, month = partition_key.split("|")[0], partition_key.split("|")[1][:7]

    result = materialize(make_resources(release_url), partition_key)

    assert result.success
    assert warehouse_rows(duckdb_path) == {(color, month): SAMPLE_ROWS[partition_key]}
    assert raw_file(lake_dir, color, month).read_bytes() == release_file(color, month).read_bytes()
    assert pq.read_metadata(lake_file(lake_dir, color, month)).num_rows == SAMPLE_ROWS[partition_key]


def test_green_through_file_url_with_metadata(make_resources, lake_dir, duckdb_path):
    result = materialize(make_resources(RELEASE_DIR.as_uri()), "green|2020-04-01")

    assert result.success
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}
    raw = metadata_of(result, "raw_trips")
    assert raw["source_url"] == f"{RELEASE_DIR.as_uri()}/green/green_tripdata_2020-04.csv.gz"
    assert raw["bytes"] == 670_357
    assert raw["sha256"].startswith("69fd60db4f08")
    cleaned = metadata_of(result, "cleaned_trips")
    assert cleaned["dagster/row_count"] == 35_612
    assert cleaned["missing_passenger_count_before"] > 0 and cleaned["missing_passenger_count_after"] == 0
    assert cleaned["pickups_outside_month"] > 0
    assert cleaned["null_counts"]["ehail_fee"] == 35_612
    assert [c.name for c in cleaned["dagster/column_schema"].columns] == CANONICAL_SCHEMA.names
    preview = cleaned["preview"]
    assert [c.name for c in preview.schema.columns] == CANONICAL_SCHEMA.names
    assert len(preview.records) == 10
    assert preview.records[0].data["color"] == "green" and preview.records[0].data["source_month"] == "2020-04-01"
    lake = metadata_of(result, "lake_trips_parquet")
    assert lake["path"] == str(lake_file(lake_dir, "green", "2020-04"))
    warehouse = metadata_of(result, "warehouse_trips")
    assert (warehouse["rows_loaded"], warehouse["slice_rows"], warehouse["rows_replaced"]) == (35_612, 35_612, 0)
    assert warehouse["dagster/table_name"] == f"{duckdb_path.stem}.main.trips"
    assert warehouse["dagster/row_count"] == 35_612
    columns = warehouse["dagster/column_schema"].columns
    assert [c.name for c in columns] == CANONICAL_SCHEMA.names
    assert {c.name: c.type for c in columns}["trip_distance"] == "DOUBLE"  # DuckDB's types, not Arrow's
    assert all(c.description for c in columns)
    slice_preview = warehouse["preview"]
    assert len(slice_preview.records) == 5
    assert {(r.data["color"], r.data["source_month"]) for r in slice_preview.records} == {("green", "2020-04-01")}
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "slice_matches_lake_file"]
    assert check.passed and check.metadata["lake_file_rows"].value == 35_612
    # The bytes staged, audited, published and loaded are one content, named by its sha256.
    staged = cleaned["staged_sha256"]
    assert lake["sha256"] == warehouse["sha256"] == staged == sha256_of(lake_file(lake_dir, "green", "2020-04"))
    assert lake["source"] == warehouse["source"] == "course"
    audits = {
        e.metadata["staged_sha256"].value
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["cleaned_trips"]
    }
    assert audits == {staged}


def test_fhv_reports_no_passenger_count_rather_than_zero_missing(release_url, make_resources):
    result = materialize(make_resources(release_url), "fhv|2019-01-01")

    assert result.success
    cleaned = metadata_of(result, "cleaned_trips")
    assert "missing_passenger_count_before" not in cleaned and "missing_passenger_count_after" not in cleaned
    assert cleaned["passenger_count"] == "not published by this service: the column is null"
    assert cleaned["null_counts"]["passenger_count"] == 18


def test_rematerializing_a_partition_keeps_the_count(release_url, make_resources, duckdb_path):
    resources = make_resources(release_url)
    assert materialize(resources, "green|2020-04-01").success

    again = materialize(resources, "green|2020-04-01")

    assert again.success
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}
    assert metadata_of(again, "warehouse_trips")["rows_replaced"] == 35_612


def test_two_colors_of_one_month_coexist(tmp_path, make_resources, duckdb_path):
    # The TLC's real sample of yellow 2020-04 beside the green month, in a mirror made for this test.
    resources = make_resources(mirror_with_two_colors_in_april(tmp_path / "mirror").as_uri())

    assert materialize(resources, "green|2020-04-01").success
    yellow = materialize(resources, "yellow|2020-04-01")

    assert yellow.success
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612, ("yellow", "2020-04"): YELLOW_APRIL_ROWS}
    assert metadata_of(yellow, "cleaned_trips")["pickups_outside_month"] == 0


def test_every_color_publishes_the_same_parquet_schema(release_url, make_resources, lake_dir):
    resources = make_resources(release_url)
    for key in ("green|2020-04-01", "yellow|2021-01-01", "fhv|2019-01-01"):
        assert materialize(resources, key).success

    schemas = {
        color: pq.read_schema(lake_file(lake_dir, color, month))
        for color, month in (("green", "2020-04"), ("yellow", "2021-01"), ("fhv", "2019-01"))
    }

    assert schemas["green"].equals(schemas["yellow"]) and schemas["green"].equals(schemas["fhv"])
    assert schemas["green"].remove_metadata() == CANONICAL_SCHEMA


def test_unparseable_file_fails_naming_it_and_loads_nothing(tmp_path, make_resources, duckdb_path):
    mirror = tmp_path / "mirror" / "green"
    mirror.mkdir(parents=True)
    (mirror / "green_tripdata_2020-04.csv.gz").write_bytes(b"this is not a trip file\n")

    result = materialize(make_resources((tmp_path / "mirror").as_uri()), "green|2020-04-01")

    assert not result.success
    failure = only_step_failure(result)
    assert failure.step_key == "cleaned_trips"
    assert "green_tripdata_2020-04.csv.gz" in failure.step_failure_data.error.message
    assert "lacks required column" in failure.step_failure_data.error.message
    assert not duckdb_path.exists()


def zone_rows(duckdb_path) -> int:
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM zones").fetchone()[0]


def test_taxi_zones_lands_the_bundled_table_in_the_lake_and_duckdb(release_url, make_resources, lake_dir, duckdb_path):
    result = dg.materialize([taxi_zones], resources=make_resources(release_url))

    assert result.success
    assert lake_zones(lake_dir).read_bytes() == release_zones().read_bytes()
    assert zone_rows(duckdb_path) == ZONES_ROWS
    metadata = metadata_of(result, "taxi_zones")
    assert metadata["rows"] == metadata["dagster/row_count"] == ZONES_ROWS
    assert metadata["source_url"] == f"{release_url}/misc/taxi_zone_lookup.csv"
    assert metadata["path"] == str(lake_zones(lake_dir))
    preview = metadata["preview"]
    assert [c.name for c in preview.schema.columns] == ["location_id", "borough", "zone", "service_zone"]
    assert preview.records[0].data == {
        "location_id": 1,
        "borough": "EWR",
        "zone": "Newark Airport",
        "service_zone": "EWR",
    }

    assert dg.materialize([taxi_zones], resources=make_resources(release_url)).success
    assert zone_rows(duckdb_path) == ZONES_ROWS  # replaced whole, not appended


def test_with_the_zone_table_loaded_the_audit_checks_ids_against_it(release_url, make_resources, lake_dir):
    resources = make_resources(release_url)
    assert dg.materialize([taxi_zones], resources=resources).success

    result = materialize(resources, "green|2020-04-01")

    assert result.success
    [zones] = [e for e in result.get_asset_check_evaluations() if e.check_name == "location_ids_are_taxi_zones"]
    assert zones.passed and zones.metadata["zone_ids_from"].value == str(lake_zones(lake_dir))


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
