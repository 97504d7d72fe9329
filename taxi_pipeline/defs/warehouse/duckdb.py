"""The default warehouse: a `trips` table in a local DuckDB file, loaded with `read_parquet`."""

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
from dagster_duckdb import DuckDBResource
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import to_local_path
from taxi_pipeline.defs.warehouse.contract import (
    LOADS_COLUMNS,
    LOADS_TABLE,
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    SliceLoad,
    SliceOrigin,
    WarehouseResource,
    check_still_published,
    create_table_sql,
    missing_columns,
    slice_mismatch,
)
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.parquet import lake_file_columns
from taxi_pipeline.lib.zones import ZoneFileError, read_zone_file
from taxi_pipeline.schema import CANONICAL_SCHEMA, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import DEFAULT_DUCKDB_LOCK_WAIT_SECONDS

DEFAULT_MEMORY_LIMIT = "256MB"  # beyond it DuckDB spills to `<file>.tmp`
# Where this process's open files are named by descriptor (Linux; /dev/fd elsewhere).
FD_FOLDER = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
LOCK_LOG_EVERY_SECONDS = 10.0
LOCK_POLL_MAX_SECONDS = 0.25  # short: a reader polling the file leaves only brief gaps
_LOCK_HELD = re.compile(r"Could not set lock on file .*Conflicting lock is held in (.*?) \(PID (\d+)\)")


def lock_holder(error: duckdb.IOException) -> tuple[str, str] | None:
    """(PID, program) of the process holding the database file's lock, read from DuckDB's
    message as duckdb 1.5.6 words it (`IO Error: Could not set lock on file "/x/w.duckdb":
    Conflicting lock is held in /usr/bin/python3.11 (PID 4242)`); None for any other error."""
    held = _LOCK_HELD.search(str(error))
    return (held[2], held[1]) if held else None


def literal_database_config(database: str) -> dict[str, str]:
    """DuckDB settings that keep the database file at exactly the path `database`. DuckDB reads a
    `?` in it as the start of URL parameters and would put the WAL and spill folder elsewhere;
    for such a path every commit is checkpointed into the file and the spill folder is named."""
    if "?" not in database:
        return {}
    return {
        "checkpoint_threshold": "0b",
        "auto_checkpoint_skip_wal_threshold": "0",
        "temp_directory": f"{Path(database).expanduser().absolute()}.tmp",
    }


@contextmanager
def literal_path(path: Path) -> Iterator[str]:
    """A name by which DuckDB's readers read exactly the file at `path` (they expand `* ? [ ]`
    with no way to turn it off): the file opened here, named by its descriptor."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield f"{FD_FOLDER}/{fd}"
    finally:
        os.close(fd)


def check_lake_file_types(parquet: str, lake_file: UPath) -> None:
    """Refuse a parquet file whose canonical columns have other types than the canonical ones:
    DuckDB's INSERT would cast them implicitly (a double into an integer column, rounded)."""
    other = [
        (f.name, f.type, CANONICAL_SCHEMA.field(f.name).type)
        for f in pq.read_schema(parquet)
        if f.name in CANONICAL_SCHEMA.names and f.type != CANONICAL_SCHEMA.field(f.name).type
    ]
    if other:
        columns = "; ".join(f"column {name} is {kind}, expected {wanted}" for name, kind, wanted in other)
        raise PermanentError(
            f"{lake_file}: the lake file's columns are not of the canonical types ({columns}); nothing was loaded. "
            "Write the lake file again (materialize lake_trips_parquet for the partition), then load"
        )


@contextmanager
def transaction(conn):
    """One transaction around the block, committed at its end or rolled back. A failed commit (a
    full disk) may have ended the transaction already: the rollback's own error must not hide
    the block's."""
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        with suppress(duckdb.Error):
            conn.rollback()
        raise


