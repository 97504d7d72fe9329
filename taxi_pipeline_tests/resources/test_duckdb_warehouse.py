from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from upath import UPath

from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline.resources.warehouse import SliceMismatchError
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.clean import clean_trips
from taxi_pipeline.transforms.parse import read_trips_csv
from taxi_pipeline_tests.conftest import release_file

APRIL, JAN_2021 = date(2020, 4, 1), date(2021, 1, 1)


def write_lake_file(path, color: str, sample_month: str, as_month: date) -> UPath:
    parsed = read_trips_csv(release_file(color, sample_month), color)
    table, _ = clean_trips(parsed.table, color, as_month)
    pq.write_table(table, path)
    return UPath(path)


def slice_rows(database, color, month) -> int:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM trips WHERE color=? AND source_month=?", [color, month]).fetchone()[0]


@pytest.fixture
def warehouse(duckdb_path):
    return DuckDBWarehouse(database=str(duckdb_path))


def test_load_creates_the_table_with_the_canonical_columns(warehouse, duckdb_path, tmp_path):
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)

    load = warehouse.load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.rows_replaced, load.slice_rows) == (35_612, 0, 35_612)
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        columns = conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name='trips' ORDER BY ordinal_position").fetchall()
    assert [name for name, _ in columns] == CANONICAL_SCHEMA.names
    assert dict(columns)["pickup_datetime"] == "TIMESTAMP"


def test_reloading_a_slice_replaces_it(warehouse, duckdb_path, tmp_path):
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)
    warehouse.load_slice(lake, "green", APRIL)

    load = warehouse.load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.rows_replaced, load.slice_rows) == (35_612, 35_612, 35_612)
    assert slice_rows(duckdb_path, "green", APRIL) == 35_612


def test_slices_of_other_colors_and_months_are_kept(warehouse, duckdb_path, tmp_path):
    warehouse.load_slice(write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL), "green", APRIL)
    warehouse.load_slice(write_lake_file(tmp_path / "y.parquet", "yellow", "2021-01", JAN_2021), "yellow", JAN_2021)
    warehouse.load_slice(write_lake_file(tmp_path / "f.parquet", "fhv", "2019-01", APRIL), "fhv", APRIL)

    assert warehouse.slice_counts() == [("fhv", APRIL, 18), ("green", APRIL, 35_612), ("yellow", JAN_2021, 22_792)]


def test_a_file_of_another_slice_is_refused_and_the_old_slice_stays(warehouse, duckdb_path, tmp_path):
    warehouse.load_slice(write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL), "green", APRIL)
    wrong = write_lake_file(tmp_path / "y.parquet", "yellow", "2021-01", JAN_2021)

    with pytest.raises(SliceMismatchError, match="22792 of 22792 rows are not green 2020-04"):
        warehouse.load_slice(wrong, "green", APRIL)

    assert warehouse.slice_counts() == [("green", APRIL, 35_612)]


def test_an_unreadable_lake_file_leaves_the_old_slice(warehouse, duckdb_path, tmp_path):
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)
    warehouse.load_slice(lake, "green", APRIL)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(lake.read_bytes()[: 4096])

    with pytest.raises(duckdb.Error):
        warehouse.load_slice(UPath(broken), "green", APRIL)

    assert slice_rows(duckdb_path, "green", APRIL) == 35_612


def test_empty_warehouse_has_no_slices(warehouse):
    assert warehouse.slice_counts() == []


def test_types_survive_the_load(warehouse, duckdb_path, tmp_path):
    table = pa.table(
        {"pickup_datetime": pa.array([None], pa.timestamp("us"))}
    )
    cleaned, _ = clean_trips(table, "fhv", APRIL)
    pq.write_table(cleaned, tmp_path / "one.parquet")

    warehouse.load_slice(UPath(tmp_path / "one.parquet"), "fhv", APRIL)

    assert warehouse.slice_counts() == [("fhv", APRIL, 1)]
