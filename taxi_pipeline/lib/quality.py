"""Data-quality measures of a month of canonical trips, for the audit's checks."""

import itertools
import math
from collections import Counter
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
MONEY_COLUMNS = ("fare_amount", "total_amount")
FLOAT_COLUMNS = tuple(f.name for f in CANONICAL_SCHEMA if pa.types.is_floating(f.type))
NO_LOCATION = "pickup_and_dropoff_location_id"  # trips with neither location id
# The columns each service must fill, with the share of nulls a month may hold.
_TIMES = dict.fromkeys(TIMESTAMP_COLUMNS, 0.0)
_TAXI = {**_TIMES, **dict.fromkeys(LOCATION_COLUMNS, 0.0), **dict.fromkeys(MONEY_COLUMNS, 0.001)}
REQUIRED_COLUMNS: dict[str, dict[str, float]] = {
    "yellow": _TAXI,
    "green": _TAXI,
    "fhv": {**_TIMES, NO_LOCATION: 0.99},
    "fhvhv": {**_TIMES, **dict.fromkeys(LOCATION_COLUMNS, 0.001)},
}
# What tells one trip from another: rows that repeat exactly share these, so whole rows are
# hashed only when many rows share them.
KEY_COLUMNS = (*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, "trip_distance", "total_amount")
KEY_COLUMNS += ("dispatching_base_num", "hvfhs_license_num")  # fhv's and fhvhv's
_CONSTANT_COLUMNS = ("color", "source_month")
# The columns the audit counts nulls or values in, read even when they hold nothing.
COUNTED_COLUMNS = (*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS, "trip_distance", "passenger_count")
AUDIT_COLUMNS = tuple(dict.fromkeys((*COUNTED_COLUMNS, *KEY_COLUMNS, *FLOAT_COLUMNS)))


def schema_differences(schema: pa.Schema) -> list[str]:
    """How `schema` differs from the canonical schema, one line a difference; empty if equal."""
    expected = {f.name: f.type for f in CANONICAL_SCHEMA}
    actual = {f.name: f.type for f in schema}
    lines = [f"missing column {name} ({kind})" for name, kind in expected.items() if name not in actual]
    lines += [f"unexpected column {name} ({kind})" for name, kind in actual.items() if name not in expected]
    lines += [f"column {n} is {actual[n]}, expected {k}" for n, k in expected.items() if n in actual and actual[n] != k]
    if not lines and list(actual) != list(expected):
        lines.append("columns are not in canonical order")
    return lines


def audit_columns(metadata: pq.FileMetaData) -> list[str]:
    """The `AUDIT_COLUMNS` a staged file has, less the uncounted ones its statistics show null in
    every row (most of another service's columns)."""
    names = metadata.schema.to_arrow_schema().names
    groups = (metadata.row_group(group) for group in range(metadata.num_row_groups))
    chunks = [group.column(index) for group in groups for index in range(group.num_columns)]
    filled = {c.path_in_schema for c in chunks if c.statistics is None or c.statistics.null_count != c.num_values}
    return [n for n in AUDIT_COLUMNS if n in names and (n in COUNTED_COLUMNS or n in filled)]


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return pc.sum(mask).as_py() or 0


def location_id_problems(table: pa.Table, color: str, zone_ids: list[int] | None = None) -> dict[str, dict[str, int]]:
    """Per location column: ids that are no zone (not among `zone_ids`, or outside 1..265 without
    them), and nulls (none counted for fhv, which may leave locations empty)."""
    zones = pa.array(range(FIRST_ZONE, LAST_ZONE + 1) if zone_ids is None else zone_ids, pa.int32())
    problems = {}
    for name in LOCATION_COLUMNS:
        column = table[name]
        outside = _count(pc.and_not(pc.is_valid(column), pc.is_in(column, value_set=zones)))
        problems[name] = {"outside_zone_range": outside, "null": 0 if color == "fhv" else column.null_count}
    return problems


def implausible_values(table: pa.Table) -> dict[str, int]:
    """Rows with a negative fare or total (refunds), and trips of zero distance."""
    counts = {f"negative_{name}": _count(pc.less(table[name], 0)) for name in MONEY_COLUMNS}
    return {**counts, "zero_trip_distance": _count(pc.equal(table["trip_distance"], 0))}


def non_finite_values(table: pa.Table) -> dict[str, int]:
    """NaN and infinite values per floating point column of `table` (nulls are not counted)."""

    def non_finite(column: pa.ChunkedArray) -> int:
        # A finite sum means finite values (an overflow is counted): one fast pass for most columns.
        total = pc.sum(column).as_py()
        return 0 if total is None or math.isfinite(total) else _count(pc.invert(pc.is_finite(column)))

    return {name: non_finite(table[name]) for name in FLOAT_COLUMNS if name in table.column_names}


def required_nulls(table: pa.Table) -> dict[str, int]:
    """Nulls in each column some service requires, and trips with neither location id."""
    counts = {name: table[name].null_count for name in (*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS)}
    neither = pc.and_(*(pc.is_null(table[name]) for name in LOCATION_COLUMNS))
    return {**counts, NO_LOCATION: _count(neither)}


