"""What every warehouse backend offers the `warehouse_trips` asset."""

from abc import abstractmethod
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pyarrow as pa
from upath import UPath

from taxi_pipeline.schema import CANONICAL_SCHEMA

TRIPS_TABLE = "trips"
ZONES_TABLE = "zones"
PREVIEW_ROWS = 5  # rows of a loaded slice read back for the UI


@dataclass(frozen=True)
class SliceOrigin:
    """Where a slice's rows came from, recorded with the slice in the warehouse."""

    source: str  # the release: course or tlc
    sha256: str  # of the lake file loaded


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


def preview_columns(present: set[str] | None = None) -> list[str]:
    """The canonical columns in order (those in `present`, if given), as a slice preview selects them."""
    return [name for name in CANONICAL_SCHEMA.names if present is None or name in present]


class SliceMismatchError(ValueError):
    """A lake file holds rows of another (color, source_month) than the slice it should load."""


class WarehouseLockedError(Exception):
    """Another session kept what a load needs locked (the DuckDB file, a lock on the Postgres
    table) past the bounded wait; the message names it and what to do. A step retry would only
    wait again, so the load fails at once."""


class WarehouseSchemaError(Exception):
    """The warehouse table is not of the canonical shape (a column of another type, a Postgres
    `trips` that is not partitioned): nothing is written, and a retry would meet the same table.
    The message names the warehouse, the table, the column, both types and what to do."""


class WarehouseResource(dg.ConfigurableResource):
    """A warehouse table `trips` of every color and month, loaded one lake file at a time."""

    @abstractmethod
    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the (color, source_month) slice with the lake file's rows, all or nothing, and
        record `origin` (source, sha256, load time) for the slice in the same transaction."""

    @abstractmethod
    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""

    @abstractmethod
    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole table `zones` (location_id, borough, zone, service_zone) with the rows
        of the zone lookup file, all or nothing; returns the rows loaded. A file that
        `read_zone_file` refuses raises its `ZoneFileError` and leaves the previous table."""
