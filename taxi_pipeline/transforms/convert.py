"""A published trip file converted to a lake parquet file, streamed block by block."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.background import in_background
from taxi_pipeline.transforms.clean import CleaningReport, clean_trips
from taxi_pipeline.transforms.lake_file import write_lake_parquet
from taxi_pipeline.transforms.malformed import MalformedRows
from taxi_pipeline.transforms.parse import (
    DEFAULT_MAX_MALFORMED_SHARE,
    TripFilePath,
    check_malformed_share,
    open_trip_csv,
    read_with_fallbacks,
)

PREVIEW_ROWS = 10


@dataclass
class ConvertedTrips:
    """What converting one month's file found and wrote."""

    rows: int
    report: CleaningReport
    malformed: MalformedRows
    extra_columns: list[str]
    encoding: str
    preview: pa.Table  # the first rows of the lake file


def convert_to_lake_parquet(
    source: TripFilePath,
    color: str,
    source_month: date,
    destination: str | Path,
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE,
) -> ConvertedTrips:
    """The month's file as a lake parquet file at the local path `destination`: every row in the
    canonical schema, cleaned as `clean_trips` does, in memory bounded by a few blocks.

    Raises `TripFileError` naming the file when it cannot be read, its columns are another
    service's or collide, or it holds more malformed rows than `max_malformed_share`;
    `destination` is then left incomplete and is the caller's to discard.
    """
    trips = open_trip_csv(source, color, source_month)

    def write(batches) -> tuple[int, list[CleaningReport], list[pa.Table]]:
        reports, preview = [], []

        def cleaned():
            for table in batches:
                clean, report = clean_trips(table, color, source_month)
                reports.append(report)
                if not preview and clean.num_rows:
                    preview.append(clean.slice(0, PREVIEW_ROWS))
                yield clean

        # Parsing and cleaning run in a thread ahead of the parquet encoding.
        return write_lake_parquet(in_background(cleaned(), depth=4), destination), reports, preview

    (rows, reports, preview), encoding, malformed = read_with_fallbacks(trips, write)
    check_malformed_share(source, malformed, rows, max_malformed_share)
    return converted_trips(rows, reports, malformed, trips.extra_columns, encoding, preview)


def converted_trips(
    rows: int,
    reports: list[CleaningReport],
    malformed: MalformedRows,
    extra_columns: list[str],
    encoding: str,
    preview: list[pa.Table],
) -> ConvertedTrips:
    """What a conversion found, from its blocks' cleaning reports and the first block's preview."""
    # A file without rows has no passenger counts to report, missing or not.
    empty_report = CleaningReport(0, None, None, 0, {n: 0 for n in CANONICAL_SCHEMA.names})
    return ConvertedTrips(
        rows=rows,
        report=sum(reports[1:], reports[0]) if reports else empty_report,
        malformed=malformed,
        extra_columns=extra_columns,
        encoding=encoding,
        preview=preview[0] if preview else CANONICAL_SCHEMA.empty_table(),
    )
