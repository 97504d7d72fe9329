"""Data-quality measures of a month of canonical trips, for the asset checks."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.clean import count_outside_month

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


def implausible_values(table: pa.Table) -> dict[str, int]:
    """Rows with a negative fare or total (refunds and disputes), and trips of zero distance:
    kept in the data as published, counted for the checks."""
    counts = {
        f"negative_{name}": pc.sum(pc.less(table[name], 0).cast(pa.int64())).as_py() or 0 for name in MONEY_COLUMNS
    }
    counts["zero_trip_distance"] = pc.sum(pc.equal(table["trip_distance"], 0).cast(pa.int64())).as_py() or 0
    return counts


@dataclass
class MonthMeasures:
    """What the audit measures of a month, summed over its batches: every count is additive."""

    rows: int = 0
    null_times: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIMESTAMP_COLUMNS, 0))
    location_problems: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: {"outside_zone_range": 0, "null": 0} for name in LOCATION_COLUMNS}
    )
    pickups_outside_month: int = 0
    implausible: dict[str, int] = field(
        default_factory=lambda: {**{f"negative_{name}": 0 for name in MONEY_COLUMNS}, "zero_trip_distance": 0}
    )

    @property
    def share_outside_month(self) -> float:
        """The fraction of pickups outside the file's month (0 for an empty file)."""
        return self.pickups_outside_month / self.rows if self.rows else 0.0

    def add(self, batch: pa.Table, color: str, month: date, zone_ids: list[int] | None) -> None:
        """Add one batch's counts."""
        self.rows += batch.num_rows
        for name, count in null_counts(batch, TIMESTAMP_COLUMNS).items():
            self.null_times[name] += count
        for name, counts in location_id_problems(batch, color, zone_ids).items():
            for kind, count in counts.items():
                self.location_problems[name][kind] += count
        self.pickups_outside_month += count_outside_month(batch["pickup_datetime"], month)
        for name, count in implausible_values(batch).items():
            self.implausible[name] += count


def measure_month(
    batches: Iterable[pa.Table | pa.RecordBatch], color: str, month: date, zone_ids: list[int] | None = None
) -> MonthMeasures:
    """The audit's measures of a month read batch by batch (memory of one batch, not the month)."""
    measures = MonthMeasures()
    for batch in batches:
        measures.add(
            pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch, color, month, zone_ids
        )
    return measures


@dataclass(frozen=True)
class RowDropThresholds:
    """Shares of a month's rows that may go missing from one publication to the next: above
    `warn_share` fewer rows the month warns, above `block_share` fewer it is not published."""

    warn_share: float = 0.10
    block_share: float = 0.50


def row_drop_share(previous_rows: int | None, rows: int) -> float:
    """The share of the previous publication's rows a month has lost (0.0 when it has as many or
    more, or when there was no previous publication)."""
    if not previous_rows or rows >= previous_rows:
        return 0.0
    return (previous_rows - rows) / previous_rows


def row_drop_verdict(drop_share: float, thresholds: RowDropThresholds) -> str:
    """ "pass", "warn" or "block" for a month that lost `drop_share` of its previous rows."""
    if drop_share > thresholds.block_share:
        return "block"
    if drop_share > thresholds.warn_share:
        return "warn"
    return "pass"


DEFAULT_ROW_DROP = RowDropThresholds()
