"""Conversion to the lake file, streamed: the course's CSV files (with the lenient reading of bad
values) and the TLC's parquet files (every row, the canonical schema, values kept, unsafe values
counted as malformed, read batch by batch)."""

from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from upath import UPath

from taxi_pipeline.lib import convert, parse
from taxi_pipeline.lib import parquet as lake_file
from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline.lib.convert import convert_parquet_to_lake, convert_to_lake_parquet
from taxi_pipeline.lib.layouts import LAYOUTS
from taxi_pipeline.lib.parse import MalformedRows, TripFileError, iter_trip_batches, open_trip_csv
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
from taxi_pipeline_tests.support.tlc import (
    ERAS,
    SAMPLE_ROWS_2020_04,
    TLC_FILES,
    sample_as_parquet,
    sample_csv,
    tlc_file,
)
from taxi_pipeline_tests.support.trips import read_trips_csv


@pytest.mark.parametrize("key", list(SAMPLE_ROWS))
def test_streamed_lake_file_equals_the_whole_file_cleaned(key, tmp_path):
    color, month = key.split("|")[0], date.fromisoformat(key.split("|")[1])
    source = release_file(color, f"{month:%Y-%m}")

    converted = convert_to_lake_parquet(source, color, month, tmp_path / "out.parquet")

    expected, report = clean_trips(read_trips_csv(source, color).table, color, month)
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.schema == CANONICAL_SCHEMA
    assert written.equals(expected)
    assert converted.rows == SAMPLE_ROWS[key] and converted.report == report
    assert converted.preview.equals(expected.slice(0, 10))


def test_blocks_are_gathered_into_row_groups_of_at_least_the_configured_size(tmp_path, monkeypatch):
    monkeypatch.setattr(parse, "CSV_BLOCK_BYTES", 64 << 10)  # ~550 rows a block
    monkeypatch.setattr(lake_file, "ROW_GROUP_ROWS", 10_000)

    convert_to_lake_parquet(release_file("green", "2020-04"), "green", date(2020, 4, 1), tmp_path / "g.parquet")

    metadata = pq.ParquetFile(tmp_path / "g.parquet").metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == 35_612 and len(sizes) == 4
    assert all(10_000 <= size < 11_000 for size in sizes[:-1])


def test_lenient_reading_of_a_clean_file_equals_the_strict_reading():
    trips = open_trip_csv(release_file("green", "2020-04"), "green")
    malformed = MalformedRows()

    lenient = pa.concat_tables(iter_trip_batches(trips, "utf8", malformed, lenient=True))

    assert lenient.equals(read_trips_csv(release_file("green", "2020-04"), "green").table)
    assert malformed.rows == 0


def test_header_only_file_converts_to_an_empty_lake_file(tmp_path):
    source = tmp_path / "fhv.csv"
    source.write_text("dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID\n")

    converted = convert_to_lake_parquet(source, "fhv", date(2020, 1, 1), tmp_path / "out.parquet")

    assert converted.rows == 0 and converted.report.rows == 0
    assert pq.read_table(tmp_path / "out.parquet").schema == CANONICAL_SCHEMA


# --- the TLC's parquet files ---------------------------------------------------------------------

APRIL_2020 = date(2020, 4, 1)
GREEN_2023_02 = ("green", date(2023, 2, 1))


def _renames(service: str, schema: pa.Schema) -> dict[str, str]:
    columns = LAYOUTS[service].columns
    return {name: columns[name.lower()] for name in schema.names if name.lower() in columns}


def _green_slice(rows: int) -> pa.Table:
    """The first rows of the real green 2023-02 file (ids int32, codes int64)."""
    return pq.read_table(tlc_file(*GREEN_2023_02)).slice(0, rows)


