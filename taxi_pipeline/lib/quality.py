"""Data-quality measures of a month of canonical trips, for the asset checks."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxi_pipeline.lib.clean import count_outside_month
from taxi_pipeline.schema import CANONICAL_SCHEMA

FIRST_ZONE, LAST_ZONE = 1, 265  # TLC taxi zones in taxi_zone_lookup.csv
LOCATION_COLUMNS = ("pickup_location_id", "dropoff_location_id")
TIMESTAMP_COLUMNS = ("pickup_datetime", "dropoff_datetime")


def schema_differences(schema: pa.Schema) -> list[str]:
    """How `schema` differs from the canonical schema, one line a difference; empty if equal."""
    expected = {f.name: f.type for f in CANONICAL_SCHEMA}
    actual = {f.name: f.type for f in schema}
    lines = [f"missing column {name} ({kind})" for name, kind in expected.items() if name not in actual]
    lines += [f"unexpected column {name} ({kind})" for name, kind in actual.items() if name not in expected]
    lines += [
        f"column {name} is {actual[name]}, expected {kind}"
        for name, kind in expected.items()
        if name in actual and actual[name] != kind
    ]
    if not lines and list(actual) != list(expected):
        lines.append("columns are not in canonical order")
    return lines


def null_counts(table: pa.Table, columns: tuple[str, ...]) -> dict[str, int]:
    """Null values per column."""
    return {name: table[name].null_count for name in columns}


def location_id_problems(table: pa.Table, color: str, zone_ids: list[int] | None = None) -> dict[str, dict[str, int]]:
    """Per location column: ids that are no zone (not among `zone_ids`, the zone table's ids,
    or outside 1..265 when there is none), and nulls where the color should have ids.

    fhv files often carry no location at all, so nulls count as problems for yellow and green only.
    """
    problems = {}
    for name in LOCATION_COLUMNS:
        column = table[name]
        if zone_ids is None:
            not_a_zone = pc.or_(pc.less(column, FIRST_ZONE), pc.greater(column, LAST_ZONE))
        else:
            not_a_zone = pc.invert(pc.is_in(column, value_set=pa.array(zone_ids, column.type)))
        # A null id is no zone either, but counted as null below (is_in gives false, less/greater null).
        outside = pc.sum(pc.and_(not_a_zone, pc.is_valid(column)).cast(pa.int64())).as_py() or 0
        nulls = 0 if color == "fhv" else column.null_count
        problems[name] = {"outside_zone_range": outside, "null": nulls}
    return problems


def share_outside_month(pickups: pa.ChunkedArray, month: date) -> float:
    """The fraction of pickups outside the file's month (0 for an empty file)."""
    return count_outside_month(pickups, month) / len(pickups) if len(pickups) else 0.0


MONEY_COLUMNS = ("fare_amount", "total_amount")
FLOAT_COLUMNS = tuple(f.name for f in CANONICAL_SCHEMA if pa.types.is_floating(f.type))
# Trips with neither location id: fhv's measure of its location ids (see REQUIRED_COLUMNS).
NO_LOCATION = "pickup_and_dropoff_location_id"
# The columns each service must fill, with the share of nulls a real month may hold. fhv leaves
# location ids partly empty (the bundled fhv 2019-01 head: no pickup zone at all, 89% of trips
# with neither; the TLC's fhv 2020-04 sample: 32% without a pickup zone, 5.5% with neither), so
# fhv is held only to having a location on some trips.
_TIMES = dict.fromkeys(TIMESTAMP_COLUMNS, 0.0)
_TAXI = {**_TIMES, **dict.fromkeys(LOCATION_COLUMNS, 0.0), **dict.fromkeys(MONEY_COLUMNS, 0.001)}
REQUIRED_COLUMNS: dict[str, dict[str, float]] = {
    "yellow": _TAXI,
    "green": _TAXI,
    "fhv": {**_TIMES, NO_LOCATION: 0.99},
    "fhvhv": {**_TIMES, **dict.fromkeys(LOCATION_COLUMNS, 0.001)},
}
# Columns set by cleaning, the same on every row: left out of the row hash.
_CONSTANT_COLUMNS = ("color", "source_month")
# What tells one trip from another, hashed on every audit: rows that repeat exactly share these,
# so when few rows share them fewer still are duplicates, and the whole rows (a second read of
# every column, ~4.7 s for a 7 M-row yellow month against ~1.4 s for the whole audit) need
# hashing only when many do.
KEY_COLUMNS = (
    *TIMESTAMP_COLUMNS,
    *LOCATION_COLUMNS,
    "trip_distance",
    "total_amount",
    "dispatching_base_num",
    "hvfhs_license_num",
)
# What the audit reads of the staged file; the columns it counts nulls or values in are read
# even when they hold nothing.
COUNTED_COLUMNS = (*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS, "trip_distance", "passenger_count")
AUDIT_COLUMNS = tuple(dict.fromkeys((*COUNTED_COLUMNS, *KEY_COLUMNS, *FLOAT_COLUMNS)))


