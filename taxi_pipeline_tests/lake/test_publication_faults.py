"""Broken publications of real months (issue 21): every row twice, NaN or infinite fares, a
required column entirely null, trips that end before they start, another service's file, column
names that collide. Each is blocked by the audit (neither published nor loaded, the check's
description naming its numbers) or refused by the converter; the real months pass
(quality/test_checks.py, test_pipeline_tlc.py).

Each test builds the bad file from a real one, serves it from a file:// mirror and runs the real
assets and their checks into DuckDB.
"""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, TRIP_CHECKS, step_failures
from taxi_pipeline_tests.support.samples import lake_file, mirror_of_lines, release_lines
from taxi_pipeline_tests.support.tlc import TLC_ZONES, sample_as_parquet, tlc_file
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = pytest.mark.faults

GREEN_APRIL = "green|2020-04-01"
GREEN_ROWS = 35_612
ERROR = dg.AssetCheckSeverity.ERROR


def with_column(lines: list[str], name: str, value, every: int = 1) -> list[str]:
    """`lines` with column `name` set to `value(fields)` (or `value`) on every `every`-th row."""
    index = lines[0].split(",").index(name)
    changed = [lines[0]]
    for number, line in enumerate(lines[1:]):
        fields = line.split(",")
        if number % every == 0:
            fields[index] = value(fields) if callable(value) else value
        changed.append(",".join(fields))
    return changed


def run(resources, key=GREEN_APRIL, instance=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        TRIP_ASSETS + TRIP_CHECKS, partition_key=key, resources=resources, instance=instance, raise_on_error=False
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def assert_blocked(result, name: str, description: str) -> dg.AssetCheckEvaluation:
    """The check failed with severity ERROR and exactly `description`, and the run failed."""
    check = checks(result)[name]
    assert (check.passed, check.severity, check.description) == (False, ERROR, description)
    assert not result.success
    return check


def assert_not_published(lake_dir, duckdb_path, color: str, month: str) -> None:
    assert not lake_file(lake_dir, color, month).exists() and warehouse_rows(duckdb_path) == {}


# --- rows far above the previous publication, and rows that repeat ------------------------


def test_a_month_republished_with_every_row_twice_is_not_published(
    tmp_path, release_url, make_resources, lake_dir, duckdb_path
):
    instance = dg.DagsterInstance.ephemeral()
    assert run(make_resources(release_url), instance=instance).success
    lines = release_lines("green", "2020-04")

    result = run(
        make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines + lines[1:])), instance=instance
    )

    rows = assert_blocked(
        result,
        "rows_near_previous_publication",
        "71,224 rows, 100.0% more than the 35,612 last published; every row twice? "
        "If the source really grew, raise TAXI_ROW_GROWTH_BLOCK",
    )
    assert rows.metadata["growth_share"].value == 1.0
    duplicates = assert_blocked(
        result,
        "rows_are_not_duplicated",
        "35,612 of 71,224 rows (50.0%) repeat an earlier row exactly, more than 1%",
    )
    assert duplicates.metadata["duplicate_rows"].value == GREEN_ROWS
    assert pq.read_metadata(lake_file(lake_dir, "green", "2020-04")).num_rows == GREEN_ROWS
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS}


def test_a_first_publication_with_every_row_twice_is_not_published(tmp_path, make_resources, lake_dir, duckdb_path):
    lines = release_lines("green", "2020-04")

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines + lines[1:])))

    assert checks(result)["rows_near_previous_publication"].passed  # nothing to compare with
    assert_blocked(
        result,
        "rows_are_not_duplicated",
        "35,612 of 71,224 rows (50.0%) repeat an earlier row exactly, more than 1%",
    )
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


def test_a_month_republished_with_somewhat_more_rows_warns_and_is_published(
    tmp_path, make_resources, release_url, lake_dir, duckdb_path
):
    instance = dg.DagsterInstance.ephemeral()
    first = mirror_of_lines(tmp_path / "first", "green", "2020-04", release_lines("green", "2020-04")[:30_001])
    assert run(make_resources(first), instance=instance).success

    result = run(make_resources(release_url), instance=instance)

    assert result.success
    check = checks(result)["rows_near_previous_publication"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert check.description == "35,612 rows, 18.7% more than the 30,000 last published"
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS}


