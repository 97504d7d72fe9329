"""Turn a parsed month of trips into the canonical schema, keeping every row."""

from dataclasses import dataclass, field, fields
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from dateutil.relativedelta import relativedelta

from taxi_pipeline.schema import CANONICAL_SCHEMA


@dataclass(frozen=True)
class CleaningReport:
    """What cleaning found in one month's file (passenger counts None where none are published)."""

    rows: int
    missing_passenger_count_before: int | None
    missing_passenger_count_after: int | None
    pickups_outside_month: int
    null_counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_passenger_count(self) -> bool:
        return self.missing_passenger_count_before is not None

    def __add__(self, other: "CleaningReport") -> "CleaningReport":
        """The report of two parts of one file, read one after the other."""

        def add(a, b):
            if isinstance(a, dict):
                return {name: a.get(name, 0) + b.get(name, 0) for name in {**a, **b}}
            return None if a is None and b is None else (a or 0) + (b or 0)

        return CleaningReport(*(add(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))


# The report of no rows (no passenger counts to report, missing or not), and the sum of none.
NO_ROWS = CleaningReport(0, None, None, 0, dict.fromkeys(CANONICAL_SCHEMA.names, 0))


def count_outside_month(pickups: pa.ChunkedArray, month: date) -> int:
    """Pickups before the first or from the first of the next month on."""
    days = pc.cast(pickups, pa.date32())
    outside = pc.or_(pc.less(days, month), pc.greater_equal(days, month + relativedelta(months=1)))
    return pc.sum(outside).as_py() or 0


def clean_trips(parsed: pa.Table, color: str, source_month: date) -> tuple[pa.Table, CleaningReport]:
    """The month's trips in the canonical schema, every row kept, and a report: `passenger_count` filled
    with 0 where the service publishes it (fhv and fhvhv do not: null), the columns it lacks null."""
    if source_month.day != 1:
        raise ValueError(f"source_month must be the first day of a month, got {source_month}")
    rows, publishes_passengers = parsed.num_rows, "passenger_count" in parsed.column_names
    columns = {
        fld.name: parsed[fld.name] if fld.name in parsed.column_names else pa.nulls(rows, fld.type)
        for fld in CANONICAL_SCHEMA
    }
    columns["color"], columns["source_month"] = pa.repeat(color, rows), pa.repeat(source_month, rows)
    if publishes_passengers:
        columns["passenger_count"] = pc.fill_null(columns["passenger_count"], 0)
    table = pa.table(columns, schema=CANONICAL_SCHEMA)
    return table, CleaningReport(
        rows=rows,
        missing_passenger_count_before=parsed["passenger_count"].null_count if publishes_passengers else None,
        missing_passenger_count_after=table["passenger_count"].null_count if publishes_passengers else None,
        pickups_outside_month=count_outside_month(table["pickup_datetime"], source_month),
        null_counts={name: table[name].null_count for name in table.column_names},
    )
