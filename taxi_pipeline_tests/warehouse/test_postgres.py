"""PostgresWarehouse against a real throwaway cluster: what is particular to Postgres (the
partitioned table, exact values through CSV COPY, a killed load, connection failures); what
every backend does is in test_warehouse_contract.py."""

import os
import signal
import time
import traceback
from datetime import date, datetime

import psycopg
import pyarrow as pa
import pytest
from upath import UPath

from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse, partition_ddl
from taxi_pipeline.errors import PermanentError, SettingError, TransientError
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.postgres_server import POSTGRES_LOADER
from taxi_pipeline_tests.support.runs import start_child
from taxi_pipeline_tests.support.trips import cleaned_sample

pytestmark = pytest.mark.postgres

APRIL, JAN_2021 = date(2020, 4, 1), date(2021, 1, 1)


def query(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def test_partition_bounds_are_whole_months():
    assert partition_ddl(date(2020, 12, 1)) == (
        "CREATE TABLE IF NOT EXISTS trips_2020_12 PARTITION OF trips FOR VALUES FROM ('2020-12-01') TO ('2021-01-01')"
    )


def test_trips_is_range_partitioned_by_month_one_partition_per_loaded_month(postgres_url, tmp_path):
    warehouse = PostgresWarehouse(url=postgres_url)
    warehouse.load_slice(
        write_parquet(cleaned_sample("green", "2020-04", APRIL), tmp_path / "g.parquet"), "green", APRIL
    )
    warehouse.load_slice(
        write_parquet(cleaned_sample("yellow", "2021-01", APRIL), tmp_path / "y.parquet"), "yellow", APRIL
    )
    warehouse.load_slice(
        write_parquet(cleaned_sample("yellow", "2021-01", JAN_2021), tmp_path / "y1.parquet"), "yellow", JAN_2021
    )

    [(strategy, key)] = query(
        postgres_url,
        "SELECT p.partstrat, pg_get_partkeydef(p.partrelid) FROM pg_partitioned_table p "
        "WHERE p.partrelid = 'trips'::regclass",
    )
    partitions = query(
        postgres_url,
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), "
        "(SELECT count(*) FROM trips t WHERE t.tableoid = c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'trips'::regclass ORDER BY 1",
    )
    assert (strategy, key) == ("r", "RANGE (source_month)")
    assert partitions == [
        ("trips_2020_04", "FOR VALUES FROM ('2020-04-01') TO ('2020-05-01')", 35_612 + 22_792),
        ("trips_2021_01", "FOR VALUES FROM ('2021-01-01') TO ('2021-02-01')", 22_792),
    ]
    column_types = dict(
        query(postgres_url, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'trips'")
    )
    assert [
        column_types[name] for name in ("color", "source_month", "vendor_id", "trip_distance", "pickup_datetime")
    ] == [
        "text",
        "date",
        "integer",
        "double precision",
        "timestamp without time zone",
    ]


def test_values_round_trip_exactly_nulls_and_empty_strings_apart(postgres_url, tmp_path):
    rows = 6
    columns = {f.name: pa.nulls(rows, f.type) for f in CANONICAL_SCHEMA}
    columns |= {
        "color": pa.array(["fhv"] * rows),
        "source_month": pa.array([APRIL] * rows, pa.date32()),
        "dispatching_base_num": pa.array(["", None, 'B0,"quoted"\nnext line', "é ünïcode", "\\N", "NULL"]),
        "pickup_datetime": pa.array(
            [
                datetime(2020, 4, 1, 0, 0, 0, 1),
                datetime(1999, 12, 31, 23, 59, 59, 999_999),
                None,
                datetime(2020, 4, 30, 23, 59, 59),
                datetime(2020, 3, 8, 2, 30),
                datetime(2020, 4, 1),
            ],
            pa.timestamp("us"),
        ),
        "fare_amount": pa.array([0.1, 1 / 3, float("inf"), -float("inf"), 5e-324, -0.0]),
        "sr_flag": pa.array([1, None, -2_147_483_648, 2_147_483_647, 0, -1], pa.int32()),
    }
    table = pa.table(columns, schema=CANONICAL_SCHEMA)

    PostgresWarehouse(url=postgres_url).load_slice(write_parquet(table, tmp_path / "edge.parquet"), "fhv", APRIL)

    back = query(
        postgres_url,
        "SELECT dispatching_base_num, pickup_datetime, fare_amount, sr_flag, source_month FROM trips "
        "ORDER BY sr_flag NULLS FIRST",
    )
    expected = sorted(
        zip(
            *(
                table[c].to_pylist()
                for c in ("dispatching_base_num", "pickup_datetime", "fare_amount", "sr_flag", "source_month")
            ),
            strict=True,
        ),
        key=lambda row: (row[3] is not None, row[3] or 0),
    )
    assert back == expected
    [(empty, null)] = query(
        postgres_url,
        "SELECT count(*) FILTER (WHERE dispatching_base_num = ''), "
        "count(*) FILTER (WHERE dispatching_base_num IS NULL) FROM trips",
    )
    assert (empty, null) == (1, 1)


def test_the_real_green_month_keeps_its_sums(postgres_url, tmp_path):
    table = cleaned_sample("green", "2020-04", APRIL)
    PostgresWarehouse(url=postgres_url).load_slice(write_parquet(table, tmp_path / "g.parquet"), "green", APRIL)

    [(fares, min_pickup, max_pickup, null_vendor)] = query(
        postgres_url,
        "SELECT sum(fare_amount)::numeric(14, 2), min(pickup_datetime), max(pickup_datetime), "
        "count(*) FILTER (WHERE vendor_id IS NULL) FROM trips",
    )

    pickups = table["pickup_datetime"]
    assert float(fares) == round(sum(v for v in table["fare_amount"].to_pylist() if v is not None), 2)
    assert (min_pickup, max_pickup) == (min(pickups.to_pylist()), max(pickups.to_pylist()))
    assert null_vendor == table["vendor_id"].null_count


def test_a_load_killed_in_the_middle_of_the_copy_leaves_the_previous_slice(postgres_url, postgres_cluster, tmp_path):
    warehouse = PostgresWarehouse(url=postgres_url)
    green = cleaned_sample("green", "2020-04", APRIL)
    warehouse.load_slice(write_parquet(green, tmp_path / "g.parquet"), "green", APRIL)
    big = write_parquet(pa.concat_tables([green] * 40), tmp_path / "big.parquet")  # 1,424,480 rows
    admin_url = postgres_cluster.url(postgres_url.rsplit("/", 1)[1])

    child = start_child("load_postgres_slice", postgres_url, str(big))
    try:
        copied, deadline = 0, time.monotonic() + 120
        while copied < 100_000 and child.poll() is None and time.monotonic() < deadline:
            progress = query(
                admin_url, "SELECT tuples_processed FROM pg_stat_progress_copy WHERE datname = current_database()"
            )
            copied = progress[0][0] if progress else 0
            time.sleep(0.05)
        assert child.poll() is None, f"the load ended before it could be killed: {child.communicate()}"
        assert copied >= 100_000
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    assert child.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while query(admin_url, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (POSTGRES_LOADER,))[0][0]:
        assert time.monotonic() < deadline, "the killed load's session did not end"
        time.sleep(0.05)
    assert warehouse.slice_counts() == [("green", APRIL, 35_612)]
    # nothing left locked or half-written: the next load replaces the slice as usual
    load = warehouse.load_slice(UPath(tmp_path / "g.parquet"), "green", APRIL)
    assert (load.rows_replaced, load.slice_rows) == (35_612, 35_612)


def assert_secret_absent(error: BaseException, secret: str) -> None:
    assert secret not in str(error) and secret not in repr(error)
    assert secret not in "".join(traceback.format_exception(error))
    assert error.__cause__ is None and error.__context__ is None  # psycopg's text is not chained


def test_a_wrong_password_fails_fast_naming_the_setting_without_the_password(postgres_url):
    secret = "Wr0ng-s3cret-passw0rd"
    url = postgres_url.replace(postgres_url.split("//")[1].split("@")[0], f"{POSTGRES_LOADER}:{secret}")

    started = time.monotonic()
    with pytest.raises(SettingError) as raised:
        PostgresWarehouse(url=url).slice_counts()

    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert message.startswith(f"cannot connect to the Postgres warehouse {POSTGRES_LOADER}@127.0.0.1:")
    assert "(TAXI_POSTGRES_URL)" in message
    assert f'password authentication failed for user "{POSTGRES_LOADER}"' in message
    assert_secret_absent(raised.value, secret)


def test_an_unreachable_server_fails_fast_as_transient_not_as_a_wrong_setting(postgres_cluster):
    secret = "n0-server-s3cret"
    port = free_port()  # nothing listens there: down or restarting, which a retry may outlast

    started = time.monotonic()
    with pytest.raises(
        TransientError,
        match=rf"^cannot reach the Postgres warehouse taxi@127\.0\.0\.1:{port}/taxi: the server refused the connection",
    ) as raised:
        PostgresWarehouse(url=f"postgresql://taxi:{secret}@127.0.0.1:{port}/taxi").load_slice(
            UPath("/nowhere.parquet"), "green", APRIL
        )

    assert time.monotonic() - started < 5
    assert_secret_absent(raised.value, secret)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://taxi:s3cret-in-url@127.0.0.1:notaport/taxi",
        "host=127.0.0.1 password=s3cret-in-url dbname",
        "postgresql://taxi:s3cret-in-url@127.0.0.1:5432/taxi?sslmode=sometimes",
    ],
)
def test_a_malformed_url_names_the_setting_without_the_password(url):
    with pytest.raises(SettingError, match="TAXI_POSTGRES_URL") as raised:
        PostgresWarehouse(url=url).slice_counts()

    assert_secret_absent(raised.value, "s3cret-in-url")


