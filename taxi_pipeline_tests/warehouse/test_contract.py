"""The shared warehouse suite: every backend (DuckDB, BigQuery, Postgres) passes the same tests.

Each backend is a real server or file: DuckDB in a temporary file, BigQuery in bqemulator with
the lake files in fake-gcs-server (marked `gcp`), Postgres in a throwaway cluster (marked
`postgres`). A backend's `put_lake_file` writes a lake parquet where that backend reads it.
Backend-specific behaviour (partitioning, clustering, credentials, URLs) is tested in each
backend's own file.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from upath import UPath

from taxi_pipeline.defs.lake.files import LakeFileChangedError, file_sha256, pinned
from taxi_pipeline.defs.metadata import table_preview, warehouse_table_schema
from taxi_pipeline.defs.warehouse.contract import PREVIEW_ROWS, SliceOrigin, WarehouseResource
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline.lib.zones import ZoneFileError
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.samples import ZONES_ROWS, release_zones
from taxi_pipeline_tests.support.trips import cleaned_sample

APRIL, JAN_2021 = date(2020, 4, 1), date(2021, 1, 1)


@dataclass
class Backend:
    warehouse: WarehouseResource
    put_lake_file: Callable[[pa.Table, str], UPath]  # (table, name) -> where the backend reads it
    column_names: Callable[[], list[str]]  # of the trips table, in order
    put_zone_file: Callable[[bytes, str], UPath]  # (CSV bytes, name) -> where the backend reads it
    zones: Callable[[], list[tuple]]  # the zones table's rows, ordered by location_id
    dialect: str  # the SQL of `sql`: duckdb, postgres or bigquery
    sql: Callable[[str], list[tuple]]  # runs a statement, `{trips}` and `{loads}` naming the tables
    where: str  # what a schema error names as the warehouse


COLUMNS_SQL = "SELECT column_name FROM information_schema.columns WHERE table_name = 'trips' ORDER BY ordinal_position"
ZONES_SQL = "SELECT location_id, borough, zone, service_zone FROM zones ORDER BY location_id"
LOADS_SQL = "SELECT color, source_month, source, sha256, rows FROM {loads} ORDER BY color, source_month"


def local_lake_files(folder) -> Callable[[pa.Table, str], UPath]:
    """`put_lake_file` of a backend that reads lake files from a local folder."""
    return lambda table, name: write_parquet(table, folder / f"{name}.parquet")


def local_zone_files(folder) -> Callable[[bytes, str], UPath]:
    """`put_zone_file` of a backend that reads lake files from a local folder."""

    def put(data: bytes, name: str) -> UPath:
        path = UPath(folder / f"{name}.csv")
        path.write_bytes(data)
        return path

    return put


def duckdb_backend(request, tmp_path) -> Backend:
    import duckdb
    from dagster_duckdb import DuckDBResource

    from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse

    database = tmp_path / "warehouse.duckdb"

    def columns() -> list[str]:
        with duckdb.connect(str(database), read_only=True) as conn:
            return [name for (name,) in conn.execute(COLUMNS_SQL).fetchall()]

    def zones() -> list[tuple]:
        with duckdb.connect(str(database), read_only=True) as conn:
            return conn.execute(ZONES_SQL).fetchall()

    def sql(statement: str) -> list[tuple]:
        with duckdb.connect(str(database)) as conn:
            result = conn.execute(statement.format(trips="trips", loads="loads"))
            return result.fetchall() if result.description else []

    return Backend(
        DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(database))),
        local_lake_files(tmp_path),
        columns,
        local_zone_files(tmp_path),
        zones,
        "duckdb",
        sql,
        str(database),
    )


def bigquery_backend(request, tmp_path) -> Backend:
    from dagster_gcp import BigQueryResource
    from google.cloud import bigquery

    from taxi_pipeline.defs.warehouse.bigquery import BigQueryWarehouse

    names = request.getfixturevalue("gcp_names")
    warehouse = BigQueryWarehouse(
        bigquery_resource=BigQueryResource(project=names["GCP_PROJECT"]), dataset=names["BQ_DATASET"]
    )

    def put(table: pa.Table, name: str) -> UPath:
        return write_parquet(table, f"gs://{names['GCS_BUCKET']}/data/{name}.parquet")

    def columns() -> list[str]:
        # The columns a query sees: bqemulator's table metadata (get_table) misses columns that
        # ALTER TABLE added, though its storage has them; real BigQuery shows them in both.
        client = bigquery.Client(project=names["GCP_PROJECT"])
        return [f.name for f in client.query(f"SELECT * FROM `{warehouse.table_id}` LIMIT 0").result().schema]

    def put_zones(data: bytes, name: str) -> UPath:
        path = UPath(f"gs://{names['GCS_BUCKET']}/raw/misc/{name}.csv")
        path.write_bytes(data)
        return path

    def zones() -> list[tuple]:
        rows = bigquery.Client(project=names["GCP_PROJECT"]).query(
            ZONES_SQL.replace("FROM zones", f"FROM `{warehouse.zones_table_id}`")
        )
        return [tuple(row.values()) for row in rows.result()]

    def sql(statement: str) -> list[tuple]:
        tables = {"trips": f"`{warehouse.table_id}`", "loads": f"`{warehouse.loads_table_id}`"}
        rows = bigquery.Client(project=names["GCP_PROJECT"]).query(statement.format(**tables)).result()
        return [tuple(row.values()) for row in rows]

    where = f"{names['GCP_PROJECT']}.{names['BQ_DATASET']}"
    return Backend(warehouse, put, columns, put_zones, zones, "bigquery", sql, where)


def postgres_backend(request, tmp_path) -> Backend:
    import psycopg

    from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse

    url = request.getfixturevalue("postgres_url")

    def columns() -> list[str]:
        with psycopg.connect(url) as conn:
            return [name for (name,) in conn.execute(COLUMNS_SQL).fetchall()]

    def zones() -> list[tuple]:
        with psycopg.connect(url) as conn:
            return [tuple(row) for row in conn.execute(ZONES_SQL).fetchall()]

    def sql(statement: str) -> list[tuple]:
        with psycopg.connect(url) as conn:
            cursor = conn.execute(statement.format(trips="trips", loads="loads"))
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    database = url.rsplit("/", 1)[1].split("?")[0]
    return Backend(
        PostgresWarehouse(url=url),
        local_lake_files(tmp_path),
        columns,
        local_zone_files(tmp_path),
        zones,
        "postgres",
        sql,
        database,
    )


@pytest.fixture(
    params=[
        pytest.param(duckdb_backend, id="duckdb"),
        pytest.param(bigquery_backend, id="bigquery", marks=pytest.mark.gcp),
        pytest.param(postgres_backend, id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request, tmp_path) -> Backend:
    """One warehouse backend with an empty warehouse of this test's own."""
    return request.param(request, tmp_path)