# --- NaN and infinity ------------------------------------------------------------------------


def test_nan_and_infinite_fares_in_a_course_csv_are_not_published(tmp_path, make_resources, lake_dir, duckdb_path):
    lines = with_column(release_lines("green", "2020-04"), "fare_amount", "nan", every=100)
    lines = with_column(lines, "total_amount", "inf", every=1_000)
    lines = with_column(lines, "tip_amount", "-inf", every=10_000)

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines)))

    check = assert_blocked(
        result,
        "floats_are_finite",
        "NaN or infinite values in fare_amount 357, tip_amount 4, total_amount 36 of 35,612 rows",
    )
    assert check.metadata["non_finite"].value["extra"] == 0
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


# --- a required column entirely null -----------------------------------------------------------


def test_a_month_without_fares_is_not_published(tmp_path, make_resources, lake_dir, duckdb_path):
    lines = with_column(release_lines("green", "2020-04"), "fare_amount", "")

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines)))

    check = assert_blocked(
        result,
        "required_columns_filled",
        "fare_amount null in 35,612 of 35,612 rows (100.0%), more than the 0.1% allowed for green",
    )
    assert check.metadata["null_rows"].value["total_amount"] == 0
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


def test_an_fhv_month_without_any_location_is_not_published(tmp_path, make_resources, lake_dir, duckdb_path):
    lines = release_lines("fhv", "2020-01")
    lines = with_column(with_column(lines, "PULocationID", ""), "DOLocationID", "")

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "fhv", "2020-01", lines)), key="fhv|2020-01-01")

    assert_blocked(
        result,
        "required_columns_filled",
        "pickup_and_dropoff_location_id null in 16 of 16 rows (100.0%), more than the 99.0% allowed for fhv",
    )
    assert_not_published(lake_dir, duckdb_path, "fhv", "2020-01")


def test_missing_times_and_ids_outside_the_zones_are_named_with_their_numbers(
    tmp_path, make_resources, lake_dir, duckdb_path
):
    lines = with_column(release_lines("green", "2020-04"), "lpep_dropoff_datetime", "", every=12_000)
    lines = with_column(lines, "PULocationID", "999", every=20_000)

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines)))

    assert_blocked(result, "pickup_and_dropoff_times_present", "dropoff_datetime null in 3 of 35,612 rows")
    assert_blocked(
        result,
        "location_ids_are_taxi_zones",
        "pickup_location_id: 2 ids no zone of 1..265 (no zone table loaded), 0 null",
    )
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


def test_a_header_only_file_is_named_empty(tmp_path, make_resources, lake_dir, duckdb_path):
    result = run(
        make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", release_lines("green", "2020-04")[:1]))
    )

    assert_blocked(result, "month_has_rows", "0 rows: the file holds no trip")
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


# --- impossible trips --------------------------------------------------------------------------


def test_trips_ending_before_they_start_and_negative_passengers_are_not_published(
    tmp_path, make_resources, lake_dir, duckdb_path
):
    lines = release_lines("green", "2020-04")
    header = lines[0].split(",")
    pickup, dropoff = header.index("lpep_pickup_datetime"), header.index("lpep_dropoff_datetime")

    def swapped(fields: list[str]) -> str:  # the drop-off time becomes the pickup's
        fields[pickup], fields[dropoff] = fields[dropoff], fields[pickup]
        return fields[dropoff]

    lines = with_column(lines, "lpep_dropoff_datetime", swapped, every=5)
    lines = with_column(lines, "passenger_count", "-1", every=50)

    result = run(make_resources(mirror_of_lines(tmp_path / "release", "green", "2020-04", lines)))

    # Of the 7,123 trips swapped, 10 lasted no time at all and still end as they start.
    check = assert_blocked(
        result,
        "trips_are_possible",
        "7,113 of 35,612 trips (20.0%) end before they start, more than 1%; "
        "713 of 35,612 trips (2.0%) carry negative passengers, more than 1%",
    )
    assert check.metadata["dropoff_before_pickup"].value == 7_113
    assert_not_published(lake_dir, duckdb_path, "green", "2020-04")