@pytest.mark.gcp
def test_a_gs_lake_file_streams_into_postgres(postgres_url, gcp_names):
    # TAXI_WAREHOUSE=postgres with the gcp target: the lake file is read through gcsfs.
    lake = write_parquet(
        cleaned_sample("green", "2020-04", APRIL),
        f"gs://{gcp_names['GCS_BUCKET']}/data/green/green_tripdata_2020-04.parquet",
    )

    load = PostgresWarehouse(url=postgres_url).load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.slice_rows) == (35_612, 35_612)
    assert PostgresWarehouse(url=postgres_url).slice_counts() == [("green", APRIL, 35_612)]


def test_a_role_that_may_not_create_the_table_is_told_which_grant_it_lacks(postgres_cluster, tmp_path):
    database = "taxi_no_create"
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
        admin.execute(f"GRANT CONNECT ON DATABASE {database} TO {POSTGRES_LOADER}")  # no CREATE on public
    url = postgres_cluster.url(database, user=POSTGRES_LOADER, password=postgres_cluster.loader_password)
    lake = write_parquet(cleaned_sample("fhv", "2019-01", APRIL), tmp_path / "f.parquet")

    with pytest.raises(SettingError) as raised:
        PostgresWarehouse(url=url).load_slice(lake, "fhv", APRIL)

    assert str(raised.value) == (
        "the role of TAXI_POSTGRES_URL may not create the table trips or its partitions "
        "(permission denied for schema public): it needs USAGE and CREATE on the schema"
    )


