import csv
import gzip
from datetime import date, datetime

import pyarrow as pa
import pytest

from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.samples import release_file
from taxi_pipeline_tests.support.trips import read_trips_csv


def source_rows(color: str, month: str) -> list[dict]:
    with gzip.open(release_file(color, month), "rt", newline="") as f:
        return list(csv.DictReader(f))


def cleaned(color: str, month: str):
    parsed = read_trips_csv(release_file(color, month), color)
    return clean_trips(parsed.table, color, date.fromisoformat(f"{month}-01"))


@pytest.mark.parametrize("color, month", [("green", "2020-04"), ("yellow", "2021-01"), ("fhv", "2019-01")])
def test_every_color_comes_out_in_the_canonical_schema_with_every_row(color, month):
    table, report = cleaned(color, month)

    assert table.schema == CANONICAL_SCHEMA
    assert table.num_rows == report.rows == len(source_rows(color, month))
    assert table["color"].unique().to_pylist() == [color]
    assert table["source_month"].unique().to_pylist() == [date.fromisoformat(f"{month}-01")]


def test_missing_passenger_counts_are_counted_then_filled_with_zero():
    rows = source_rows("green", "2020-04")
    empty = sum(1 for row in rows if row["passenger_count"] == "")

    table, report = cleaned("green", "2020-04")

    assert empty > 0
    assert report.missing_passenger_count_before == empty
    assert report.missing_passenger_count_after == 0
    assert table["passenger_count"].null_count == 0
    assert table["passenger_count"].to_pylist().count(0) == empty + sum(1 for r in rows if r["passenger_count"] == "0")


def test_fhv_publishes_no_passenger_count_so_it_stays_null():
    table, report = cleaned("fhv", "2019-01")

    assert table["passenger_count"].null_count == table.num_rows
    assert (report.missing_passenger_count_before, report.missing_passenger_count_after) == (None, None)
    assert not report.has_passenger_count
    assert table["fare_amount"].null_count == table.num_rows


def test_pickups_outside_the_month_are_counted_like_the_source_says():
    start, end = datetime(2020, 4, 1), datetime(2020, 5, 1)
    outside = sum(
        1
        for row in source_rows("green", "2020-04")
        if not start <= datetime.fromisoformat(row["lpep_pickup_datetime"]) < end
    )

    _, report = cleaned("green", "2020-04")

    assert outside > 0
    assert report.pickups_outside_month == outside


def test_null_counts_cover_every_canonical_column():
    table, report = cleaned("green", "2020-04")

    assert set(report.null_counts) == set(CANONICAL_SCHEMA.names)
    assert report.null_counts["ehail_fee"] == table.num_rows
    assert report.null_counts["dispatching_base_num"] == table.num_rows
    assert report.null_counts["pickup_datetime"] == 0


def test_empty_table_cleans_to_empty_canonical_table():
    parsed = pa.table({"pickup_datetime": pa.array([], pa.timestamp("us"))})

    table, report = clean_trips(parsed, "fhv", date(2020, 1, 1))

    assert table.schema == CANONICAL_SCHEMA
    assert report.rows == 0 and report.pickups_outside_month == 0


def test_source_month_must_be_a_first_day():
    with pytest.raises(ValueError, match="first day"):
        clean_trips(pa.table({"pickup_datetime": pa.array([], pa.timestamp("us"))}), "fhv", date(2020, 1, 2))