def test_empty_warehouse_has_no_slices(backend):
    assert backend.warehouse.slice_counts() == []


def test_load_creates_the_table_with_the_canonical_columns(backend):
    lake = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")

    load = backend.warehouse.load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.rows_replaced, load.slice_rows) == (35_612, 0, 35_612)
    assert backend.column_names() == CANONICAL_SCHEMA.names
    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612)]


def test_a_load_names_its_table_fully_and_reads_back_a_preview_of_the_slice(backend):
    green = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    backend.warehouse.load_slice(backend.put_lake_file(cleaned_sample("fhv", "2019-01", APRIL), "fhv"), "fhv", APRIL)

    load = backend.warehouse.load_slice(green, "green", APRIL)

    # catalog.schema.trips: the DuckDB file's name, the Postgres database, the BigQuery project.
    catalog, schema, table = load.table.split(".")
    assert table == "trips" and catalog and schema
    assert [name for name, _ in load.column_types] == CANONICAL_SCHEMA.names
    # the warehouse's own SQL types (DuckDB, Postgres, BigQuery), not Arrow's
    assert dict(load.column_types)["trip_distance"] in {"DOUBLE", "double precision", "FLOAT64"}
    assert load.preview.num_rows == PREVIEW_ROWS
    assert load.preview.column_names == CANONICAL_SCHEMA.names
    assert set(load.preview["color"].to_pylist()) == {"green"}
    assert set(load.preview["source_month"].to_pylist()) == {APRIL}


