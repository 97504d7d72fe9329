"""What a DuckDB warehouse file holds, read independently of the product's warehouse code:
rows per (color, month) slice, and order-independent checksums of slices and of lake files."""

import time
from pathlib import Path

import duckdb

from taxi_pipeline.schema import CANONICAL_SCHEMA

# Order-independent checksum of rows: the sum of each row's hash (as HUGEINT, so duplicates add
# up instead of cancelling out as with XOR), with the row count beside it.
ROW_HASH = f"hash({', '.join(CANONICAL_SCHEMA.names)})"
CHECKSUM_SQL = f"count(*), sum({ROW_HASH}::HUGEINT)"


def _has_trips(conn: duckdb.DuckDBPyConnection) -> bool:
    return conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'trips'").fetchone()[0] > 0


def connect_read_only(duckdb_path, wait_seconds: float = 60) -> duckdb.DuckDBPyConnection:
    """A read-only connection, waiting while a run of the deployment (a load, the report) holds
    the file's lock: DuckDB lets one process open a file for writing and no reader beside it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(duckdb_path), read_only=True)
        except duckdb.IOException as e:
            if "lock" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def warehouse_rows(duckdb_path) -> dict[tuple[str, str], int]:
    """{(color, YYYY-MM): rows} of the table `trips`; {} when there is no file or no table yet."""
    if not Path(duckdb_path).exists():
        return {}
    with connect_read_only(duckdb_path) as conn:
        if not _has_trips(conn):
            return {}
        rows = conn.execute(
            "SELECT color, strftime(source_month, '%Y-%m'), count(*) FROM trips GROUP BY ALL"
        ).fetchall()
    return {(color, month): n for color, month, n in rows}


def loaded_slices(duckdb_path) -> dict[tuple[str, str], tuple[int, str | None]]:
    """{(color, YYYY-MM): (rows, source)} as the `loads` table records each slice."""
    with connect_read_only(duckdb_path) as conn:
        loads = conn.execute("SELECT color, strftime(source_month, '%Y-%m'), rows, source FROM loads").fetchall()
    return {(color, month): (rows, source) for color, month, rows, source in loads}


def slice_checksums(duckdb_path) -> dict[tuple[str, str], tuple[int, int]]:
    """{(color, YYYY-MM): (rows, checksum)} of the table `trips` (see CHECKSUM_SQL)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT color, strftime(source_month, '%Y-%m'), {CHECKSUM_SQL} FROM trips GROUP BY ALL"
        ).fetchall()
    return {(color, month): (n, int(checksum)) for color, month, n, checksum in rows}


def parquet_checksum(path) -> tuple[int, int]:
    """(rows, checksum) of a lake parquet file, comparable with `slice_checksums`."""
    with duckdb.connect() as conn:
        n, checksum = conn.execute(f"SELECT {CHECKSUM_SQL} FROM read_parquet(?)", [str(path)]).fetchone()
    return n, int(checksum)
