"""The default warehouse: a `trips` table in a local DuckDB file, loaded with `read_parquet`."""

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    SqlWarehouse,
    create_table_sql,
    missing_columns,
)
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.parquet import lake_file_columns
from taxi_pipeline.schema import CANONICAL_SCHEMA, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import DEFAULT_DUCKDB_LOCK_WAIT_SECONDS

LOCK_LOG_EVERY_SECONDS = 10.0
_LOCK_HELD = re.compile(r"Could not set lock on file (?:.*Conflicting lock is held in ?(.*?) ?\(PID (\d+)\))?", re.S)


def lock_holder(error: duckdb.IOException) -> tuple[str, str] | None:
    """(PID, program) of the process holding the database file's lock, read from the message as
    duckdb 1.5.6 words it ("unknown" where it names none); None for any other error."""
    held = _LOCK_HELD.search(str(error))
    return (held[2] or "unknown", held[1] or "unknown program") if held else None


@contextmanager
def literal_path(path: Path) -> Iterator[str]:
    """A name by which DuckDB's readers read exactly the file at `path` (they expand `* ? [ ]`
    with no way to turn it off): the file opened here, named by its descriptor."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield f"/dev/fd/{fd}"
    finally:
        os.close(fd)


def check_lake_file_types(parquet: str, lake_file: UPath) -> None:
    """Refuse a parquet file of other column types: DuckDB's INSERT would cast them implicitly."""
    types = {f.name: f.type for f in CANONICAL_SCHEMA}
    if other := [f for f in pq.read_schema(parquet) if types.get(f.name, f.type) != f.type]:
        columns = "; ".join(f"column {f.name} is {f.type}, expected {types[f.name]}" for f in other)
        raise PermanentError(
            f"{lake_file}: the lake file's columns are not of the canonical types ({columns}); nothing was loaded. "
            "Write the lake file again (materialize lake_trips_parquet for the partition), then load"
        )


class DuckDBWarehouse(SqlWarehouse):
    """A DuckDB file holding the `trips` table; loads read the lake parquet inside DuckDB."""

    duckdb_resource: DuckDBResource = Field(description="The DuckDB file (TAXI_DUCKDB_PATH)")
    # Beyond it DuckDB spills to `<file>.tmp`.
    memory_limit: str = Field(default="256MB", description="DuckDB's memory limit during loads")
    lock_wait_seconds: float = Field(
        default=DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
        description="Seconds a load waits for the file's lock held by another process (TAXI_DUCKDB_LOCK_WAIT)",
    )
    _param = "?"

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection, waiting at most `lock_wait_seconds` while another process holds
        the file (logging the holder now and then), then `PermanentError`: a retry would wait again."""
        database = self.duckdb_resource.database
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Row order within a slice means nothing to the table; keeping it buffers the insert.
        config = {"memory_limit": self.memory_limit, "preserve_insertion_order": False, "custom_user_agent": "dagster"}
        if "?" in database:  # read by DuckDB as URL parameters: the WAL and spill folder kept beside the file
            config |= {
                "checkpoint_threshold": "0b",  # every commit checkpointed
                "auto_checkpoint_skip_wal_threshold": "0",
                "temp_directory": f"{Path(database).expanduser().absolute()}.tmp",
            }
        config |= self.duckdb_resource.connection_config
        started, logged_at = time.monotonic(), -LOCK_LOG_EVERY_SECONDS
        while True:
            try:
                return duckdb.connect(database, config=config)
            except duckdb.IOException as e:
                if (holder := lock_holder(e)) is None:
                    raise
            pid, program = holder
            waited = time.monotonic() - started
            if waited >= self.lock_wait_seconds:
                raise PermanentError(
                    f"{Path(database).absolute()}: another process holds the DuckDB file open, PID {pid} ({program}); "
                    f"the load waited {waited:.0f} s for its lock (TAXI_DUCKDB_LOCK_WAIT={self.lock_wait_seconds:g}). "
                    "Close that connection (a notebook, DBeaver, the duckdb CLI), or have it read a copy or open "
                    "read-only connections per query, then materialize warehouse_trips again"
                ) from None
            if waited - logged_at >= LOCK_LOG_EVERY_SECONDS:
                logged_at = waited
                dg.get_dagster_logger().info(
                    f"waiting for the DuckDB file's lock, held by PID {pid} ({program}): waited {waited:.0f} s "
                    f"of {self.lock_wait_seconds:g} s (TAXI_DUCKDB_LOCK_WAIT)"
                )
            time.sleep(0.05)  # short: a reader polling the file leaves only brief gaps

    @contextmanager
    def _transaction(self, conn):
        """Committed at the block's end; on an error the connection's close rolls it back."""
        conn.begin()
        yield
        conn.commit()

    def _prepare(self, conn, source_month=None, conform=True) -> list[tuple[str, str]]:
        # No index on `trips`: a slice loaded whole fills row groups of its own, pruned by their zone
        # maps. No key on `loads`: DuckDB checks a key against rows deleted earlier in the transaction.
        conn.execute(create_table_sql("trips", sql_columns("duckdb")))
        conn.execute(create_table_sql("loads", LOADS_COLUMNS))
        if not conform:
            return []
        present = conn.execute("SELECT column_name, column_type FROM (DESCRIBE trips)").fetchall()
        where = f"the DuckDB file {Path(self.duckdb_resource.database).absolute()}"
        missing = missing_columns(where, "trips", present, sql_columns("duckdb"))
        for name, kind in missing:
            conn.execute(f"ALTER TABLE trips ADD COLUMN {name} {kind}")
        return present + missing

    def _replace_rows(self, conn, lake_file, color, source_month) -> tuple[int, int, int]:
        # A lake file of an older schema version lacks the newest columns: they load as null.
        columns = ", ".join(lake_file_columns(lake_file))
        where, key = "color = ? AND source_month = ?", [color, source_month]
        with literal_path(to_local_path(lake_file)) as parquet:
            check_lake_file_types(parquet, lake_file)
            replaced = conn.execute(f"DELETE FROM trips WHERE {where}", key).fetchone()[0]
            loaded = conn.execute(
                f"INSERT INTO trips ({columns}) SELECT {columns} FROM read_parquet(?)", [parquet]
            ).fetchone()[0]
        in_slice = conn.execute(f"SELECT count(*) FROM trips WHERE {where}", key).fetchone()[0]
        return replaced, loaded, loaded - in_slice

    def _arrow(self, cursor):
        return cursor.to_arrow_table()

    def _fill_zones(self, conn, csv_file) -> int:
        """The file read by `read_csv` with the columns' types given."""
        columns = sql_columns("duckdb", ZONES_SCHEMA)
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in columns)
        conn.execute(create_table_sql("zones", columns, key="location_id"))
        conn.execute("DELETE FROM zones")
        with literal_path(to_local_path(csv_file)) as csv:
            return conn.execute(
                f"INSERT INTO zones SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                f"delim = ',', quote = '\"', columns = {{{types}}})",
                [csv],
            ).fetchone()[0]
