"""The default warehouse: a `trips` table in a local DuckDB file."""

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
from dagster_duckdb import DuckDBResource
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import is_local, to_local_path
from taxi_pipeline.defs.warehouse.contract import (
    LOADS_TABLE,
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    RecordedOrigin,
    SliceLoad,
    SliceMismatchError,
    SliceOrigin,
    WarehouseLockedError,
    WarehouseResource,
    WarehouseSchemaError,
    schema_error,
    type_mismatches,
)
from taxi_pipeline.lib.parquet import lake_file_columns
from taxi_pipeline.lib.zones import ZoneFileError, read_zone_file
from taxi_pipeline.schema import CANONICAL_SCHEMA, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import DEFAULT_DUCKDB_LOCK_WAIT_SECONDS, check_duckdb_file

# DuckDB's default takes 80% of the machine's memory and keeps insertion order, so a 7 M-row load
# climbed by ~0.8 GiB; with these it climbs by ~0.3 GiB in the same time (160 MB to 400 MB load
# equally fast; benchmarks/README.md).
DEFAULT_MEMORY_LIMIT = "256MB"
# DuckDB's text when another process has the file open for writing, e.g. `IO Error: Could not set
# lock on file "/x/warehouse.duckdb": Conflicting lock is held in /usr/bin/python3.11 (PID 4242)`.
LOCK_HELD = re.compile(
    r"Could not set lock on file .*Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)"
)
# Where this process's open files are named by descriptor (Linux; /dev/fd elsewhere).
FD_FOLDER = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
LOCK_LOG_EVERY_SECONDS = 10.0
LOCK_POLL_MAX_SECONDS = 0.25  # short: a reader polling the file leaves only brief gaps


