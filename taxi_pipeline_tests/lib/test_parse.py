"""Reading the course's CSV files as canonical tables, and the background stage they stream through."""

import csv
import gzip
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from taxi_pipeline.lib.parse import TripFileError, in_background, open_trip_csv
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
from taxi_pipeline_tests.support.tlc import sample_csv
from taxi_pipeline_tests.support.trips import read_trips_csv

COURSE_FHV_HEADER = (
    "dispatching_base_num,pickup_datetime,dropOff_datetime,PUlocationID,DOlocationID,SR_Flag,Affiliated_base_number"
)


def write_gz(path: Path, text: str, encoding: str = "utf8") -> Path:
    with gzip.open(path, "wb") as f:
        f.write(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    "color, month",
    [("green", "2020-04"), ("yellow", "2021-01"), ("fhv", "2019-01"), ("fhv", "2020-01")],
)
def test_reads_every_row_of_the_real_samples(color, month):
    parsed = read_trips_csv(release_file(color, month), color)

    assert parsed.table.num_rows == SAMPLE_ROWS[f"{color}|{month}-01"]
    assert parsed.extra_columns == []
    assert parsed.encoding == "utf8"
    for field in parsed.table.schema:
        assert field.type == CANONICAL_SCHEMA.field(field.name).type, field.name


def test_green_columns_map_to_canonical_names():
    table = read_trips_csv(release_file("green", "2020-04"), "green").table

    assert "pickup_datetime" in table.column_names and "lpep_pickup_datetime" not in table.column_names
    assert table["pickup_location_id"].type == pa.int32()
    first = table.slice(0, 1).to_pylist()[0]
    # First data line: 2,2020-04-01 00:44:02,2020-04-01 00:52:23,N,1,42,41,1,1.68,8,...
    assert first["vendor_id"] == 2
    assert str(first["pickup_datetime"]) == "2020-04-01 00:44:02"
    assert first["store_and_fwd_flag"] == "N"
    assert (first["pickup_location_id"], first["dropoff_location_id"]) == (42, 41)
    assert first["trip_distance"] == 1.68
    assert first["ehail_fee"] is None


def test_empty_integer_fields_are_null_not_zero():
    path = release_file("green", "2020-04")
    with gzip.open(path, "rt") as f:
        empty_vendor = sum(1 for row in csv.DictReader(f) if row["VendorID"] == "")

    table = read_trips_csv(path, "green").table

    assert empty_vendor > 0
    assert table["vendor_id"].null_count == empty_vendor


def test_fhv_course_header_variant_matches_case_insensitively(tmp_path):
    path = write_gz(
        tmp_path / "fhv.csv.gz",
        COURSE_FHV_HEADER + "\nB00001,2019-01-01 00:30:00,2019-01-01 02:51:55,,,,B00001\n"
        "B00014,2019-01-01 00:45:00,2019-01-01 00:54:49,264,265,1,\n",
    )

    parsed = read_trips_csv(path, "fhv")

    rows = parsed.table.to_pylist()
    assert len(rows) == 2
    assert rows[0]["affiliated_base_number"] == "B00001"
    assert rows[0]["pickup_location_id"] is None
    assert (rows[1]["pickup_location_id"], rows[1]["dropoff_location_id"], rows[1]["sr_flag"]) == (264, 265, 1)
    assert str(rows[1]["dropoff_datetime"]) == "2019-01-01 00:54:49"


def test_integers_written_as_floats_are_read_as_integers(tmp_path):
    header = "dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID,SR_Flag"
    path = write_gz(tmp_path / "fhv.csv.gz", f"{header}\nB1,2020-01-01 00:00:00,2020-01-01 00:10:00,264.0,7.0,1.0\n")

    row = read_trips_csv(path, "fhv").table.to_pylist()[0]

    assert (row["pickup_location_id"], row["dropoff_location_id"], row["sr_flag"]) == (264, 7, 1)


def test_fractional_value_in_integer_column_names_file_and_column(tmp_path):
    header = "dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID,SR_Flag"
    path = write_gz(tmp_path / "bad.csv.gz", f"{header}\nB1,2020-01-01 00:00:00,2020-01-01 00:10:00,26.5,7,\n")

    with pytest.raises(TripFileError, match=r"bad\.csv\.gz.*pickup_location_id"):
        read_trips_csv(path, "fhv")


