"""Schema evolution: a warehouse and lake files of the previous release's schema (version 1, the
25 columns below) keep working: the table gains the new columns in place on the next load,
without losing a row, and a version-1 lake file still loads, its missing columns as null."""

from datetime import date

import pyarrow as pa
import pytest
from upath import UPath

from taxi_pipeline.schema import CANONICAL_SCHEMA, schema_version
from taxi_pipeline_tests.support.trips import cleaned_sample
from taxi_pipeline_tests.warehouse.test_contract import (
    Backend,
    bigquery_backend,
    duckdb_backend,
    postgres_backend,
)

APRIL, FHV_JANUARY = date(2020, 4, 1), date(2019, 1, 1)
# The canonical columns of the previous release, as it wrote them.
VERSION_1_COLUMNS = [
    "color", "source_month", "vendor_id", "pickup_datetime", "dropoff_datetime", "passenger_count",
    "trip_distance", "ratecode_id", "store_and_fwd_flag", "pickup_location_id", "dropoff_location_id",
    "payment_type", "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
    "improvement_surcharge", "total_amount", "congestion_surcharge", "trip_type", "dispatching_base_num",
    "sr_flag", "affiliated_base_number",
]  # fmt: skip


def version_1(table: pa.Table) -> pa.Table:
    return table.select(VERSION_1_COLUMNS)


def make_version_1_duckdb(backend: Backend, lake: UPath, month: date) -> None:
    import duckdb

    from taxi_pipeline.schema import sql_columns

    types = dict(sql_columns("duckdb"))
    database = backend.warehouse.duckdb_resource.database
    with duckdb.connect(database) as conn:
        conn.execute(f"CREATE TABLE trips ({', '.join(f'{c} {types[c]}' for c in VERSION_1_COLUMNS)})")
        conn.execute("INSERT INTO trips SELECT * FROM read_parquet(?)", [lake.path])


def make_version_1_postgres(backend: Backend, lake: UPath, month: date) -> None:
    import psycopg
    import pyarrow.parquet as pq

    from taxi_pipeline.defs.warehouse.postgres import partition_ddl
    from taxi_pipeline.schema import sql_columns

    types = dict(sql_columns("postgres"))
    rows = pq.read_table(lake.path).to_pylist()
    with psycopg.connect(backend.warehouse.url) as conn:
        columns = ", ".join(f"{c} {types[c]}" for c in VERSION_1_COLUMNS)
        conn.execute(f"CREATE TABLE trips ({columns}) PARTITION BY RANGE (source_month)")
        conn.execute(partition_ddl(month))
        with conn.cursor().copy(f"COPY trips ({', '.join(VERSION_1_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in VERSION_1_COLUMNS])


def make_version_1_bigquery(backend: Backend, lake: UPath, month: date) -> None:
    from google.cloud import bigquery

    from taxi_pipeline.defs.warehouse.bigquery import trips_table_schema

    warehouse = backend.warehouse
    client = bigquery.Client(project=warehouse.project)
    client.create_dataset(f"{warehouse.project}.{warehouse.dataset}", exists_ok=True)
    table = bigquery.Table(warehouse.table_id, schema=trips_table_schema(VERSION_1_COLUMNS))
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.MONTH, field="source_month")
    table.clustering_fields = ["color"]
    client.create_table(table)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET, schema=trips_table_schema(VERSION_1_COLUMNS)
    )
    client.load_table_from_uri(str(lake), warehouse.table_id, job_config=config).result()


@pytest.fixture(
    params=[
        pytest.param((duckdb_backend, make_version_1_duckdb), id="duckdb"),
        pytest.param((bigquery_backend, make_version_1_bigquery), id="bigquery", marks=pytest.mark.gcp),
        pytest.param((postgres_backend, make_version_1_postgres), id="postgres", marks=pytest.mark.postgres),
    ]
)
def version_1_warehouse(request, tmp_path) -> Backend:
    """A warehouse whose `trips` table the previous release made, holding fhv 2019-01 (18 rows)."""
    make_backend, make_version_1 = request.param
    backend = make_backend(request, tmp_path)
    old_lake = backend.put_lake_file(version_1(cleaned_sample("fhv", "2019-01")), "fhv_v1")
    make_version_1(backend, old_lake, FHV_JANUARY)
    assert backend.column_names() == VERSION_1_COLUMNS
    return backend


def test_the_first_load_after_the_upgrade_adds_the_columns_in_place_and_keeps_every_row(version_1_warehouse):
    backend = version_1_warehouse
    lake = backend.put_lake_file(cleaned_sample("green", "2020-04"), "green")

    backend.warehouse.load_slice(lake, "green", APRIL)

    assert backend.column_names() == CANONICAL_SCHEMA.names
    assert backend.warehouse.slice_counts() == [("fhv", FHV_JANUARY, 18), ("green", APRIL, 35_612)]


def test_a_version_1_lake_file_still_loads_its_missing_columns_as_null(version_1_warehouse):
    backend = version_1_warehouse
    old_file = backend.put_lake_file(version_1(cleaned_sample("green", "2020-04")), "green_v1")

    load = backend.warehouse.load_slice(old_file, "green", APRIL)

    assert (load.rows_loaded, load.slice_rows) == (35_612, 35_612)
    assert backend.column_names() == CANONICAL_SCHEMA.names


def test_version_1_is_a_prefix_of_today_and_is_recognised():
    assert CANONICAL_SCHEMA.names[: len(VERSION_1_COLUMNS)] == VERSION_1_COLUMNS
    assert schema_version(pa.schema([CANONICAL_SCHEMA.field(c) for c in VERSION_1_COLUMNS])) == 1
    assert schema_version(CANONICAL_SCHEMA) == 2
