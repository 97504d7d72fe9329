"""Turn a parsed month of trips into the canonical schema, keeping every row."""

from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from dateutil.relativedelta import relativedelta

from taxi_pipeline.schema import CANONICAL_SCHEMA


@dataclass
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

        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        names = self.null_counts.keys() | other.null_counts.keys()
        return CleaningReport(
            self.rows + other.rows,
            add(self.missing_passenger_count_before, other.missing_passenger_count_before),
            add(self.missing_passenger_count_after, other.missing_passenger_count_after),
            self.pickups_outside_month + other.pickups_outside_month,
            {n: self.null_counts.get(n, 0) + other.null_counts.get(n, 0) for n in names},
        )


def count_outside_month(pickups: pa.ChunkedArray, month: date) -> int:
    """Pickups before the first or from the first of the next month on."""
    start = pa.scalar(datetime.combine(month, datetime.min.time()), pa.timestamp("us"))
    end = pa.scalar(datetime.combine(month + relativedelta(months=1), datetime.min.time()), pa.timestamp("us"))
    outside = pc.or_(pc.less(pickups, start), pc.greater_equal(pickups, end))
    return pc.sum(outside.cast(pa.int64())).as_py() or 0


def clean_trips(parsed: pa.Table, color: str, source_month: date) -> tuple[pa.Table, CleaningReport]:
    """The month's trips in the canonical schema, every row kept, and a report of what was found:
    adds `color` and `source_month`, fills a missing `passenger_count` with 0 where the service
    publishes it (fhv and fhvhv do not: it stays null), leaves the columns it lacks null."""
    rows = parsed.num_rows
    if source_month.day != 1:
        raise ValueError(f"source_month must be the first day of a month, got {source_month}")
    publishes_passengers = "passenger_count" in parsed.column_names
    missing_before = parsed["passenger_count"].null_count if publishes_passengers else None

    columns = []
    for fld in CANONICAL_SCHEMA:
        if fld.name == "color":
            columns.append(pa.repeat(pa.scalar(color, fld.type), rows))
        elif fld.name == "source_month":
            columns.append(pa.repeat(pa.scalar(source_month, fld.type), rows))
        elif fld.name in parsed.column_names:
            column = parsed[fld.name]
            if fld.name == "passenger_count":
                column = pc.fill_null(column, pa.scalar(0, fld.type))
            columns.append(column)
        else:
            columns.append(pa.nulls(rows, fld.type))
    table = pa.table(columns, schema=CANONICAL_SCHEMA)

    report = CleaningReport(
        rows=rows,
        missing_passenger_count_before=missing_before,
        missing_passenger_count_after=table["passenger_count"].null_count if publishes_passengers else None,
        pickups_outside_month=count_outside_month(table["pickup_datetime"], source_month),
        null_counts={name: table[name].null_count for name in table.column_names},
    )
    return table, report