@pytest.mark.parametrize(
    "ddl, what",
    [
        ("CREATE TABLE trips (color text, source_month date)", "not a partitioned table"),
        ("CREATE TABLE trips (color text, source_month date) PARTITION BY LIST (color)", "partitioned by LIST (color)"),
    ],
    ids=["plain", "by-color"],
)
def test_a_trips_table_not_range_partitioned_on_source_month_is_refused(postgres_url, tmp_path, ddl, what):
    with psycopg.connect(postgres_url) as conn:
        conn.execute(ddl)
    lake = write_parquet(cleaned_sample("green", "2020-04", APRIL), tmp_path / "g.parquet")

    with pytest.raises(PermanentError) as raised:
        PostgresWarehouse(url=postgres_url).load_slice(lake, "green", APRIL)

    message = str(raised.value)
    assert f"the table public.trips is {what}, expected PARTITION BY RANGE (source_month)" in message
    assert "ALTER TABLE public.trips RENAME TO trips_old" in message and "load again" in message
    # Nothing written: no columns added, no partition, no table of origins.
    assert query(postgres_url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'trips'") == [(2,)]
    tables = "SELECT relname::text FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = 'public'::regnamespace"
    assert query(postgres_url, tables) == [("trips",)]


@pytest.mark.parametrize("folder", ["a*", "a?", "a[b]"])
def test_a_lake_file_under_a_glob_named_folder_is_read_as_named(postgres_url, tmp_path, folder):
    # pyarrow opens a local path literally (no glob), beside a sibling `ab` the name would match.
    (tmp_path / folder).mkdir()
    (tmp_path / "ab").mkdir()
    write_parquet(cleaned_sample("green", "2020-04", APRIL).slice(0, 1_000), tmp_path / "ab" / "g.parquet")
    lake = write_parquet(cleaned_sample("green", "2020-04", APRIL), tmp_path / folder / "g.parquet")

    load = PostgresWarehouse(url=postgres_url).load_slice(lake, "green", APRIL)

    assert (load.rows_loaded, load.slice_rows) == (35_612, 35_612)