class DuckDBWarehouse(WarehouseResource):
    """A DuckDB file holding the `trips` table; loads read the lake parquet inside DuckDB."""

    duckdb_resource: DuckDBResource = Field(description="The DuckDB file (TAXI_DUCKDB_PATH)")
    memory_limit: str = Field(default=DEFAULT_MEMORY_LIMIT, description="DuckDB's memory limit during loads")
    lock_wait_seconds: float = Field(
        default=DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
        description="Seconds a load waits for the file's lock held by another process (TAXI_DUCKDB_LOCK_WAIT)",
    )

    @contextmanager
    def _connection(self):
        Path(self.duckdb_resource.database).parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("SET memory_limit = ?", [self.memory_limit])
            # Row order within a slice means nothing to the table; keeping it buffers the insert.
            conn.execute("SET preserve_insertion_order = false")
            yield conn
        finally:
            conn.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection, waiting at most `lock_wait_seconds` while another process holds
        the file (logging the holder every `LOCK_LOG_EVERY_SECONDS`), then `PermanentError`: a
        step retry would only wait again. Replaces DuckDBResource's silent connect backoff."""
        database = self.duckdb_resource.database
        config = {
            "custom_user_agent": "dagster",
            **literal_database_config(database),
            **self.duckdb_resource.connection_config,
        }
        started, logged_at, delay = time.monotonic(), None, 0.01
        while True:
            try:
                return duckdb.connect(database, read_only=False, config=config)
            except duckdb.IOException as e:
                if (holder := lock_holder(e)) is None:
                    raise
            pid, program = holder
            now = time.monotonic()
            waited = now - started
            if waited >= self.lock_wait_seconds:
                raise PermanentError(
                    f"{Path(database).absolute()}: another process holds the DuckDB file open, PID {pid} ({program}); "
                    f"the load waited {waited:.0f} s for its lock (TAXI_DUCKDB_LOCK_WAIT={self.lock_wait_seconds:g}). "
                    "Close that connection (a notebook, DBeaver, the duckdb CLI), or have it read a copy or open "
                    "read-only connections per query, then materialize warehouse_trips again"
                ) from None
            if logged_at is None or now - logged_at >= LOCK_LOG_EVERY_SECONDS:
                logged_at = now
                dg.get_dagster_logger().info(
                    f"waiting for the DuckDB file's lock, held by PID {pid} ({program}): waited {waited:.0f} s "
                    f"of {self.lock_wait_seconds:g} s (TAXI_DUCKDB_LOCK_WAIT)"
                )
            time.sleep(min(delay, max(0.0, self.lock_wait_seconds - waited)))
            delay = min(delay * 2, LOCK_POLL_MAX_SECONDS)

    def _prepare(self, conn, conform: bool = True) -> list[tuple[str, str]]:
        """The tables created where missing; for a load, `trips` checked and given the columns it
        lacks (a table of an older release: its rows read null there). Returns its columns then."""
        # No index on `trips`: DuckDB prunes by the row groups' zone maps, and a slice loaded whole
        # fills row groups of its own. No key on `loads`: DuckDB checks a key against rows deleted
        # earlier in the same transaction.
        conn.execute(create_table_sql(TRIPS_TABLE, sql_columns("duckdb")))
        conn.execute(create_table_sql(LOADS_TABLE, LOADS_COLUMNS))
        if not conform:
            return []
        present = conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {TRIPS_TABLE})").fetchall()
        missing = missing_columns(
            f"the DuckDB file {Path(self.duckdb_resource.database).absolute()}",
            TRIPS_TABLE,
            present,
            sql_columns("duckdb"),
        )
        for name, kind in missing:
            conn.execute(f"ALTER TABLE {TRIPS_TABLE} ADD COLUMN {name} {kind}")
        return present + missing

    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the slice and its row of `loads` in one transaction from the lake parquet."""
        # A lake file of an older schema version lacks the newest columns: they load as null.
        columns = ", ".join(lake_file_columns(lake_file))
        where, key = "color = ? AND source_month = ?", [color, source_month]
        with self._connection() as conn, literal_path(to_local_path(lake_file)) as parquet:
            check_lake_file_types(parquet, lake_file)
            column_types = self._prepare(conn)
            with transaction(conn):
                replaced = conn.execute(f"DELETE FROM {TRIPS_TABLE} WHERE {where}", key).fetchone()[0]
                loaded = conn.execute(
                    f"INSERT INTO {TRIPS_TABLE} ({columns}) SELECT {columns} FROM read_parquet(?)", [parquet]
                ).fetchone()[0]
                slice_rows = conn.execute(f"SELECT count(*) FROM {TRIPS_TABLE} WHERE {where}", key).fetchone()[0]
                if slice_rows != loaded:
                    raise slice_mismatch(lake_file, loaded - slice_rows, loaded, color, source_month)
                previous = conn.execute(f"DELETE FROM {LOADS_TABLE} WHERE {where} RETURNING source", key).fetchall()
                conn.execute(
                    f"INSERT INTO {LOADS_TABLE} VALUES (?, ?, ?, ?, ?, now())",
                    [*key, origin and origin.source, origin and origin.sha256, slice_rows],
                )
                check_still_published(origin)
            preview = conn.execute(
                f"SELECT * FROM {TRIPS_TABLE} WHERE {where} LIMIT {PREVIEW_ROWS}", key
            ).to_arrow_table()
            [(catalog, schema)] = conn.execute("SELECT current_database(), current_schema()").fetchall()
        return SliceLoad(
            f"{catalog}.{schema}.{TRIPS_TABLE}",
            loaded,
            replaced,
            slice_rows,
            column_types=tuple(column_types),
            preview=preview,
            previous_source=previous[0][0] if previous else None,
        )

    def _read(self, sql: str) -> list[tuple]:
        with self._connection() as conn:
            self._prepare(conn, conform=False)
            return conn.execute(sql.format(trips=TRIPS_TABLE, loads=LOADS_TABLE)).fetchall()

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table in one transaction from the checked zone file, read by
        `read_csv` with the columns' types given."""
        zones = read_zone_file(csv_file)
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in sql_columns("duckdb", ZONES_SCHEMA))
        with self._connection() as conn, literal_path(to_local_path(csv_file)) as csv:
            conn.execute(create_table_sql(ZONES_TABLE, sql_columns("duckdb", ZONES_SCHEMA), key="location_id"))
            with transaction(conn):
                conn.execute(f"DELETE FROM {ZONES_TABLE}")
                loaded = conn.execute(
                    f"INSERT INTO {ZONES_TABLE} SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                    f"delim = ',', quote = '\"', columns = {{{types}}})",
                    [csv],
                ).fetchone()[0]
                if loaded != len(zones.rows):
                    raise ZoneFileError(f"{csv_file}: DuckDB read {loaded} zones, the file holds {len(zones.rows)}")
        return loaded
