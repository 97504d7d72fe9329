"""The default warehouse: a `trips` table in a local DuckDB file."""

import re
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field
from upath import UPath

from taxi_pipeline.lake import is_local, to_local_path
from taxi_pipeline.resources.warehouse import (
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    SliceLoad,
    SliceMismatchError,
    WarehouseLockedError,
    WarehouseResource,
    preview_columns,
)
from taxi_pipeline.schema import ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import DEFAULT_DUCKDB_LOCK_WAIT_SECONDS, check_duckdb_file
from taxi_pipeline.transforms.lake_file import lake_file_columns
from taxi_pipeline.transforms.zones import ZoneFileError, read_zone_file

# DuckDB's default takes 80% of the machine's memory and keeps insertion order, so a 7 M-row load
# climbed by ~0.8 GiB; with these it climbs by ~0.3 GiB in the same time (160 MB to 400 MB load
# equally fast; benchmarks/README.md).
DEFAULT_MEMORY_LIMIT = "256MB"
# DuckDB's text when another process has the file open for writing, e.g. `IO Error: Could not set
# lock on file "/x/warehouse.duckdb": Conflicting lock is held in /usr/bin/python3.11 (PID 4242)`.
LOCK_HELD = re.compile(
    r"Could not set lock on file .*Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)"
)
LOCK_LOG_EVERY_SECONDS = 10.0
LOCK_POLL_MAX_SECONDS = 0.25  # short: a reader polling the file leaves only brief gaps


def trips_table_ddl(table: str = TRIPS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` for the canonical schema in DuckDB.

    No index: DuckDB prunes by the min/max zone maps of each row group, and slices are loaded
    whole, so each row group holds one (color, source_month); an ART index would slow loads.
    """
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in sql_columns("duckdb"))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}\n)"


def add_missing_columns(conn, table: str = TRIPS_TABLE) -> list[str]:
    """Add, in place, the canonical columns an existing table lacks (a table made by an older
    release); rows already there read null in them. Returns the columns added."""
    present = {row[0] for row in conn.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}
    added = [(name, kind) for name, kind in sql_columns("duckdb") if name not in present]
    for name, kind in added:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    return [name for name, _ in added]


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
        config = {"custom_user_agent": "dagster", **self.duckdb_resource.connection_config}
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

    def load_slice(self, lake_file: UPath, color: str, source_month: date) -> SliceLoad:
        """Replace the (color, source_month) slice in one transaction from the lake parquet."""
        if not is_local(lake_file):
            raise ValueError(f"the DuckDB warehouse loads local lake files only, got {lake_file}")
        # A lake file of an older schema version lacks the newest columns: they load as null.
        columns = ", ".join(lake_file_columns(lake_file))
        where = "color = ? AND source_month = ?"
        with self._connection() as conn:
            conn.execute(trips_table_ddl())
            add_missing_columns(conn)
            with transaction(conn):
                replaced = conn.execute(f"DELETE FROM {TRIPS_TABLE} WHERE {where}", [color, source_month]).fetchone()[0]
                loaded = conn.execute(
                    f"INSERT INTO {TRIPS_TABLE} ({columns}) SELECT {columns} FROM read_parquet(?)",
                    [str(to_local_path(lake_file))],
                ).fetchone()[0]
                slice_rows = conn.execute(
                    f"SELECT count(*) FROM {TRIPS_TABLE} WHERE {where}", [color, source_month]
                ).fetchone()[0]
                if slice_rows != loaded:
                    raise SliceMismatchError(
                        f"{lake_file}: {loaded - slice_rows} of {loaded} rows are not {color} {source_month:%Y-%m}"
                    )
            preview = conn.execute(
                f"SELECT {', '.join(preview_columns())} FROM {TRIPS_TABLE} WHERE {where} LIMIT ?",
                [color, source_month, PREVIEW_ROWS],
            ).to_arrow_table()
            [(catalog, schema)] = conn.execute("SELECT current_database(), current_schema()").fetchall()
        return SliceLoad(
            f"{catalog}.{schema}.{TRIPS_TABLE}",
            loaded,
            replaced,
            slice_rows,
            column_types=tuple(sql_columns("duckdb")),
            preview=preview,
        )

    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""
        with self._connection() as conn:
            conn.execute(trips_table_ddl())
            add_missing_columns(conn)
            return conn.execute(
                f"SELECT color, source_month, count(*) FROM {TRIPS_TABLE} GROUP BY ALL ORDER BY ALL"
            ).fetchall()

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table from the lake's zone file in one transaction: the file is
        checked first, then DELETE and INSERT from `read_csv` with the columns' types given."""
        if not is_local(csv_file):
            raise ValueError(f"the DuckDB warehouse loads local lake files only, got {csv_file}")
        zones = read_zone_file(csv_file)
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in sql_columns("duckdb", ZONES_SCHEMA))
        with self._connection() as conn:
            conn.execute(zones_table_ddl())
            with transaction(conn):
                conn.execute(f"DELETE FROM {ZONES_TABLE}")
                loaded = conn.execute(
                    f"INSERT INTO {ZONES_TABLE} SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                    f"delim = ',', quote = '\"', columns = {{{columns}}})",
                    [str(to_local_path(csv_file))],
                ).fetchone()[0]
                if loaded != len(zones.rows):
                    raise ZoneFileError(f"{csv_file}: DuckDB read {loaded} zones, the file holds {len(zones.rows)}")
        return loaded
