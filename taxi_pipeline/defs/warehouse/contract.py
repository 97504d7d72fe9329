"""What every warehouse backend offers the `warehouse_trips` asset."""

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

import dagster as dg
import pyarrow as pa
from upath import UPath

TRIPS_TABLE = "trips"
ZONES_TABLE = "zones"
# One row per slice of `trips`: where its rows came from (color, source_month, source, sha256,
# rows, loaded_at), replaced in the transaction that replaces the slice.
LOADS_TABLE = "loads"
PREVIEW_ROWS = 5  # rows of a loaded slice read back for the UI


@dataclass(frozen=True)
class SliceOrigin:
    """Where a slice's rows came from, recorded with the slice in the warehouse."""

    source: str  # the release: course or tlc
    sha256: str  # of the lake file loaded
    # Called just before the load commits; raises when the lake no longer publishes the bytes
    # loaded (a newer publication landed meanwhile), which rolls the load back.
    check_still_published: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SliceLoad:
    """The outcome of replacing one (color, source_month) slice of the trips table."""

    table: str  # fully qualified: catalog (DuckDB file, Postgres database, BigQuery project).schema.trips
    rows_loaded: int
    rows_replaced: int
    slice_rows: int
    column_types: tuple[tuple[str, str], ...] = ()  # (name, SQL type) of the table's columns
    preview: pa.Table | None = None  # the first rows of the slice as loaded
    job_id: str | None = None  # the backend's load job, where it has one
    bytes_processed: int | None = None
    previous_source: str | None = None  # the release the slice was loaded from before, if any


class RecordedOrigin(NamedTuple):
    """What the `loads` table says of one slice: its release (None when the load named none), the
    lake file's sha256 (likewise) and when the load committed (time-zone aware)."""

    source: str | None
    sha256: str | None
    loaded_at: datetime


class SliceMismatchError(ValueError):
    """A lake file holds rows of another (color, source_month) than the slice it should load."""


class WarehouseLockedError(Exception):
    """Another session kept what a load needs locked (the DuckDB file, a lock on the Postgres
    table) past the bounded wait; the message names it and what to do. A step retry would only
    wait again, so the load fails at once."""


class WarehouseSchemaError(Exception):
    """The warehouse table is not of the canonical shape (a column of another type, a Postgres
    `trips` that is not partitioned), or the lake file's columns are not of the canonical types (a
    load would cast them implicitly): nothing is written, and a retry would meet the same table
    or file. The message names the warehouse or file, the table, the column, both types and what
    to do."""


def type_mismatches(present: list[tuple[str, str]], expected: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(column, its type, the expected type) of every column of `present` (name, type as the
    warehouse's catalog names it) whose type is not the expected one; columns that only one side
    has are not mismatches (a missing one is added, an extra one is left alone)."""
    wanted = dict(expected)
    return [(name, kind, wanted[name]) for name, kind in present if name in wanted and kind != wanted[name]]


def schema_error(warehouse: str, table: str, mismatches: list[tuple[str, str, str]], fix: str) -> WarehouseSchemaError:
    """The error for a table whose columns have other types than the canonical ones: each column
    with both types, then what to do."""
    columns = "; ".join(f"column {name} is {kind}, expected {wanted}" for name, kind, wanted in mismatches)
    return WarehouseSchemaError(
        f"{warehouse}: the table {table} does not have the canonical column types ({columns}); nothing was "
        f"loaded. {fix}"
    )


class WarehouseResource(dg.ConfigurableResource):
    """A warehouse table `trips` of every color and month, loaded one lake file at a time."""

    @abstractmethod
    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the (color, source_month) slice with the lake file's rows, all or nothing, and
        record `origin` (source, sha256, rows, load time) for the slice in the `loads` table in
        the same transaction. With `origin` None the slice's row is replaced all the same, its
        source and sha256 null: an earlier load's origin never describes rows it did not load.

        A `trips` table whose columns have other types than the canonical ones (or of another
        shape) raises `WarehouseSchemaError` before anything is written; missing columns are added
        in place. The result's column types and preview are read back from the table."""

    @abstractmethod
    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""

    @abstractmethod
    def slice_origins(self) -> dict[tuple[str, date], RecordedOrigin]:
        """{(color, source_month): (source, sha256, loaded_at)} of every slice the `loads` table
        records."""

    @abstractmethod
    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole table `zones` (location_id, borough, zone, service_zone) with the rows
        of the zone lookup file, all or nothing; returns the rows loaded. A file that
        `read_zone_file` refuses raises its `ZoneFileError` and leaves the previous table."""