def impossible_values(table: pa.Table) -> dict[str, int]:
    """Trips that end before they start and negative passenger counts."""
    return {
        "dropoff_before_pickup": _count(pc.less(table["dropoff_datetime"], table["pickup_datetime"])),
        "negative_passenger_count": _count(pc.less(table["passenger_count"], 0)),
    }


def _row_hashes(table: pa.Table, connection: duckdb.DuckDBPyConnection, columns: Iterable[str]) -> np.ndarray:
    """DuckDB's 64-bit `hash` of each row over `columns` but the constant ones (a null hashes
    apart from any value)."""
    names = [name for name in columns if name in table.column_names and name not in _CONSTANT_COLUMNS]
    listed = ", ".join(f'"{name}"' for name in names)
    hashed = connection.from_arrow(table.select(names)).project(f"hash({listed}) AS h").fetchnumpy()["h"]
    return np.asarray(hashed, np.uint64)


def _repeats(hashes: list[np.ndarray]) -> int:
    """Rows whose hash an earlier row has."""
    values = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)
    return int(np.count_nonzero(values[1:] == values[:-1]))


def duplicate_rows(batches: Iterable[pa.Table | pa.RecordBatch]) -> int:
    """Rows that repeat an earlier row in every column, over a month read batch by batch."""
    with duckdb.connect() as connection:
        return _repeats([_row_hashes(table, connection, table.column_names) for table in map(pa.table, batches)])


@dataclass
class MonthMeasures:
    """What the audit measures of a month, summed over its batches, with the hashes of each row's
    `KEY_COLUMNS` (8 bytes a row) to count repeats at the end."""

    rows: int = 0
    pickups_outside_month: int = 0
    location_problems: dict[str, Counter[str]] = field(default_factory=dict)
    implausible: Counter[str] = field(default_factory=Counter)
    non_finite: Counter[str] = field(default_factory=Counter)
    nulls: Counter[str] = field(default_factory=Counter)
    impossible: Counter[str] = field(default_factory=Counter)
    key_hashes: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def null_times(self) -> dict[str, int]:
        return {name: self.nulls[name] for name in TIMESTAMP_COLUMNS}

    @property
    def duplicate_keys(self) -> int:
        """Rows that repeat an earlier row's `KEY_COLUMNS`: at least as many as repeat it exactly."""
        return _repeats(self.key_hashes)

    @property
    def share_outside_month(self) -> float:
        return self.pickups_outside_month / self.rows if self.rows else 0.0


def measure_month(
    batches: Iterable[pa.Table | pa.RecordBatch], color: str, month: date, zone_ids: list[int] | None = None
) -> MonthMeasures:
    """The audit's measures of a month read batch by batch (the memory of one batch, not the month)."""
    m = MonthMeasures()
    with duckdb.connect() as connection:
        # An empty table first: an empty month counts zero of everything, each under its name.
        for batch in map(pa.table, itertools.chain([CANONICAL_SCHEMA.empty_table()], batches)):
            m.rows += batch.num_rows
            m.pickups_outside_month += count_outside_month(batch["pickup_datetime"], month)
            for name, counts in location_id_problems(batch, color, zone_ids).items():
                m.location_problems.setdefault(name, Counter()).update(counts)
            m.implausible.update(implausible_values(batch))
            m.non_finite.update(non_finite_values(batch))
            m.nulls.update(required_nulls(batch))
            m.impossible.update(impossible_values(batch))
            m.key_hashes.append(_row_hashes(batch, connection, KEY_COLUMNS))
    return m


@dataclass(frozen=True)
class RowDropThresholds:
    """Shares of a month's rows that may go (`*_share`) or come (`*_growth`, every row twice is +100%)
    from one publication to the next before the audit warns or blocks."""

    warn_share: float = 0.10
    block_share: float = 0.50
    warn_growth: float = 0.10
    block_growth: float = 0.50


DEFAULT_ROW_DROP = RowDropThresholds()


def row_drop_share(previous_rows: int | None, rows: int) -> float:
    """The share of the previous publication's rows a month lost (0.0 if none, or never published)."""
    return max(previous_rows - rows, 0) / previous_rows if previous_rows else 0.0


def row_growth_share(previous_rows: int | None, rows: int) -> float:
    """The share by which a month outgrew its previous publication (0.0 if not, or never published)."""
    return max(rows - previous_rows, 0) / previous_rows if previous_rows else 0.0


def row_drop_verdict(drop_share: float, thresholds: RowDropThresholds, growth_share: float = 0.0) -> str:
    """ "pass", "warn" or "block" for a month that lost `drop_share` of its rows or gained `growth_share`."""
    if drop_share > thresholds.block_share or growth_share > thresholds.block_growth:
        return "block"
    if drop_share > thresholds.warn_share or growth_share > thresholds.warn_growth:
        return "warn"
    return "pass"