def audit_columns(metadata: pq.FileMetaData) -> list[str]:
    """The `AUDIT_COLUMNS` a staged file has, but for those its statistics show to be null in
    every row (most of another service's columns: a null column holds no NaN and tells no row
    from another), which a 7 M-row month reads in half the time without."""
    names = metadata.schema.to_arrow_schema().names
    empty = set()
    for index, name in enumerate(names):
        chunks = [metadata.row_group(group).column(index) for group in range(metadata.num_row_groups)]
        if all(c.statistics is not None and c.statistics.null_count == c.num_values for c in chunks):
            empty.add(name)
    return [name for name in AUDIT_COLUMNS if name in names and (name in COUNTED_COLUMNS or name not in empty)]


def implausible_values(table: pa.Table) -> dict[str, int]:
    """Rows with a negative fare or total (refunds and disputes), and trips of zero distance:
    kept in the data as published, counted for the checks."""
    counts = {
        f"negative_{name}": pc.sum(pc.less(table[name], 0).cast(pa.int64())).as_py() or 0 for name in MONEY_COLUMNS
    }
    counts["zero_trip_distance"] = pc.sum(pc.equal(table["trip_distance"], 0).cast(pa.int64())).as_py() or 0
    return counts


def non_finite_values(table: pa.Table) -> dict[str, int]:
    """NaN and infinite values per floating point column of `table` (nulls are not counted)."""
    return {name: _non_finite(table[name]) for name in FLOAT_COLUMNS if name in table.column_names}


def _non_finite(column: pa.ChunkedArray) -> int:
    # A sum is finite when every value is (short of an overflow, which counts below): one fast
    # pass for the usual column, the counting pass only for one that holds NaN or infinity.
    total = pc.sum(column).as_py()
    if total is None or math.isfinite(total):
        return 0
    return pc.sum(pc.invert(pc.is_finite(column)).cast(pa.int64())).as_py() or 0


def required_nulls(table: pa.Table) -> dict[str, int]:
    """Nulls in each column some service requires, and trips with neither location id."""
    counts = {name: table[name].null_count for name in (*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS)}
    neither = pc.and_(pc.is_null(table["pickup_location_id"]), pc.is_null(table["dropoff_location_id"]))
    counts[NO_LOCATION] = pc.sum(neither.cast(pa.int64())).as_py() or 0
    return counts


def impossible_values(table: pa.Table) -> dict[str, int]:
    """Trips that end before they start and negative passenger counts."""
    before = pc.less(table["dropoff_datetime"], table["pickup_datetime"])
    return {
        "dropoff_before_pickup": pc.sum(before.cast(pa.int64())).as_py() or 0,
        "negative_passenger_count": pc.sum(pc.less(table["passenger_count"], 0).cast(pa.int64())).as_py() or 0,
    }


def row_hashes(
    table: pa.Table, connection: duckdb.DuckDBPyConnection, columns: Iterable[str] | None = None
) -> np.ndarray:
    """A 64-bit hash of each row over `columns` of `table` (default: every column but the
    constant ones) with DuckDB's `hash`, which tells a null from any value: equal rows hash
    alike, and 7 M distinct rows collide with a chance of about one in a million."""
    names = [
        name
        for name in (table.column_names if columns is None else columns)
        if name in table.column_names and name not in _CONSTANT_COLUMNS
    ]
    if not names or not table.num_rows:
        return np.zeros(table.num_rows, np.uint64)
    listed = ", ".join(f'"{name}"' for name in names)
    hashed = connection.from_arrow(table.select(names)).project(f"hash({listed}) AS h").fetchnumpy()["h"]
    return np.asarray(hashed, np.uint64)


def count_duplicates(hashes: list[np.ndarray]) -> int:
    """Rows whose hash an earlier row already has: a month holding every row twice has half
    its rows counted."""
    if not hashes:
        return 0
    values = np.concatenate(hashes)
    values.sort()
    return int(np.count_nonzero(values[1:] == values[:-1]))


def duplicate_rows(batches: Iterable[pa.Table | pa.RecordBatch]) -> int:
    """Rows that repeat an earlier row exactly, in every column, over a month read batch by batch
    (memory of one batch plus 8 bytes a row)."""
    with duckdb.connect() as connection:
        return count_duplicates([row_hashes(_table(batch), connection) for batch in batches])


