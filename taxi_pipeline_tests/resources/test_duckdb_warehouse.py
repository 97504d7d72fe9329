"""DuckDB-specific behaviour; what every backend does is in test_warehouse_contract.py."""

from datetime import date

import duckdb
import pyarrow.parquet as pq
import pytest
from upath import UPath

from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline.transforms.clean import clean_trips
from taxi_pipeline_tests.support.samples import release_file
from taxi_pipeline_tests.support.trips import read_trips_csv

APRIL = date(2020, 4, 1)


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


def test_columns_take_duckdb_types(warehouse, duckdb_path, tmp_path):
    warehouse.load_slice(write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL), "green", APRIL)

    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        columns = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name='trips'").fetchall())

    assert (columns["pickup_datetime"], columns["source_month"], columns["vendor_id"]) == ("TIMESTAMP", "DATE", "INTEGER")


def test_an_unreadable_lake_file_leaves_the_old_slice(warehouse, duckdb_path, tmp_path):
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)
    warehouse.load_slice(lake, "green", APRIL)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(lake.read_bytes()[: 4096])

    with pytest.raises(duckdb.Error):
        warehouse.load_slice(UPath(broken), "green", APRIL)

    assert slice_rows(duckdb_path, "green", APRIL) == 35_612
