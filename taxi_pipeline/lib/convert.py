"""A month's trip file (the course's CSV or the TLC's parquet) converted to a lake file in bounded memory."""

from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxi_pipeline.lib import parse
from taxi_pipeline.lib.clean import NO_ROWS, CleaningReport, clean_trips
from taxi_pipeline.lib.layouts import TripFileError, match_columns
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline.schema import CANONICAL_SCHEMA

# Rows of a TLC parquet file decoded at a time (never a whole row group: fhvhv's hold ~1 M rows).
PARQUET_BATCH_ROWS = 128 * 1024
PARQUET_READ_BUFFER_BYTES = 8 << 20  # read at a time within a column chunk


@dataclass
class ConvertedTrips:
    """What converting one month's file found and wrote."""

    rows: int
    report: CleaningReport
    malformed: parse.MalformedRows
    extra_columns: list[str]
    encoding: str  # of a CSV file; "parquet" for a parquet one
    preview: pa.Table  # the first 10 rows of the lake file


def _write_cleaned(batches: Iterator[pa.Table], color: str, month: date, destination) -> tuple:
    """(rows, report, preview) of writing the batches, cleaned, to `destination`."""
    reports: list[CleaningReport] = []
    preview = CANONICAL_SCHEMA.empty_table()

    def cleaned() -> Iterator[pa.Table]:
        nonlocal preview
        for table in batches:
            clean, report = clean_trips(table, color, month)
            reports.append(report)
            if not preview.num_rows:
                preview = clean.slice(0, 10)
            yield clean

    # Closing the stream stops its thread before the file it reads is closed.
    with closing(parse.in_background(cleaned(), depth=4)) as stream:
        rows = write_lake_parquet(stream, destination)
    return rows, sum(reports, NO_ROWS), preview


def convert_to_lake_parquet(
    source: parse.TripFilePath,
    color: str,
    source_month: date,
    destination: str | Path,
    max_malformed_share: float = parse.DEFAULT_MAX_MALFORMED_SHARE,
) -> ConvertedTrips:
    """The month's CSV file as a lake parquet file at the local path `destination`, cleaned, or
    `TripFileError` naming the file (then `destination` is the caller's to discard)."""
    trips = parse.open_trip_csv(source, color, source_month)
    (rows, report, preview), encoding, malformed = parse.read_with_fallbacks(
        trips, lambda batches: _write_cleaned(batches, color, source_month, destination)
    )
    parse.check_malformed_share(source, malformed, rows, max_malformed_share)
    return ConvertedTrips(rows, report, malformed, trips.extra_columns, encoding, preview)


def to_canonical_type(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """(`values` as `target`, mask of the rows whose value `target` cannot hold, or None), or
    `TypeError` for a source type with no safe conversion to `target`."""
    source = values.type
    numeric = pa.types.is_integer(source) or pa.types.is_floating(source)
    if pa.types.is_null(source):
        return pa.nulls(len(values), target), None
    if source == target:
        return values, None
    if pa.types.is_string(target) and pa.types.is_large_string(source):
        return pc.cast(values, target), None
    if pa.types.is_integer(target) and numeric:
        return parse.to_integer(values, target)
    if pa.types.is_floating(target) and numeric:
        return pc.cast(values, target, safe=False), None
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source):
        # Any unit as microseconds (the TLC writes no finer digits); a zoned time as New York's wall
        # clock, as the canonical timestamps are.
        if source.tz is not None:
            values = pc.local_timestamp(values.cast(pa.timestamp(source.unit, "America/New_York")))
        return pc.cast(values, options=pc.CastOptions(target, allow_time_truncate=True)), None
    raise TypeError(f"no safe conversion from {source} to {target}")


def _does_not_fit(name: str, source_name: str, values: pa.Array, row: int) -> tuple[str, str]:
    target = CANONICAL_SCHEMA.field(name).type
    return f"{name} does not fit {target}", f"{source_name}={values[row].as_py()!r} ({values.type})"


def convert_parquet_to_lake(
    source: parse.TripFilePath,
    color: str,
    source_month: date,
    destination: str | Path,
    max_malformed_share: float = parse.DEFAULT_MAX_MALFORMED_SHARE,
    batch_size: int = PARQUET_BATCH_ROWS,
) -> ConvertedTrips:
    """The TLC's parquet file of a month as `convert_to_lake_parquet` converts a CSV file, read
    `batch_size` rows at a time; a value its canonical type cannot hold makes its row malformed."""
    with ExitStack() as stack:
        try:
            local = isinstance(source, (str, Path))  # Arrow reads a local file natively
            handle = str(source) if local else stack.enter_context(source.open("rb"))
            parquet = pq.ParquetFile(handle, buffer_size=PARQUET_READ_BUFFER_BYTES, pre_buffer=False)
        except (OSError, pa.ArrowInvalid) as e:
            raise TripFileError(f"{source}: cannot read as parquet: {e}") from e
        schema = parquet.schema_arrow
        renames, extra = match_columns(source, schema.names, color, source_month, "TLC service")
        for name, canonical in renames.items():  # a type with no safe conversion fails before any row is read
            kind, target = schema.field(name).type, CANONICAL_SCHEMA.field(canonical).type
            try:
                to_canonical_type(pa.array([], kind), target)
            except (TypeError, pa.ArrowNotImplementedError) as e:
                raise TripFileError(
                    f"{source}: column {name} ({kind}) cannot be read as {canonical} ({target}): {e}"
                ) from e
        malformed = parse.MalformedRows()
        batches = parquet.iter_batches(batch_size=batch_size, columns=list(renames), use_threads=True)
        canonical = (parse.without_bad_rows(b, renames, malformed, to_canonical_type, _does_not_fit) for b in batches)
        rows, report, preview = _write_cleaned(canonical, color, source_month, destination)
    parse.check_malformed_share(source, malformed, rows, max_malformed_share)
    return ConvertedTrips(rows, report, malformed, extra, "parquet", preview)
