"""What every warehouse backend offers the `warehouse_trips` and `taxi_zones` assets, and the
slice replacement the two SQL backends (DuckDB, Postgres) share."""

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar, NamedTuple

import dagster as dg
import pyarrow as pa
from upath import UPath

from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.zones import read_zone_file

PREVIEW_ROWS = 5  # rows of a loaded slice read back for the UI
# The table `loads`, one row per slice of `trips` (its source, sha256, rows and load time), in types
# DuckDB and Postgres both name so.
LOADS_COLUMNS = (
    "color text NOT NULL, source_month date NOT NULL, source text, sha256 text, rows bigint NOT NULL, "
    "loaded_at timestamptz NOT NULL"
)


class SliceOrigin(NamedTuple):
    """Where a slice's rows came from, recorded with the slice: the release (course or tlc), the
    sha256 of the lake file loaded, and a check called just before the load commits that raises
    when the lake no longer publishes those bytes (a newer publication landed), rolling it back."""

    source: str
    sha256: str
    check_still_published: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class SliceLoad:
    """The outcome of replacing one (color, source_month) slice of the trips table."""

    table: str  # catalog (DuckDB file, Postgres database, BigQuery project).schema.trips
    rows_loaded: int
    rows_replaced: int
    slice_rows: int
    column_types: tuple[tuple[str, str], ...]  # (name, SQL type) of the table's columns
    preview: pa.Table  # the first rows of the slice as loaded
    previous_source: str | None  # the release the slice was loaded from before, if any
    job_id: str | None = None  # the backend's load job, where it has one
    bytes_processed: int | None = None


class RecordedOrigin(NamedTuple):
    """What `loads` says of one slice (source and sha256 None when the load named none)."""

    source: str | None
    sha256: str | None
    loaded_at: datetime  # when the load committed, time-zone aware


def create_table_sql(table: str, columns: list[tuple[str, str]] | str, key: str | None = None) -> str:
    """`CREATE TABLE IF NOT EXISTS table (columns[, PRIMARY KEY (key)])`."""
    if not isinstance(columns, str):
        columns = ", ".join(f"{name} {kind}" for name, kind in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns}{f', PRIMARY KEY ({key})' if key else ''})"


def slice_mismatch(lake_file: UPath, strays: int, rows: int, color: str, month: date) -> PermanentError:
    """The error for a lake file holding rows of another slice than the one it should load."""
    return PermanentError(f"{lake_file}: {strays} of {rows} rows are not {color} {month:%Y-%m}")


RETYPE_OR_RENAME = (
    "Change the column back (ALTER TABLE {table} ALTER COLUMN {column} TYPE {canonical}) if its values allow it, "
    "or rename the table (ALTER TABLE {table} RENAME TO {name}_old) and load again: the load creates a canonical table."
)


def missing_columns(
    warehouse: str, table: str, present: list[tuple[str, str]], expected: list[tuple[str, str]], fix=RETYPE_OR_RENAME
) -> list[tuple[str, str]]:
    """The `expected` (column, type) that `present` lacks; a present column of another type
    raises `PermanentError` naming each such column and what to do (`fix`)."""
    types = dict(expected)
    if mismatches := [(name, kind, types[name]) for name, kind in present if types.get(name, kind) != kind]:
        column, _, canonical = mismatches[0]
        fix = fix.format(table=table, name=table.rsplit(".", 1)[-1], column=column, canonical=canonical)
        columns = "; ".join(f"column {name} is {kind}, expected {wanted}" for name, kind, wanted in mismatches)
        raise PermanentError(
            f"{warehouse}: the table {table} does not have the canonical column types ({columns}); nothing was "
            f"loaded. {fix}"
        )
    names = {name for name, _ in present}
    return [(name, kind) for name, kind in expected if name not in names]


class WarehouseResource(dg.ConfigurableResource):
    """A warehouse table `trips` of every color and month, loaded one lake file at a time."""

    @abstractmethod
    def load_slice(self, lake_file: UPath, color: str, source_month: date, origin=None) -> SliceLoad:
        """Replace the (color, source_month) slice with the lake file's rows, and its row of `loads` naming
        the `SliceOrigin` (None: a null source), all or nothing. A `trips` of another shape or column types
        raises `PermanentError` before anything is written; missing columns are added in place."""

    @abstractmethod
    def _read(self, sql: str) -> list[tuple]:
        """The rows of a query in which `{trips}` and `{loads}` name the tables, made if missing."""

    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""
        return self._read("SELECT color, source_month, COUNT(*) FROM {trips} GROUP BY 1, 2 ORDER BY 1, 2")

    def slice_origins(self) -> dict[tuple[str, date], RecordedOrigin]:
        """{(color, source_month): RecordedOrigin} of every slice `loads` records."""
        rows = self._read("SELECT color, source_month, source, sha256, loaded_at FROM {loads}")
        return {(color, month): RecordedOrigin(source, sha, at) for color, month, source, sha, at in rows}

    @abstractmethod
    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole table `zones` with the zone lookup file's rows, all or nothing;
        returns the rows loaded. A file `read_zone_file` refuses raises its `ZoneFileError`."""


class SqlWarehouse(WarehouseResource):
    """A warehouse of DB-API connections: each slice replaced in one transaction (DELETE, insert,
    count, record its origin), then read back. A backend gives its SQL as hooks: `_connection()`,
    `_transaction(conn)`, `_prepare(conn, source_month, conform)` (the tables made; returns the
    columns of `trips`), `_replace_rows(conn, lake_file, color, source_month)` ((rows deleted, rows
    inserted, inserted rows not of the slice)), `_arrow(cursor)` and `_fill_zones(conn, csv_file)`."""

    _param: ClassVar[str]  # the driver's query placeholder

    def load_slice(self, lake_file: UPath, color: str, source_month: date, origin=None) -> SliceLoad:
        where, key = f"color = {self._param} AND source_month = {self._param}", (color, source_month)
        with self._connection() as conn:
            column_types = self._prepare(conn, source_month)
            with self._transaction(conn):
                replaced, loaded, strays = self._replace_rows(conn, lake_file, color, source_month)
                if strays:
                    raise slice_mismatch(lake_file, strays, loaded, color, source_month)
                slice_rows = conn.execute(f"SELECT count(*) FROM trips WHERE {where}", key).fetchone()[0]
                previous = conn.execute(f"DELETE FROM loads WHERE {where} RETURNING source", key).fetchone()
                conn.execute(
                    f"INSERT INTO loads VALUES ({', '.join([self._param] * 5)}, now())",
                    (*key, origin and origin.source, origin and origin.sha256, slice_rows),
                )
                if origin:
                    origin.check_still_published()
            preview = self._arrow(conn.execute(f"SELECT * FROM trips WHERE {where} LIMIT {PREVIEW_ROWS}", key))
            catalog, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        table = f"{catalog}.{schema}.trips"
        return SliceLoad(table, loaded, replaced, slice_rows, tuple(column_types), preview, previous and previous[0])

    def _read(self, sql: str) -> list[tuple]:
        with self._connection() as conn:
            self._prepare(conn, conform=False)
            return [tuple(row) for row in conn.execute(sql.format(trips="trips", loads="loads")).fetchall()]

    def replace_zones(self, csv_file: UPath) -> int:
        read_zone_file(csv_file)  # refuses a bad file before the table is touched
        with self._connection() as conn, self._transaction(conn):
            return self._fill_zones(conn, csv_file)
