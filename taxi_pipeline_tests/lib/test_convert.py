"""Streaming conversion to the lake file, and the lenient reading of files with bad values."""

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.lib import parquet as lake_file
from taxi_pipeline.lib import parse
from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline.lib.convert import convert_to_lake_parquet
from taxi_pipeline.lib.malformed import MalformedRows
from taxi_pipeline.lib.parse import iter_trip_batches, open_trip_csv
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
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