def trips_table_ddl(table: str = TRIPS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` for the canonical schema in DuckDB.

    No index: DuckDB prunes by the min/max zone maps of each row group, and slices are loaded
    whole, so each row group holds one (color, source_month); an ART index would slow loads.
    """
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in sql_columns("duckdb"))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}\n)"


def conform_trips_table(conn, warehouse: str, table: str = TRIPS_TABLE) -> None:
    """Check an existing table's columns against the canonical ones with one DESCRIBE: a column
    of another type raises `WarehouseSchemaError` (naming `warehouse`, the column and both types)
    before anything changes; the canonical columns it lacks (a table made by an older release)
    are then added in place, and rows already there read null in them."""
    present = conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall()
    if mismatches := type_mismatches(present, sql_columns("duckdb")):
        name, _, wanted = mismatches[0]
        raise schema_error(
            warehouse,
            table,
            mismatches,
            f"Change the column back (ALTER TABLE {table} ALTER COLUMN {name} TYPE {wanted}) if its values allow "
            f"it, or rename the table (ALTER TABLE {table} RENAME TO {table}_old) and load again: the load creates "
            "a canonical table.",
        )
    names = {name for name, _ in present}
    for name, kind in sql_columns("duckdb"):
        if name not in names:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def loads_table_ddl(table: str = LOADS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the table recording each slice's origin. No key: DuckDB
    checks a key against rows deleted earlier in the same transaction, and the slice's row is
    always deleted and inserted together."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  color VARCHAR NOT NULL,\n  source_month DATE NOT NULL,\n"
        "  source VARCHAR,\n  sha256 VARCHAR,\n  rows BIGINT NOT NULL,\n  loaded_at TIMESTAMPTZ NOT NULL\n)"
    )


def literal_database_config(database: str) -> dict[str, str]:
    """DuckDB settings under which it keeps the database file `database` at exactly that path.

    DuckDB takes a `?` in a database path for the start of URL parameters: it puts the WAL and
    the spill folder at the path with `.wal` / `.tmp` put before the `?` (`a?/w.duckdb` logs to
    `a.wal?/w.duckdb`, and the commit fails). For such a path every commit is checkpointed into
    the file itself, never logged (both thresholds 0; a commit DuckDB cannot checkpoint then
    fails rather than logging elsewhere), and the spill folder is named in full. `* [ ]` need
    nothing: DuckDB opens a database path literally."""
    if "?" not in database:
        return {}
    return {
        "checkpoint_threshold": "0b",
        "auto_checkpoint_skip_wal_threshold": "0",
        "temp_directory": f"{Path(database).expanduser().absolute()}.tmp",
    }


@contextmanager
def literal_path(path: Path) -> Iterator[str]:
    """A name by which DuckDB reads exactly the file at `path`: the file opened here and named by
    its descriptor. DuckDB expands `* ? [ ]` in the paths its readers take (a folder `a[1]` reads
    `a1`), and has no way to turn that off; a descriptor's name holds none of them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield f"{FD_FOLDER}/{fd}"
    finally:
        os.close(fd)


def check_lake_file_types(parquet: str, lake_file: UPath) -> None:
    """Raise `WarehouseSchemaError` when a canonical column of the parquet file (read at
    `parquet`, shown as `lake_file`) has another type than the canonical one: DuckDB's INSERT
    would cast it implicitly, a double into an integer column rounded."""
    schema = pq.read_schema(parquet)
    other = [
        (f.name, f.type, CANONICAL_SCHEMA.field(f.name).type)
        for f in schema
        if f.name in CANONICAL_SCHEMA.names and f.type != CANONICAL_SCHEMA.field(f.name).type
    ]
    if other:
        columns = "; ".join(f"column {name} is {kind}, expected {wanted}" for name, kind, wanted in other)
        raise WarehouseSchemaError(
            f"{lake_file}: the lake file's columns are not of the canonical types ({columns}); nothing was loaded. "
            "Write the lake file again (materialize lake_trips_parquet for the partition), then load"
        )


def zones_table_ddl(table: str = ZONES_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the taxi zone table in DuckDB."""
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in sql_columns("duckdb", ZONES_SCHEMA))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns},\n  PRIMARY KEY (location_id)\n)"


@contextmanager
def transaction(conn):
    """One transaction around the block: committed at its end, rolled back when the block (or the
    commit) fails, and the block's error raised. A failed commit (a full disk) has already ended
    the transaction, or invalidated the database: the rollback's own error ("cannot rollback - no
    transaction is active") must not hide the cause."""
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        try:
            conn.rollback()
        except duckdb.Error:
            pass  # nothing left to roll back; the error being raised says why
        raise


class DuckDBWarehouse(WarehouseResource):
    """A DuckDB file holding the `trips` table; loads read the lake parquet inside DuckDB."""

    duckdb_resource: DuckDBResource = Field(description="The DuckDB file (TAXI_DUCKDB_PATH)")
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB's memory limit during loads; beyond it DuckDB spills to `<file>.tmp`",
    )

    lock_wait_seconds: float = Field(
        default=DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
        ge=0,
        description="Seconds a load waits for the file's lock held by another process (TAXI_DUCKDB_LOCK_WAIT)",
    )

    @contextmanager
    def _connection(self):
        Path(self.duckdb_resource.database).parent.mkdir(parents=True, exist_ok=True)
        # DuckDB opens a file that is not a database (a parquet, a CSV) as an empty in-memory one.
        check_duckdb_file(self.duckdb_resource.database)
        conn = self._connect()
        try:
            conn.execute("SET memory_limit = ?", [self.memory_limit])
            # Row order within a slice means nothing to the table; keeping it buffers the insert.
            conn.execute("SET preserve_insertion_order = false")
            yield conn
        finally:
            conn.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection to the file, waiting at most `lock_wait_seconds` while another
        process holds it, with a line at INFO every `LOCK_LOG_EVERY_SECONDS` naming the holder;
        then `WarehouseLockedError`. Replaces DuckDBResource's own connect, whose backoff waited
        ~102 s in silence, four times over with the step's retries."""
        database = self.duckdb_resource.database
        config = {
            "custom_user_agent": "dagster",
            **literal_database_config(database),
            **self.duckdb_resource.connection_config,
        }
        log = dg.get_dagster_logger()
        started = time.monotonic()
        logged_at, delay = None, 0.01
        while True:
            try:
                return duckdb.connect(database, read_only=False, config=config)
            except duckdb.IOException as e:
                holder = LOCK_HELD.search(str(e))
                if holder is None:
                    raise
            now = time.monotonic()
            waited = now - started
            pid, program = holder["pid"], holder["program"]
            if waited >= self.lock_wait_seconds:
                raise WarehouseLockedError(
                    f"{Path(database).absolute()}: another process holds the DuckDB file open, PID {pid} ({program}); "
                    f"the load waited {waited:.0f} s for its lock (TAXI_DUCKDB_LOCK_WAIT={self.lock_wait_seconds:g}). "
                    "Close that connection (a notebook, DBeaver, the duckdb CLI), or have it read a copy or open "
                    "read-only connections per query, then materialize warehouse_trips again"
                ) from None
            if logged_at is None or now - logged_at >= LOCK_LOG_EVERY_SECONDS:
                logged_at = now
                log.info(
                    f"waiting for the DuckDB file's lock, held by PID {pid} ({program}): waited {waited:.0f} s "
                    f"of {self.lock_wait_seconds:g} s (TAXI_DUCKDB_LOCK_WAIT)"
                )
            time.sleep(min(delay, max(0.0, self.lock_wait_seconds - waited)))
            delay = min(delay * 2, LOCK_POLL_MAX_SECONDS)

    @property
    def _warehouse(self) -> str:
        return f"the DuckDB file {Path(self.duckdb_resource.database).absolute()}"

    def _prepare(self, conn, conform: bool = True) -> None:
        """The tables created where missing; `trips` conformed (`conform_trips_table`) for a load,
        not for a read, which a column of another type does not mislead."""
        conn.execute(trips_table_ddl())
        conn.execute(loads_table_ddl())
        if conform:
            conform_trips_table(conn, self._warehouse)

    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the (color, source_month) slice, and its row of `loads`, in one transaction from
        the lake parquet, read by DuckDB (`read_parquet`) as exactly the file named. With no
        `origin`, the slice's `loads` row has a null source and sha256."""
        if not is_local(lake_file):
            raise ValueError(f"the DuckDB warehouse loads local lake files only, got {lake_file}")
        # A lake file of an older schema version lacks the newest columns: they load as null.
        columns = ", ".join(lake_file_columns(lake_file))
        where = "color = ? AND source_month = ?"
        with self._connection() as conn, literal_path(to_local_path(lake_file)) as parquet:
            check_lake_file_types(parquet, lake_file)
            self._prepare(conn)
            with transaction(conn):
                replaced = conn.execute(f"DELETE FROM {TRIPS_TABLE} WHERE {where}", [color, source_month]).fetchone()[0]
                loaded = conn.execute(
                    f"INSERT INTO {TRIPS_TABLE} ({columns}) SELECT {columns} FROM read_parquet(?)", [parquet]
                ).fetchone()[0]
                slice_rows = conn.execute(
                    f"SELECT count(*) FROM {TRIPS_TABLE} WHERE {where}", [color, source_month]
                ).fetchone()[0]
                if slice_rows != loaded:
                    raise SliceMismatchError(
                        f"{lake_file}: {loaded - slice_rows} of {loaded} rows are not {color} {source_month:%Y-%m}"
                    )
                previous = conn.execute(
                    f"DELETE FROM {LOADS_TABLE} WHERE {where} RETURNING source", [color, source_month]
                ).fetchall()
                conn.execute(
                    f"INSERT INTO {LOADS_TABLE} VALUES (?, ?, ?, ?, ?, now())",
                    [color, source_month, origin and origin.source, origin and origin.sha256, slice_rows],
                )
                if origin and origin.check_still_published:
                    origin.check_still_published()
            column_types = conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {TRIPS_TABLE})").fetchall()
            preview = conn.execute(
                f"SELECT * FROM {TRIPS_TABLE} WHERE {where} LIMIT ?", [color, source_month, PREVIEW_ROWS]
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

    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""
        with self._connection() as conn:
            self._prepare(conn, conform=False)
            return conn.execute(
                f"SELECT color, source_month, count(*) FROM {TRIPS_TABLE} GROUP BY ALL ORDER BY ALL"
            ).fetchall()

    def slice_origins(self) -> dict[tuple[str, date], RecordedOrigin]:
        """{(color, source_month): (source, sha256, loaded_at)} of every slice `loads` records."""
        with self._connection() as conn:
            self._prepare(conn, conform=False)
            rows = conn.execute(f"SELECT color, source_month, source, sha256, loaded_at FROM {LOADS_TABLE}").fetchall()
        return {(color, month): RecordedOrigin(source, sha, at) for color, month, source, sha, at in rows}

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table from the lake's zone file in one transaction: the file is
        checked first, then DELETE and INSERT from `read_csv` with the columns' types given."""
        if not is_local(csv_file):
            raise ValueError(f"the DuckDB warehouse loads local lake files only, got {csv_file}")
        zones = read_zone_file(csv_file)
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in sql_columns("duckdb", ZONES_SCHEMA))
        with self._connection() as conn, literal_path(to_local_path(csv_file)) as csv:
            conn.execute(zones_table_ddl())
            with transaction(conn):
                conn.execute(f"DELETE FROM {ZONES_TABLE}")
                loaded = conn.execute(
                    f"INSERT INTO {ZONES_TABLE} SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                    f"delim = ',', quote = '\"', columns = {{{columns}}})",
                    [csv],
                ).fetchone()[0]
                if loaded != len(zones.rows):
                    raise ZoneFileError(f"{csv_file}: DuckDB read {loaded} zones, the file holds {len(zones.rows)}")
        return loaded