def _table(batch: pa.Table | pa.RecordBatch) -> pa.Table:
    return pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch


@dataclass
class MonthMeasures:
    """What the audit measures of a month, summed over its batches: every count is additive
    (the hashes of the rows' `KEY_COLUMNS` are kept to count at the end, 8 bytes a row)."""

    rows: int = 0
    null_times: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIMESTAMP_COLUMNS, 0))
    location_problems: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: {"outside_zone_range": 0, "null": 0} for name in LOCATION_COLUMNS}
    )
    pickups_outside_month: int = 0
    implausible: dict[str, int] = field(
        default_factory=lambda: {**{f"negative_{name}": 0 for name in MONEY_COLUMNS}, "zero_trip_distance": 0}
    )
    non_finite: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLOAT_COLUMNS, 0))
    nulls: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS, NO_LOCATION), 0)
    )
    impossible: dict[str, int] = field(
        default_factory=lambda: {"dropoff_before_pickup": 0, "negative_passenger_count": 0}
    )
    key_hashes: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def duplicate_keys(self) -> int:
        """Rows that repeat an earlier row's `KEY_COLUMNS`: at least as many as repeat it exactly."""
        return count_duplicates(self.key_hashes)

    @property
    def share_outside_month(self) -> float:
        """The fraction of pickups outside the file's month (0 for an empty file)."""
        return self.pickups_outside_month / self.rows if self.rows else 0.0

    def add(
        self,
        batch: pa.Table,
        color: str,
        month: date,
        zone_ids: list[int] | None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        """Add one batch's counts, and its key hashes when given a DuckDB `connection`."""
        self.rows += batch.num_rows
        for name, count in null_counts(batch, TIMESTAMP_COLUMNS).items():
            self.null_times[name] += count
        for name, counts in location_id_problems(batch, color, zone_ids).items():
            for kind, count in counts.items():
                self.location_problems[name][kind] += count
        self.pickups_outside_month += count_outside_month(batch["pickup_datetime"], month)
        for name, count in implausible_values(batch).items():
            self.implausible[name] += count
        for counts, total in (
            (non_finite_values(batch), self.non_finite),
            (required_nulls(batch), self.nulls),
            (impossible_values(batch), self.impossible),
        ):
            for name, count in counts.items():
                total[name] = total.get(name, 0) + count
        if connection is not None:
            self.key_hashes.append(row_hashes(batch, connection, KEY_COLUMNS))


def measure_month(
    batches: Iterable[pa.Table | pa.RecordBatch], color: str, month: date, zone_ids: list[int] | None = None
) -> MonthMeasures:
    """The audit's measures of a month read batch by batch (memory of one batch, not the month,
    plus 8 bytes a row of key hashes)."""
    measures = MonthMeasures()
    with duckdb.connect() as connection:
        for batch in batches:
            measures.add(_table(batch), color, month, zone_ids, connection)
    return measures


@dataclass(frozen=True)
class RowDropThresholds:
    """Shares of a month's rows that may go missing from one publication to the next: above
    `warn_share` fewer rows the month warns, above `block_share` fewer it is not published;
    likewise above `warn_growth` and `block_growth` more rows (every row twice is +100%)."""

    warn_share: float = 0.10
    block_share: float = 0.50
    # Real re-publications change a month's rows by a few percent at most: the course mirror and
    # the TLC's files differ by 3.3% for green 2019-2020 and under 0.05% for fhv 2019, yellow 2020
    # and green 2020, and none of the TLC's 439 files listed twice in its file metadata changed.
    warn_growth: float = 0.10
    block_growth: float = 0.50


def row_drop_share(previous_rows: int | None, rows: int) -> float:
    """The share of the previous publication's rows a month has lost (0.0 when it has as many or
    more, or when there was no previous publication)."""
    if not previous_rows or rows >= previous_rows:
        return 0.0
    return (previous_rows - rows) / previous_rows


def row_growth_share(previous_rows: int | None, rows: int) -> float:
    """The share by which a month has more rows than its previous publication (0.0 when it has
    as many or fewer, or when there was no previous publication)."""
    if not previous_rows or rows <= previous_rows:
        return 0.0
    return (rows - previous_rows) / previous_rows


def row_drop_verdict(drop_share: float, thresholds: RowDropThresholds, growth_share: float = 0.0) -> str:
    """ "pass", "warn" or "block" for a month that lost `drop_share` of its previous rows or
    gained `growth_share` more."""
    if drop_share > thresholds.block_share or growth_share > thresholds.block_growth:
        return "block"
    if drop_share > thresholds.warn_share or growth_share > thresholds.warn_growth:
        return "warn"
    return "pass"


DEFAULT_ROW_DROP = RowDropThresholds()