def test_reloading_a_slice_replaces_it(backend):
    lake = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    backend.warehouse.load_slice(lake, "green", APRIL)

    load = backend.warehouse.load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.rows_replaced, load.slice_rows) == (35_612, 35_612, 35_612)
    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612)]


def test_two_colors_of_one_month_coexist(backend):
    # The bundled yellow sample stands in for yellow 2020-04: its rows are kept whole.
    green = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    yellow = backend.put_lake_file(cleaned_sample("yellow", "2021-01", APRIL), "yellow")

    backend.warehouse.load_slice(green, "green", APRIL)
    backend.warehouse.load_slice(yellow, "yellow", APRIL)
    again = backend.warehouse.load_slice(green, "green", APRIL)

    assert (again.rows_replaced, again.slice_rows) == (35_612, 35_612)
    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612), ("yellow", APRIL, 22_792)]


def test_slices_are_counted_in_color_then_month_order(backend):
    for color, sample, month in (
        ("yellow", "2021-01", JAN_2021),
        ("green", "2020-04", APRIL),
        ("fhv", "2019-01", APRIL),
    ):
        backend.warehouse.load_slice(backend.put_lake_file(cleaned_sample(color, sample, month), color), color, month)

    assert backend.warehouse.slice_counts() == [
        ("fhv", APRIL, 18),
        ("green", APRIL, 35_612),
        ("yellow", JAN_2021, 22_792),
    ]


def test_a_file_of_another_slice_is_refused_and_the_old_slice_stays(backend):
    backend.warehouse.load_slice(
        backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green"), "green", APRIL
    )
    wrong = backend.put_lake_file(cleaned_sample("yellow", "2021-01", JAN_2021), "yellow")

    with pytest.raises(PermanentError, match="22792 of 22792 rows are not green 2020-04"):
        backend.warehouse.load_slice(wrong, "green", APRIL)

    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612)]


def test_a_row_of_nulls_loads(backend):
    table, _ = clean_trips(pa.table({"pickup_datetime": pa.array([None], pa.timestamp("us"))}), "fhv", APRIL)

    load = backend.warehouse.load_slice(backend.put_lake_file(table, "one"), "fhv", APRIL)

    assert (load.rows_loaded, load.slice_rows) == (1, 1)
    assert backend.warehouse.slice_counts() == [("fhv", APRIL, 1)]


def test_the_bundled_zone_table_loads_its_265_zones(backend):
    zone_file = backend.put_zone_file(release_zones().read_bytes(), "taxi_zone_lookup")

    assert backend.warehouse.replace_zones(zone_file) == ZONES_ROWS

    zones = backend.zones()
    assert len(zones) == ZONES_ROWS
    assert zones[0] == (1, "EWR", "Newark Airport", "EWR")
    assert zones[-2:] == [(264, "Unknown", "NV", "N/A"), (265, "Unknown", "NA", "N/A")]  # "NA" is text, not null


def test_a_second_zone_load_replaces_the_table_whole(backend):
    backend.warehouse.replace_zones(backend.put_zone_file(release_zones().read_bytes(), "taxi_zone_lookup"))
    fewer = (
        b'"LocationID","Borough","Zone","service_zone"\r\n'
        b'1,"EWR","Newark Airport","EWR"\r\n7,"Queens","Astoria","Boro Zone"\r\n'
    )

    assert backend.warehouse.replace_zones(backend.put_zone_file(fewer, "fewer")) == 2

    assert backend.zones() == [(1, "EWR", "Newark Airport", "EWR"), (7, "Queens", "Astoria", "Boro Zone")]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"id,borough,zone,service_zone\n1,EWR,Newark Airport,EWR\n", "header is id,borough,zone,service_zone"),
        (b"LocationID,Borough,Zone,service_zone\n1,EWR,Newark Airport,EWR\nx7,Queens,Astoria,Boro Zone\n", "line 3"),
        (b"LocationID,Borough,Zone,service_zone\n1,EWR,Newark Airport,EWR\n1,Queens,Astoria,Boro Zone\n", "repeats"),
    ],
    ids=["header", "id-not-an-integer", "duplicate-id"],
)
def test_a_bad_zone_file_is_refused_and_the_old_table_stays(backend, content, problem):
    backend.warehouse.replace_zones(backend.put_zone_file(release_zones().read_bytes(), "taxi_zone_lookup"))
    bad = backend.put_zone_file(content, "bad")

    with pytest.raises(ZoneFileError, match=problem) as raised:
        backend.warehouse.replace_zones(bad)

    assert str(bad) in str(raised.value)
    assert len(backend.zones()) == ZONES_ROWS


