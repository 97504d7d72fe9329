"""DuckDB-specific behaviour; what every backend does is in test_warehouse_contract.py."""

from datetime import date

import duckdb
import pyarrow as pa
import pytest
from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline.errors import PermanentError
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.samples import ZONES_ROWS, release_zones
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


# Folder names holding a glob character, each beside a sibling folder `ab` that the name read as a
# pattern matches: `a*` and `a?` match both folders, `a[b]` only the sibling.
GLOB_FOLDERS = ["a*", "a?", "a[b]"]


@pytest.mark.parametrize("folder", GLOB_FOLDERS)
def test_a_lake_file_and_a_duckdb_file_under_a_glob_named_folder_are_read_as_named(tmp_path, folder):
    named, sibling = tmp_path / folder, tmp_path / "ab"
    named.mkdir()
    sibling.mkdir()
    # The sibling holds files of the same names: another 1,000-row green April and its own DuckDB.
    write_parquet(cleaned_sample("green", "2020-04", APRIL).slice(0, 1_000), sibling / "green.parquet")
    DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(sibling / "warehouse.duckdb"))).load_slice(
        UPath(sibling / "green.parquet"), "green", APRIL
    )
    lake = write_lake_file(named / "green.parquet", "green", "2020-04", APRIL)
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(named / "warehouse.duckdb")))

    load = warehouse.load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.slice_rows) == (35_612, 35_612)
    assert warehouse_rows(named / "warehouse.duckdb") == {("green", "2020-04"): 35_612}
    assert warehouse_rows(sibling / "warehouse.duckdb") == {("green", "2020-04"): 1_000}
    # Nothing beside them: no WAL or spill folder at a path DuckDB made up from the name.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([folder, "ab"])
    assert sorted(p.name for p in named.iterdir()) == ["green.parquet", "warehouse.duckdb"]


@pytest.mark.parametrize("folder", GLOB_FOLDERS)
def test_a_zone_file_under_a_glob_named_folder_is_read_as_named(tmp_path, folder):
    named, sibling = tmp_path / folder, tmp_path / "ab"
    sibling.mkdir()
    (sibling / "taxi_zone_lookup.csv").write_bytes(
        b'"LocationID","Borough","Zone","service_zone"\r\n1,"EWR","Newark Airport","EWR"\r\n'
    )
    named.mkdir()
    (named / "taxi_zone_lookup.csv").write_bytes(release_zones().read_bytes())
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(tmp_path / "warehouse.duckdb")))

    assert warehouse.replace_zones(UPath(named / "taxi_zone_lookup.csv")) == ZONES_ROWS


def test_a_non_canonical_table_is_refused_before_any_change(warehouse, duckdb_path, tmp_path):
    # A `trips` someone made by hand: pickup times as dates, and missing every column after them.
    with duckdb.connect(str(duckdb_path)) as conn:
        conn.execute("CREATE TABLE trips (color VARCHAR, source_month DATE, vendor_id INTEGER, pickup_datetime DATE)")
    lake = write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL)

    with pytest.raises(PermanentError, match="column pickup_datetime is DATE, expected TIMESTAMP"):
        warehouse.load_slice(lake, "green", APRIL)

    # The missing columns are not added either: nothing changed.
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        assert [name for (name,) in conn.execute("SELECT column_name FROM (DESCRIBE trips)").fetchall()] == [
            "color",
            "source_month",
            "vendor_id",
            "pickup_datetime",
        ]


def test_a_lake_file_of_other_column_types_is_refused_not_cast(warehouse, duckdb_path, tmp_path):
    # Fares as integers and pickup times as dates: DuckDB's INSERT would round and truncate them
    # into the table's DOUBLE and TIMESTAMP columns.
    green = cleaned_sample("green", "2020-04", APRIL)
    warehouse.load_slice(write_lake_file(tmp_path / "g.parquet", "green", "2020-04", APRIL), "green", APRIL)
    fare, pickup = green.schema.get_field_index("fare_amount"), green.schema.get_field_index("pickup_datetime")
    other = green.set_column(fare, "fare_amount", green["fare_amount"].cast(pa.int64(), safe=False))
    other = other.set_column(pickup, "pickup_datetime", other["pickup_datetime"].cast(pa.date32()))
    lake = write_parquet(other, tmp_path / "other.parquet")

    with pytest.raises(PermanentError) as raised:
        warehouse.load_slice(lake, "green", APRIL)

    assert "column pickup_datetime is date32[day], expected timestamp[us]" in str(raised.value)
    assert "column fare_amount is int64, expected double" in str(raised.value)
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}