@pytest.mark.parametrize(("service", "month"), list(TLC_FILES))
def test_real_tlc_file_lands_every_row_in_the_canonical_schema(service, month, tmp_path):
    source = tlc_file(service, month)

    converted = convert_parquet_to_lake(source, service, month, tmp_path / "out.parquet")

    assert converted.rows == TLC_FILES[(service, month)][1] == pq.ParquetFile(source).metadata.num_rows
    assert converted.malformed.rows == 0 and converted.extra_columns == []
    assert converted.encoding == "parquet"
    assert pq.read_schema(tmp_path / "out.parquet") == CANONICAL_SCHEMA
    # Every source column's values, cast by Arrow's own safe cast, are the lake file's.
    written, original = pq.read_table(tmp_path / "out.parquet"), pq.read_table(source)
    for name, canonical in _renames(service, original.schema).items():
        expected = pc.cast(original[name], CANONICAL_SCHEMA.field(canonical).type)
        if canonical == "passenger_count":
            expected = pc.fill_null(expected, 0)
        assert written[canonical].equals(expected), name
    assert written["color"].unique().to_pylist() == [service]
    assert written["source_month"].unique().to_pylist() == [month]
    assert converted.preview.equals(written.slice(0, 10))


def test_green_2022_01_older_types_keep_their_values(tmp_path):
    converted = convert_parquet_to_lake(tlc_file("green", date(2022, 1, 1)), "green", date(2022, 1, 1), tmp_path / "g")

    written = pq.read_table(tmp_path / "g")
    first = written.slice(0, 1).to_pylist()[0]
    assert first["vendor_id"] == 2 and first["pickup_datetime"] == datetime(2022, 1, 1, 0, 14, 21)
    assert (first["ratecode_id"], first["payment_type"], first["trip_type"], first["passenger_count"]) == (1, 2, 1, 1)
    assert first["pickup_location_id"] == 42 and first["total_amount"] == 4.8
    assert pc.sum(written["pickup_location_id"]).as_py() == 6_100_452
    assert written["ehail_fee"].null_count == 62_495  # Arrow's null type in the source
    assert converted.report.missing_passenger_count_before == 6_295
    assert written["ratecode_id"].null_count == 6_295


def test_green_2023_02_ids_after_the_int32_switch_keep_their_values(tmp_path):
    convert_parquet_to_lake(tlc_file(*GREEN_2023_02), "green", date(2023, 2, 1), tmp_path / "g")

    written = pq.read_table(tmp_path / "g")
    first = written.slice(0, 1).to_pylist()[0]
    assert (first["vendor_id"], first["pickup_location_id"], first["dropoff_location_id"]) == (1, 74, 265)
    assert (first["ratecode_id"], first["payment_type"], first["trip_type"]) == (1, 2, 1)
    assert pc.sum(written["pickup_location_id"]).as_py() == 6_480_140
    assert pc.max(written["ratecode_id"]).as_py() == 99
    assert written["store_and_fwd_flag"].type == pa.string()


def test_green_2025_11_keeps_the_cbd_congestion_fee(tmp_path):
    convert_parquet_to_lake(tlc_file("green", date(2025, 11, 1)), "green", date(2025, 11, 1), tmp_path / "g")

    written = pq.read_table(tmp_path / "g")
    fees = {row["values"]: row["counts"] for row in pc.value_counts(written["cbd_congestion_fee"]).to_pylist()}
    assert fees == {0.0: 42_845, 0.75: 4_063, -0.75: 4}
    vendors = {row["values"]: row["counts"] for row in pc.value_counts(written["vendor_id"]).to_pylist()}
    assert vendors == {2: 38_655, 1: 4_348, 6: 3_909}
    assert pc.sum(pc.less_equal(written["trip_distance"], 1.0)).as_py() == 8_009


def test_yellow_2025_01_airport_fee_with_a_capital_a_is_mapped(tmp_path):
    convert_parquet_to_lake(tlc_file("yellow", date(2025, 1, 1)), "yellow", date(2025, 1, 1), tmp_path / "y")

    first = pq.read_table(tmp_path / "y").slice(0, 1).to_pylist()[0]
    assert first["airport_fee"] == 0.0 and first["cbd_congestion_fee"] == 0.0
    assert first["pickup_datetime"] == datetime(2025, 1, 1, 0, 18, 38)
    assert (first["pickup_location_id"], first["dropoff_location_id"], first["congestion_surcharge"]) == (229, 237, 2.5)
    assert first["fare_amount"] == 10.0 and first["total_amount"] == 18.0