# How each warehouse changes a column's type in place, and names the types: a timestamp turned
# date, a double turned integer. BigQuery narrows no column in place: the table is made again.
RETYPE_SQL = {
    "duckdb": "ALTER TABLE {{trips}} ALTER COLUMN {column} TYPE {kind}",
    "postgres": "ALTER TABLE {{trips}} ALTER COLUMN {column} TYPE {kind}",
    "bigquery": (
        "CREATE OR REPLACE TABLE {{trips}} PARTITION BY DATE_TRUNC(source_month, MONTH) CLUSTER BY color AS "
        "SELECT * REPLACE (CAST({column} AS {kind}) AS {column}) FROM {{trips}}"
    ),
}
RETYPED = {
    "duckdb": {"pickup_datetime": ("DATE", "TIMESTAMP"), "fare_amount": ("INTEGER", "DOUBLE")},
    "postgres": {
        "pickup_datetime": ("date", "timestamp without time zone"),
        "fare_amount": ("integer", "double precision"),
    },
    "bigquery": {"pickup_datetime": ("DATE", "DATETIME"), "fare_amount": ("INT64", "FLOAT64")},
}


@pytest.mark.parametrize("column", ["pickup_datetime", "fare_amount"])
def test_a_column_of_another_type_is_refused_naming_it_and_nothing_is_written(backend, column):
    backend.warehouse.load_slice(
        backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green"),
        "green",
        APRIL,
        SliceOrigin("course", "a" * 64),
    )
    kind, expected = RETYPED[backend.dialect][column]
    backend.sql(RETYPE_SQL[backend.dialect].format(column=column, kind=kind))
    before = backend.sql(f"SELECT count(*), count(DISTINCT {column}) FROM {{trips}}")
    yellow = backend.put_lake_file(cleaned_sample("yellow", "2021-01", JAN_2021), "yellow")

    with pytest.raises(PermanentError) as raised:
        backend.warehouse.load_slice(yellow, "yellow", JAN_2021, SliceOrigin("course", "b" * 64))

    message = str(raised.value)
    assert f"column {column} is {kind}, expected {expected}" in message
    assert backend.where in message and "trips" in message and "load again" in message
    # Nothing written: no slice, no origin, the old rows as they were.
    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612)]
    assert backend.sql(f"SELECT count(*), count(DISTINCT {column}) FROM {{trips}}") == before
    assert backend.sql(LOADS_SQL) == [("green", APRIL, "course", "a" * 64, 35_612)]


def test_each_slice_records_its_origin_replaced_with_the_slice(backend):
    green = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    fhv = backend.put_lake_file(cleaned_sample("fhv", "2019-01", APRIL), "fhv")
    started = datetime.now(UTC)

    first = backend.warehouse.load_slice(green, "green", APRIL, SliceOrigin("course", "a" * 64))
    backend.warehouse.load_slice(fhv, "fhv", APRIL)  # no origin: recorded with a null source
    again = backend.warehouse.load_slice(green, "green", APRIL, SliceOrigin("tlc", "b" * 64))

    assert (first.previous_source, again.previous_source) == (None, "course")
    assert backend.sql(LOADS_SQL) == [("fhv", APRIL, None, None, 18), ("green", APRIL, "tlc", "b" * 64, 35_612)]
    origins = backend.warehouse.slice_origins()
    assert sorted(origins) == [("fhv", APRIL), ("green", APRIL)]
    assert origins[("green", APRIL)][:2] == ("tlc", "b" * 64)
    assert origins[("fhv", APRIL)][:2] == (None, None)
    assert started - timedelta(seconds=1) <= origins[("green", APRIL)].loaded_at <= datetime.now(UTC)
    assert origins[("fhv", APRIL)].loaded_at <= origins[("green", APRIL)].loaded_at