def test_missing_required_column_names_it_and_the_expected_layout(tmp_path):
    path = write_gz(tmp_path / "yellow.csv.gz", "VendorID,tpep_pickup_datetime\n1,2021-01-01 00:00:00\n")

    with pytest.raises(TripFileError) as raised:
        read_trips_csv(path, "yellow")

    message = str(raised.value)
    assert "yellow.csv.gz" in message
    assert "tpep_dropoff_datetime" in message and "pulocationid" in message
    assert "expected layout" in message and "[congestion_surcharge]" in message


def test_extra_columns_are_listed_and_ignored(tmp_path):
    header = "dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID,airport_fee"
    path = write_gz(tmp_path / "fhv.csv.gz", f"{header}\nB1,2020-01-01 00:00:00,2020-01-01 00:10:00,1,2,3.5\n")

    parsed = read_trips_csv(path, "fhv")

    assert parsed.extra_columns == ["airport_fee"]
    assert "airport_fee" not in parsed.table.column_names


def test_latin1_file_is_decoded_as_latin1(tmp_path):
    header = (
        "dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID,SR_Flag,Affiliated_base_number"
    )
    text = f"{header}\nB1,2020-02-01 00:00:00,2020-02-01 00:10:00,1,2,,B\u00e9\n"
    path = write_gz(tmp_path / "fhv_tripdata_2020-02.csv.gz", text, encoding="latin-1")

    parsed = read_trips_csv(path, "fhv")

    assert parsed.encoding == "latin-1"
    assert parsed.table.to_pylist()[0]["affiliated_base_number"] == "B\u00e9"


def test_plain_csv_is_read_as_well_as_gzip(tmp_path):
    gz = release_file("fhv", "2019-01")
    plain = tmp_path / "fhv.csv"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))

    assert read_trips_csv(plain, "fhv").table.equals(read_trips_csv(gz, "fhv").table)


def test_empty_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "empty.csv.gz"
    path.write_bytes(b"")

    with pytest.raises(TripFileError, match=r"empty\.csv\.gz.*empty"):
        open_trip_csv(path, "green")


def test_unknown_color_is_rejected(tmp_path):
    with pytest.raises(TripFileError, match="unknown color 'purple'"):
        read_trips_csv(release_file("fhv", "2019-01"), "purple")


def test_a_remote_path_is_streamed_through_its_open_method():
    from upath import UPath

    remote = UPath("memory://release/green/green_tripdata_2020-04.csv.gz")
    remote.write_bytes(release_file("green", "2020-04").read_bytes())

    streamed = read_trips_csv(remote, "green")

    assert streamed.table.equals(read_trips_csv(release_file("green", "2020-04"), "green").table)


def test_malformed_values_are_dropped_and_counted_by_column(tmp_path):
    header = "dispatching_base_num,pickup_datetime,dropoff_datetime,PULocationID,DOLocationID,SR_Flag"
    good = "B1,2020-01-01 00:00:00,2020-01-01 00:10:00,26,7,"
    rows = [good] * 996 + [
        "B1,2020-01-01 00:00:00,2020-01-01 00:10:00,26,7,,extra,fields",  # wrong field count
        "B1,not a time,2020-01-01 00:10:00,26,7,",
        "B1,2020-01-01 00:00:00,2020-01-01 00:10:00,zone 26,7,",
        "B1,2020-01-01 00:00:00,2020-01-01 00:10:00,26,99999999999,",  # beyond int32
    ]
    path = write_gz(tmp_path / "fhv.csv.gz", header + "\n" + "\n".join(rows) + "\n")

    parsed = read_trips_csv(path, "fhv", max_malformed_share=0.01)

    assert parsed.table.num_rows == 996
    assert parsed.malformed.by_reason == {
        "wrong number of fields": 1,
        "pickup_datetime does not parse": 1,
        "pickup_location_id does not parse": 1,
        "dropoff_location_id does not parse": 1,
    }
    assert parsed.table.column("pickup_location_id").to_pylist() == [26] * 996