@pytest.mark.parametrize("era", list(ERAS))
@pytest.mark.parametrize("service", ["yellow", "green", "fhv"])
def test_2020_04_sample_in_each_eras_types_equals_the_csv_conversion(service, era, tmp_path):
    source = sample_as_parquet(service, era, tmp_path / "sample.parquet")

    converted = convert_parquet_to_lake(source, service, APRIL_2020, tmp_path / "from_parquet.parquet")
    convert_to_lake_parquet(sample_csv(service), service, APRIL_2020, tmp_path / "from_csv.parquet")

    assert converted.rows == SAMPLE_ROWS_2020_04 and converted.malformed.rows == 0
    assert pq.read_schema(tmp_path / "from_parquet.parquet") == CANONICAL_SCHEMA
    from_csv = pq.read_table(tmp_path / "from_csv.parquet")
    assert from_csv.num_rows == SAMPLE_ROWS_2020_04
    assert pq.read_table(tmp_path / "from_parquet.parquet").equals(from_csv)


@pytest.mark.parametrize("era", list(ERAS))
def test_2020_04_fhvhv_sample_in_each_eras_types_maps_the_app_columns(era, tmp_path):
    source = sample_as_parquet("fhvhv", era, tmp_path / "sample.parquet")

    converted = convert_parquet_to_lake(source, "fhvhv", APRIL_2020, tmp_path / "out.parquet")

    assert converted.rows == SAMPLE_ROWS_2020_04 and converted.malformed.rows == 0
    assert converted.extra_columns == []
    assert pq.read_schema(tmp_path / "out.parquet") == CANONICAL_SCHEMA
    written, csv = pq.read_table(tmp_path / "out.parquet"), pacsv.read_csv(sample_csv("fhvhv"))
    first = written.slice(0, 1).to_pylist()[0]
    assert first["hvfhs_license_num"] == "HV0003" and first["dispatching_base_num"] == "B02887"
    assert first["request_datetime"] == datetime(2020, 4, 24, 8, 19, 6)
    assert first["on_scene_datetime"] == datetime(2020, 4, 24, 8, 20, 34)
    assert (first["pickup_location_id"], first["dropoff_location_id"]) == (134, 132)
    assert (first["trip_distance"], first["trip_time"], first["base_passenger_fare"]) == (6.37, 824, 19.39)
    assert (first["bcf"], first["sales_tax"], first["driver_pay"]) == (0.48, 1.72, 13.93)
    assert first["access_a_ride_flag"] == " "  # as published, not trimmed
    # The app's base fare is not the meter's fare: fhvhv has no fare_amount.
    assert written["fare_amount"].null_count == SAMPLE_ROWS_2020_04
    assert written["tip_amount"].equals(csv["tips"]) and written["tolls_amount"].equals(csv["tolls"])
    assert written["airport_fee"].null_count == SAMPLE_ROWS_2020_04
    assert written["passenger_count"].null_count == SAMPLE_ROWS_2020_04  # fhvhv does not publish it
    assert written["color"].unique().to_pylist() == ["fhvhv"]


def test_a_fractional_code_and_an_id_beyond_int32_are_malformed_rows(tmp_path):
    table = _green_slice(5_000)
    ratecode = table["RatecodeID"].cast(pa.float64()).to_pylist()
    ratecode[10] = 1.5
    ratecode[20] = float("nan")  # pandas' missing value: null, not malformed
    locations = table["PULocationID"].cast(pa.int64()).to_pylist()
    locations[30] = 2**31
    locations[10] = 2**40  # the same row as the 1.5: counted once
    table = table.set_column(table.schema.get_field_index("RatecodeID"), "RatecodeID", pa.array(ratecode))
    table = table.set_column(table.schema.get_field_index("PULocationID"), "PULocationID", pa.array(locations))
    pq.write_table(table, tmp_path / "green.parquet")

    converted = convert_parquet_to_lake(tmp_path / "green.parquet", "green", date(2023, 2, 1), tmp_path / "out")

    assert converted.rows == 4_998
    assert converted.malformed.by_reason == {
        "ratecode_id does not fit int32": 1,
        "pickup_location_id does not fit int32": 1,
    }
    assert converted.malformed.examples == ["RatecodeID=1.5 (double)", f"PULocationID={2**31} (int64)"]
    written = pq.read_table(tmp_path / "out")
    assert written.num_rows == 4_998 and written["ratecode_id"][19].as_py() is None