def test_a_refused_load_leaves_the_slice_origin(backend):
    green = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    backend.warehouse.load_slice(green, "green", APRIL, SliceOrigin("course", "a" * 64))
    recorded = backend.warehouse.slice_origins()
    wrong = backend.put_lake_file(cleaned_sample("yellow", "2021-01", JAN_2021), "yellow")

    with pytest.raises(PermanentError, match="22792 of 22792 rows are not green 2020-04"):
        backend.warehouse.load_slice(wrong, "green", APRIL, SliceOrigin("tlc", "b" * 64))

    assert backend.warehouse.slice_origins() == recorded
    assert backend.sql(LOADS_SQL) == [("green", APRIL, "course", "a" * 64, 35_612)]


# A column the canonical schema does not have, of a type the metadata code does not expect.
EXTRA_COLUMN_SQL = {
    "duckdb": ("ALTER TABLE {trips} ADD COLUMN fare_exact DECIMAL(10, 2) DEFAULT 12.50", "DECIMAL(10,2)"),
    "postgres": ("ALTER TABLE {trips} ADD COLUMN fare_exact numeric(10, 2) DEFAULT 12.50", "numeric(10,2)"),
    "bigquery": ("ALTER TABLE {trips} ADD COLUMN fare_exact NUMERIC", "NUMERIC"),
}


def test_the_metadata_is_read_back_from_the_table_as_it_is(backend):
    green = backend.put_lake_file(cleaned_sample("green", "2020-04", APRIL), "green")
    backend.warehouse.load_slice(green, "green", APRIL)
    statement, kind = EXTRA_COLUMN_SQL[backend.dialect]
    backend.sql(statement)

    load = backend.warehouse.load_slice(green, "green", APRIL)

    assert [name for name, _ in load.column_types] == [*CANONICAL_SCHEMA.names, "fare_exact"]
    assert dict(load.column_types)["fare_exact"] == kind
    assert load.preview.column_names == [*CANONICAL_SCHEMA.names, "fare_exact"]
    # What the asset shows of it: the column with its type, its values as text.
    schema = warehouse_table_schema(load.column_types)
    assert (schema.columns[-1].name, schema.columns[-1].type) == ("fare_exact", kind)
    preview = table_preview(load.preview)
    assert [c.name for c in preview.schema.columns][-1] == "fare_exact"
    expected = None if backend.dialect == "bigquery" else "12.50"  # a default BigQuery's ALTER cannot set
    assert {record.data["fare_exact"] for record in preview.records} == {expected}


def test_a_publication_that_lands_during_a_load_rolls_the_load_back(backend):
    green = cleaned_sample("green", "2020-04", APRIL)
    lake = backend.put_lake_file(green, "green")
    backend.warehouse.load_slice(lake, "green", APRIL, SliceOrigin("course", file_sha256(lake)))
    shrunk = backend.put_lake_file(green.slice(0, 1_000), "green-next")

    with pytest.raises(LakeFileChangedError, match="was published again while it was loaded"):
        with pinned(lake, file_sha256(lake)) as exact:
            # The next publication replaces the lake file while this load is under way (by rename,
            # as every publication does): the load reads its pinned bytes, then must not commit them.
            lake.fs.mv(shrunk.path, lake.path)
            backend.warehouse.load_slice(
                exact.path, "green", APRIL, SliceOrigin("course", "b" * 64, exact.check_still_published)
            )

    assert backend.warehouse.slice_counts() == [("green", APRIL, 35_612)]
    assert backend.sql(LOADS_SQL)[0][3] != "b" * 64