def test_a_yellow_file_offered_as_green_is_refused_naming_both(tmp_path):
    from datetime import date

    from taxi_pipeline.lib.convert import convert_to_lake_parquet

    with pytest.raises(TripFileError) as raised:
        convert_to_lake_parquet(release_file("yellow", "2021-01"), "green", date(2021, 1, 1), tmp_path / "out")

    assert str(raised.value) == (
        f"{release_file('yellow', '2021-01')}: green 2021-01: the file's columns are those of yellow "
        "(tpep_pickup_datetime, tpep_dropoff_datetime), not green"
    )


def test_column_names_that_read_as_one_column_are_refused_naming_them(tmp_path):
    with gzip.open(release_file("green", "2020-04"), "rt") as f:
        lines = [next(f).rstrip("\n"), next(f).rstrip("\n")]
    path = write_gz(tmp_path / "green.csv.gz", f"{lines[0]},PUlocationID\n{lines[1]},7\n")

    with pytest.raises(TripFileError) as raised:
        read_trips_csv(path, "green")

    assert str(raised.value) == (
        f"{path}: green: columns collide: PULocationID and PUlocationID both read as pickup_location_id; "
        "the file cannot be read unambiguously"
    )


def test_nan_text_is_nan_in_a_float_column_and_null_in_an_integer_column(tmp_path):
    header = "VendorID,lpep_pickup_datetime,lpep_dropoff_datetime,store_and_fwd_flag,RatecodeID,PULocationID"
    header += ",DOLocationID,passenger_count,trip_distance,fare_amount,extra,mta_tax,tip_amount,tolls_amount"
    header += ",ehail_fee,improvement_surcharge,total_amount,payment_type,trip_type,congestion_surcharge"
    row = "2,2020-04-01 00:00:00,2020-04-01 00:10:00,N,nan,7,8,nan,1.5,nan,0,0.5,inf,-inf,,0.3,NaN,1,1,0"
    path = write_gz(tmp_path / "green.csv.gz", f"{header}\n{row}\n")

    parsed = read_trips_csv(path, "green").table.to_pylist()[0]

    assert (parsed["ratecode_id"], parsed["passenger_count"], parsed["ehail_fee"]) == (None, None, None)
    assert str(parsed["fare_amount"]) == str(parsed["total_amount"]) == "nan"
    assert (parsed["tip_amount"], parsed["tolls_amount"]) == (float("inf"), float("-inf"))


# --- the background stage: order, errors handed over, producer stopped on close ---------------------


def test_items_arrive_in_order():
    assert list(in_background(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_in_the_producer_is_raised_in_the_consumer():
    def failing():
        yield 1
        raise ValueError("bad block")

    items = in_background(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad block"):
        next(items)


def test_closing_the_consumer_stops_the_producer():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    items = in_background(endless(), depth=2)
    assert next(items) == 0
    items.close()
    seen = len(produced)
    time.sleep(0.3)
    assert len(produced) == seen <= 4
    assert not any(t.name.startswith("taxi-pipeline-stage") for t in threading.enumerate())


def test_a_csv_with_the_tlc_fee_columns_maps_them_as_the_parquet_reader_does():
    parsed = read_trips_csv(sample_csv("yellow"), "yellow")

    assert parsed.extra_columns == []
    assert "airport_fee" in parsed.table.column_names


def test_a_lenient_read_keeps_an_int64_column_s_values_beyond_int32(tmp_path):
    lines = sample_csv("fhvhv").read_text().replace(".000000", "").splitlines()[:4]
    fields = [line.split(",") for line in lines]
    time, miles = fields[0].index('"trip_time"'), fields[0].index('"trip_miles"')
    fields[1][time] = str(2**32)  # trip_time is int64
    fields[2][miles] = "far"  # a value that does not parse: the file is read leniently
    path = write_gz(tmp_path / "fhvhv.csv.gz", "\n".join(",".join(row) for row in fields) + "\n")

    parsed = read_trips_csv(path, "fhvhv", max_malformed_share=0.5)

    assert parsed.malformed.by_reason == {"trip_distance does not parse": 1}
    assert parsed.table["trip_time"].to_pylist() == [2**32, int(fields[3][time])]
