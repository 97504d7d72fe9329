"""DuckDB-specific behaviour; what every backend does is in test_warehouse_contract.py."""

from datetime import date

import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.trips import cleaned_sample
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

APRIL = date(2020, 4, 1)


def write_lake_file(path, color: str, sample_month: str, as_month: date) -> UPath:
    return write_parquet(cleaned_sample(color, sample_month, as_month), path)


@pytest.fixture
def warehouse(duckdb_path):
    return DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path)))


def test_columns_take_duckdb_types(warehouse, duckdb_path, tmp_path):
    warehouse.load_slice(write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL), "green", APRIL)

    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        columns = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='trips'"
            ).fetchall()
        )

    assert (columns["pickup_datetime"], columns["source_month"], columns["vendor_id"]) == (
        "TIMESTAMP",
        "DATE",
        "INTEGER",
    )


def test_an_unreadable_lake_file_leaves_the_old_slice(warehouse, duckdb_path, tmp_path):
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)
    warehouse.load_slice(lake, "green", APRIL)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(lake.read_bytes()[:4096])

    with pytest.raises(ValueError, match=r"broken\.parquet is not a readable parquet file"):
        warehouse.load_slice(UPath(broken), "green", APRIL)

    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}