# --- TLC parquet: NaN, a column of nulls, another service's file -----------------------------


def tlc_run(monkeypatch, tmp_path, key: str, table: pa.Table | None = None, file=None) -> dg.ExecuteInProcessResult:
    """`trips_job` for `key` with TAXI_SOURCE=tlc from a file:// mirror holding `table` (or a copy
    of `file`) as that month's file, into the test's lake and DuckDB."""
    service, month = key.split("|")
    trip_data = tmp_path / "tlc" / "trip-data"
    trip_data.mkdir(parents=True)
    (tmp_path / "tlc" / "misc").mkdir()
    (tmp_path / "tlc" / "misc" / "taxi_zone_lookup.csv").write_bytes(TLC_ZONES.read_bytes())
    path = trip_data / f"{service}_tripdata_{month[:7]}.parquet"
    if table is not None:
        pq.write_table(table, path)
    else:
        path.write_bytes(file.read_bytes())
    for name, value in {
        "TAXI_SOURCE": "tlc",
        "TAXI_FIRST_MONTH": "2020-01",
        "TAXI_SOURCE_URL": trip_data.as_uri(),
        "TAXI_LAKE_DIR": str(tmp_path / "lake"),
        "TAXI_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(Settings.from_environment())
    with dg.instance_for_test() as instance:
        return defs.resolve_job_def("trips_job").execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )


def every(step: int, rows: int) -> pa.Array:
    return pa.array([n % step == 0 for n in range(rows)])


def test_nan_and_infinite_fares_in_a_tlc_parquet_file_are_not_published(monkeypatch, tmp_path):
    from datetime import date

    table = pq.read_table(tlc_file("green", date(2022, 1, 1)))
    rows = table.num_rows
    fares = pc.if_else(every(100, rows), float("nan"), table["fare_amount"])
    tips = pc.if_else(every(1_000, rows), float("inf"), table["tip_amount"])
    table = table.set_column(table.column_names.index("fare_amount"), "fare_amount", fares)
    table = table.set_column(table.column_names.index("tip_amount"), "tip_amount", tips)

    result = tlc_run(monkeypatch, tmp_path, "green|2022-01-01", table)

    assert_blocked(
        result,
        "floats_are_finite",
        "NaN or infinite values in fare_amount 625, tip_amount 63 of 62,495 rows",
    )
    assert_not_published(tmp_path / "lake", tmp_path / "warehouse.duckdb", "green", "2022-01")


def test_an_fhvhv_month_whose_pickup_zones_are_all_null_is_not_published(monkeypatch, tmp_path):
    table = pq.read_table(sample_as_parquet("fhvhv", "2023", tmp_path / "sample.parquet"))
    index = table.column_names.index("PULocationID")
    table = table.set_column(index, "PULocationID", pa.nulls(table.num_rows, pa.int32()))

    result = tlc_run(monkeypatch, tmp_path, "fhvhv|2020-04-01", table)

    assert_blocked(
        result,
        "required_columns_filled",
        "pickup_location_id null in 1,000 of 1,000 rows (100.0%), more than the 0.1% allowed for fhvhv",
    )
    assert_not_published(tmp_path / "lake", tmp_path / "warehouse.duckdb", "fhvhv", "2020-04")


def test_an_fhvhv_file_offered_as_fhv_is_refused_naming_both(monkeypatch, tmp_path):
    fhvhv = sample_as_parquet("fhvhv", "2020", tmp_path / "fhvhv.parquet")

    result = tlc_run(monkeypatch, tmp_path, "fhv|2020-04-01", file=fhvhv)

    failures = step_failures(result)
    assert list(failures) == ["cleaned_trips"]
    assert (
        "fhv_tripdata_2020-04.parquet: fhv 2020-04: the file's columns are those of fhvhv (hvfhs_license_num), "
        "not fhv" in failures["cleaned_trips"]
    )
    assert_not_published(tmp_path / "lake", tmp_path / "warehouse.duckdb", "fhv", "2020-04")