def test_more_malformed_rows_than_allowed_fail_naming_the_file_and_the_column(tmp_path):
    table = _green_slice(1_000)
    codes = table["payment_type"].cast(pa.float64()).to_pylist()
    codes[:5] = [2.5] * 5
    table = table.set_column(table.schema.get_field_index("payment_type"), "payment_type", pa.array(codes))
    pq.write_table(table, tmp_path / "green_bad.parquet")

    with pytest.raises(TripFileError, match=r"green_bad\.parquet: 5 of 1,000 rows .* payment_type does not fit int32"):
        convert_parquet_to_lake(tmp_path / "green_bad.parquet", "green", date(2023, 2, 1), tmp_path / "out")


def test_an_unknown_column_is_ignored_and_listed(tmp_path):
    table = pq.read_table(tlc_file("yellow", date(2025, 1, 1)))
    pq.write_table(table.append_column("request_source", pa.array(["app"] * 5)), tmp_path / "y.parquet")

    converted = convert_parquet_to_lake(tmp_path / "y.parquet", "yellow", date(2025, 1, 1), tmp_path / "out")
    convert_parquet_to_lake(tlc_file("yellow", date(2025, 1, 1)), "yellow", date(2025, 1, 1), tmp_path / "plain")

    assert converted.extra_columns == ["request_source"] and converted.rows == 5
    assert pq.read_table(tmp_path / "out").equals(pq.read_table(tmp_path / "plain"))


def test_a_missing_required_column_fails_naming_the_file_the_column_and_the_layout(tmp_path):
    pq.write_table(_green_slice(100).drop_columns(["PULocationID"]), tmp_path / "green_nopu.parquet")

    with pytest.raises(
        TripFileError, match=r"green_nopu\.parquet: green file lacks required column\(s\) pulocationid; "
    ):
        convert_parquet_to_lake(tmp_path / "green_nopu.parquet", "green", date(2023, 2, 1), tmp_path / "out")
    with pytest.raises(TripFileError, match=r"expected layout: vendorid, lpep_pickup_datetime"):
        convert_parquet_to_lake(tmp_path / "green_nopu.parquet", "green", date(2023, 2, 1), tmp_path / "out")


def test_a_column_with_no_safe_conversion_fails_naming_it(tmp_path):
    table = _green_slice(100)
    index = table.schema.get_field_index("trip_distance")
    pq.write_table(table.set_column(index, "trip_distance", pa.array(["1.0"] * 100)), tmp_path / "g.parquet")

    with pytest.raises(
        TripFileError, match=r"g\.parquet: column trip_distance \(string\) cannot be read as trip_distance"
    ):
        convert_parquet_to_lake(tmp_path / "g.parquet", "green", date(2023, 2, 1), tmp_path / "out")


def test_a_file_that_is_not_parquet_fails_naming_it(tmp_path):
    (tmp_path / "green.parquet").write_bytes(b"<html>AccessDenied</html>")

    with pytest.raises(TripFileError, match=r"green\.parquet: cannot read as parquet"):
        convert_parquet_to_lake(tmp_path / "green.parquet", "green", date(2023, 2, 1), tmp_path / "out")


def test_an_unknown_service_fails(tmp_path):
    with pytest.raises(TripFileError, match=r"unknown TLC service 'blue'"):
        convert_parquet_to_lake(tlc_file(*GREEN_2023_02), "blue", date(2023, 2, 1), tmp_path / "out")


def test_zoned_and_coarser_timestamps_become_new_york_wall_clock_microseconds(tmp_path):
    table = _green_slice(3)
    utc = pa.array([datetime(2023, 2, 1, 5, 46, 22)] * 3, pa.timestamp("ms", "UTC"))
    seconds = pa.array([datetime(2023, 2, 1, 1, 5, 57)] * 3, pa.timestamp("s"))
    table = table.set_column(1, "lpep_pickup_datetime", utc).set_column(2, "lpep_dropoff_datetime", seconds)
    pq.write_table(table, tmp_path / "g.parquet")

    convert_parquet_to_lake(tmp_path / "g.parquet", "green", date(2023, 2, 1), tmp_path / "out")

    written = pq.read_table(tmp_path / "out")
    assert written["pickup_datetime"].to_pylist() == [datetime(2023, 2, 1, 0, 46, 22)] * 3  # EST is UTC-5
    assert written["dropoff_datetime"].to_pylist() == [datetime(2023, 2, 1, 1, 5, 57)] * 3


