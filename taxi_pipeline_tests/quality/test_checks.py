"""The partitioned audit checks of `cleaned_trips` on real samples (pass) and on crafted bad staged files (fail)."""

import hashlib
from datetime import date, datetime

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.defs.lake.files import STAGING_FILE_TEMPLATE, zone_path
from taxi_pipeline.defs.quality.checks import CLEANED_TRIPS
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, TRIP_CHECK_NAMES, TRIP_CHECKS, materialize
from taxi_pipeline_tests.support.samples import lake_zones, release_zones
from taxi_pipeline_tests.support.trips import cleaned_sample

APRIL = date(2020, 4, 1)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def run_audit(resources, table: pa.Table, lake_dir, key="green|2020-04-01") -> dict[str, dg.AssetCheckEvaluation]:
    """The audit of `table` staged as green 2020-04 (content-addressed, as `cleaned_trips` stages
    it and records its sha256), run as a job of the checks alone."""
    folder = lake_dir / zone_path(STAGING_FILE_TEMPLATE, "green", APRIL)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "staged.parquet")
    sha256 = hashlib.sha256((folder / "staged.parquet").read_bytes()).hexdigest()
    (folder / "staged.parquet").rename(folder / f"{sha256}.parquet")
    instance = dg.DagsterInstance.ephemeral()
    staged = {"staged_sha256": sha256, "source": "course"}
    instance.report_runless_asset_event(dg.AssetMaterialization(CLEANED_TRIPS, partition=key, metadata=staged))
    checks_only = dg.define_asset_job("lake_checks", selection=dg.AssetSelection.checks_for_assets(CLEANED_TRIPS))
    defs = dg.Definitions(assets=TRIP_ASSETS, asset_checks=TRIP_CHECKS, jobs=[checks_only], resources=resources)
    # A job of checks alone has no asset to validate a partition_key against (dagster 1.13), so
    # the partition goes in as the run tag, as the UI does when it re-runs a check.
    result = defs.resolve_job_def("lake_checks").execute_in_process(
        tags={"dagster/partition": key}, instance=instance, raise_on_error=False
    )
    return evaluations(result)


@pytest.mark.parametrize("key", ["green|2020-04-01", "yellow|2021-01-01", "fhv|2019-01-01", "fhv|2020-01-01"])
def test_every_check_passes_on_the_real_samples(key, release_url, make_resources):
    result = materialize(make_resources(release_url), key, raise_on_error=True)

    checks = evaluations(result)
    assert sorted(checks) == sorted(TRIP_CHECK_NAMES)
    assert {name: e.passed for name, e in checks.items()} == {name: True for name in checks}


def test_wrong_schema_fails_with_error_and_lists_the_difference(make_resources, release_url, lake_dir):
    table = cleaned_sample("green", "2020-04")
    table = table.set_column(
        table.schema.get_field_index("vendor_id"), "vendor_id", table["vendor_id"].cast(pa.int64())
    )

    check = run_audit(make_resources(release_url), table, lake_dir)["schema_is_canonical"]

    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["differences"].value == ["column vendor_id is int64, expected int32"]
    assert check.description == ("the schema differs from the canonical one: column vendor_id is int64, expected int32")


def test_empty_file_fails_month_has_rows(make_resources, release_url, lake_dir):
    check = run_audit(make_resources(release_url), cleaned_sample("green", "2020-04").slice(0, 0), lake_dir)[
        "month_has_rows"
    ]

    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["rows"].value == 0


def test_null_dropoff_and_bad_zone_fail_with_counts(make_resources, release_url, lake_dir):
    table = cleaned_sample("green", "2020-04")
    dropoff = table["dropoff_datetime"].to_pylist()
    dropoff[:3] = [None, None, None]
    zones = table["pickup_location_id"].to_pylist()
    zones[0] = 999
    table = table.set_column(
        table.schema.get_field_index("dropoff_datetime"), "dropoff_datetime", pa.array(dropoff, pa.timestamp("us"))
    )
    table = table.set_column(
        table.schema.get_field_index("pickup_location_id"), "pickup_location_id", pa.array(zones, pa.int32())
    )

    checks = run_audit(make_resources(release_url), table, lake_dir)

    times, zones_check = checks["pickup_and_dropoff_times_present"], checks["location_ids_are_taxi_zones"]
    assert not times.passed and times.severity == dg.AssetCheckSeverity.ERROR
    assert times.metadata["null_dropoff_datetime"].value == 3
    assert times.description == "dropoff_datetime null in 3 of 35,612 rows"
    assert not zones_check.passed and zones_check.severity == dg.AssetCheckSeverity.ERROR
    assert zones_check.metadata["problems"].value["pickup_location_id"] == {"outside_zone_range": 1, "null": 0}


def test_a_file_of_another_month_blocks(make_resources, release_url, lake_dir):
    table = cleaned_sample("green", "2020-04")
    shifted = pc.add(table["pickup_datetime"], pa.scalar(datetime(2020, 6, 1) - datetime(2020, 4, 1)))
    table = table.set_column(table.schema.get_field_index("pickup_datetime"), "pickup_datetime", shifted)

    check = run_audit(make_resources(release_url), table, lake_dir)["pickups_within_the_month"]

    # Most pickups outside the month: June's file under April's name, not published (issue 15).
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["share_outside_month"].value > 0.99


def put_zone_table(lake_dir, data: bytes) -> str:
    """A zone table in the lake where `taxi_zones` keeps it; returns its path."""
    path = lake_zones(lake_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_without_a_zone_table_the_ids_are_checked_against_1_to_265(make_resources, release_url, lake_dir):
    check = run_audit(make_resources(release_url), cleaned_sample("green", "2020-04"), lake_dir)[
        "location_ids_are_taxi_zones"
    ]

    assert check.passed
    assert check.metadata["zone_ids_from"].value == "1..265 (no zone table loaded)"


def test_with_the_zone_table_in_the_lake_the_ids_are_checked_against_its_zones(make_resources, release_url, lake_dir):
    path = put_zone_table(lake_dir, release_zones().read_bytes())

    check = run_audit(make_resources(release_url), cleaned_sample("green", "2020-04"), lake_dir)[
        "location_ids_are_taxi_zones"
    ]

    assert check.passed
    assert check.metadata["zone_ids_from"].value == path


def test_an_id_in_1_to_265_that_the_zone_table_lacks_fails(make_resources, release_url, lake_dir):
    # The bundled table without zone 7 (Astoria): in 1..265, but no zone of this table.
    table = cleaned_sample("green", "2020-04")
    lines = release_zones().read_bytes().split(b"\r\n")
    path = put_zone_table(lake_dir, b"\r\n".join(line for line in lines if not line.startswith(b"7,")))
    expected = {
        name: {"outside_zone_range": pc.sum(pc.equal(table[name], 7).cast(pa.int64())).as_py(), "null": 0}
        for name in ("pickup_location_id", "dropoff_location_id")
    }
    assert expected["pickup_location_id"]["outside_zone_range"] > 0

    check = run_audit(make_resources(release_url), table, lake_dir)["location_ids_are_taxi_zones"]

    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["zone_ids_from"].value == path
    assert check.metadata["problems"].value == expected