def test_a_file_of_many_row_groups_is_read_and_written_batch_by_batch(tmp_path, monkeypatch):
    pq.write_table(_green_slice(1_000), tmp_path / "groups.parquet", row_group_size=100)
    assert pq.ParquetFile(tmp_path / "groups.parquet").metadata.num_row_groups == 10
    seen = []
    clean_trips = convert.clean_trips

    def spy(table, color, month):
        seen.append(table.num_rows)
        return clean_trips(table, color, month)

    def whole_file(*args, **kwargs):
        raise AssertionError("the whole file was read at once")

    with monkeypatch.context() as patch:
        patch.setattr(convert, "clean_trips", spy)
        patch.setattr(pq.ParquetFile, "read", whole_file)
        patch.setattr(lake_file, "ROW_GROUP_ROWS", 300)
        converted = convert_parquet_to_lake(
            tmp_path / "groups.parquet", "green", date(2023, 2, 1), tmp_path / "out", batch_size=64
        )

    assert converted.rows == 1_000 and sum(seen) == 1_000
    assert len(seen) >= 16 and max(seen) <= 64  # at least ceil(1,000 / 64) batches, none larger
    metadata = pq.ParquetFile(tmp_path / "out").metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == 1_000 and len(sizes) > 1 and all(size >= 300 for size in sizes[:-1])
    convert_parquet_to_lake(tmp_path / "groups.parquet", "green", date(2023, 2, 1), tmp_path / "at_once")
    assert pq.read_table(tmp_path / "out").equals(pq.read_table(tmp_path / "at_once"))


def test_a_source_opened_through_upath_converts_like_a_local_path(tmp_path):
    source = UPath("memory:///tlc/yellow_tripdata_2025-01.parquet")
    source.write_bytes(tlc_file("yellow", date(2025, 1, 1)).read_bytes())

    converted = convert_parquet_to_lake(source, "yellow", date(2025, 1, 1), tmp_path / "out")
    convert_parquet_to_lake(tlc_file("yellow", date(2025, 1, 1)), "yellow", date(2025, 1, 1), tmp_path / "local")

    assert converted.rows == 5
    assert pq.read_table(tmp_path / "out").equals(pq.read_table(tmp_path / "local"))


def test_an_empty_file_converts_to_an_empty_lake_file(tmp_path):
    pq.write_table(_green_slice(0), tmp_path / "empty.parquet")

    converted = convert_parquet_to_lake(tmp_path / "empty.parquet", "green", date(2023, 2, 1), tmp_path / "out")

    assert converted.rows == 0 and converted.report.rows == 0
    assert pq.read_schema(tmp_path / "out") == CANONICAL_SCHEMA


@pytest.mark.parametrize(
    "offered, served, signature",
    [
        ("fhv", "fhvhv", "fhvhv (hvfhs_license_num)"),
        ("fhvhv", "fhv", "fhv (dispatching_base_num, pickup_datetime)"),
        ("yellow", "green", "green (lpep_pickup_datetime, lpep_dropoff_datetime)"),
        ("green", "yellow", "yellow (tpep_pickup_datetime, tpep_dropoff_datetime)"),
    ],
)
def test_another_services_file_is_refused_naming_both(offered, served, signature, tmp_path):
    path = sample_as_parquet(served, "2023", tmp_path / f"{offered}_tripdata_2020-04.parquet")

    with pytest.raises(TripFileError) as raised:
        convert_parquet_to_lake(path, offered, date(2020, 4, 1), tmp_path / "out")

    assert str(raised.value) == f"{path}: {offered} 2020-04: the file's columns are those of {signature}, not {offered}"


def test_airport_fee_in_two_casings_is_refused_naming_both(tmp_path):
    table = pq.read_table(tlc_file("yellow", date(2025, 1, 1)))
    pq.write_table(table.append_column("airport_fee", table["Airport_fee"]), tmp_path / "y.parquet")

    with pytest.raises(TripFileError) as raised:
        convert_parquet_to_lake(tmp_path / "y.parquet", "yellow", date(2025, 1, 1), tmp_path / "out")

    assert str(raised.value) == (
        f"{tmp_path / 'y.parquet'}: yellow 2025-01: columns collide: Airport_fee and airport_fee both read as "
        "airport_fee; the file cannot be read unambiguously"
    )
