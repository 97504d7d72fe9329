"""A published trip file converted to a lake parquet file, streamed block by block."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxi_pipeline.lib.background import in_background
from taxi_pipeline.lib.clean import CleaningReport, clean_trips
from taxi_pipeline.lib.layouts import TLC_LAYOUTS
from taxi_pipeline.lib.malformed import MalformedRows
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline.lib.parse import (
    DEFAULT_MAX_MALFORMED_SHARE,
    TripFileError,
    TripFilePath,
    check_malformed_share,
    match_columns,
    open_trip_csv,
    read_with_fallbacks,
)
from taxi_pipeline.schema import CANONICAL_SCHEMA

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


# Rows decoded at a time: 2025 fhvhv files hold ~1 M-row row groups, read in slices of this many
# rows (~30 MiB for fhvhv's 24 columns), never a whole row group or file at once.
PARQUET_BATCH_ROWS = 128 * 1024
# Bytes read from the file at a time within a column chunk (0 would read whole column chunks).
PARQUET_READ_BUFFER_BYTES = 8 << 20
# The canonical timestamps are New York wall-clock times; a zoned source column is shown there.
WALL_CLOCK_ZONE = "America/New_York"
PARQUET_ENCODING = "parquet"


def _integer_bounds(target: pa.DataType) -> tuple[int, int]:
    info = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}
    bits = info[target]
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _to_integer(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """Integers or floating point values as `target`: only whole values in its range; NaN, the
    missing value of pandas-written float columns, is null."""
    low, high = _integer_bounds(target)
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
        # Bounds as floats: int64's high end rounds up to 2**63 in double, hence less than.
        fits = pc.and_(
            pc.equal(pc.floor(values), values),
            pc.and_(pc.greater_equal(values, float(low)), pc.less(values, float(high) + 1.0)),
        )
    else:
        fits = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
    bad = pc.invert(pc.fill_null(fits, True))
    return pc.cast(pc.if_else(bad, pa.scalar(None, values.type), values), target), bad


def _to_timestamp(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Any unit as `target`'s (nanoseconds lose only digits the TLC never writes), without a
    zone: a zoned column is first shown as New York wall-clock time."""
    if values.type.tz is not None:
        values = pc.local_timestamp(values.cast(pa.timestamp(values.type.unit, WALL_CLOCK_ZONE)))
    return pc.cast(values, options=pc.CastOptions(target, allow_time_truncate=True))


def to_canonical_type(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """(`values` as `target`, mask of the rows whose value `target` cannot hold, or None).

    Raises `TypeError` for a source type that has no safe conversion to `target`.
    """
    source = values.type
    if pa.types.is_dictionary(source):
        return to_canonical_type(values.dictionary_decode(), target)
    if pa.types.is_null(source):
        return pa.nulls(len(values), target), None
    if source == target:
        return values, None
    if pa.types.is_string(target) and (
        pa.types.is_string(source) or pa.types.is_large_string(source) or pa.types.is_string_view(source)
    ):
        return pc.cast(values, target), None
    if pa.types.is_integer(target) and (pa.types.is_integer(source) or pa.types.is_floating(source)):
        return _to_integer(values, target)
    if pa.types.is_floating(target) and (pa.types.is_integer(source) or pa.types.is_floating(source)):
        return pc.cast(values, target, safe=False), None
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source):
        return _to_timestamp(values, target), None
    raise TypeError(f"no safe conversion from {source} to {target}")


def _canonical_batch(path, batch: pa.RecordBatch, renames: dict[str, str], malformed: MalformedRows) -> pa.Table:
    """A source batch under canonical names and types, without the rows holding a value their
    canonical type cannot hold; those rows are counted in `malformed`, each once, under its
    first bad column."""
    columns, names, bad_rows = [], [], None
    for source_name, values in zip(batch.schema.names, batch.columns, strict=True):
        name = renames[source_name]
        target = CANONICAL_SCHEMA.field(name).type
        try:
            converted, bad = to_canonical_type(values, target)
        except (TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise TripFileError(
                f"{path}: column {source_name} ({values.type}) cannot be read as {name} ({target}): {e}"
            ) from e
        if bad is not None and pc.any(bad).as_py():
            newly_bad = bad if bad_rows is None else pc.and_(bad, pc.invert(bad_rows))
            dropped = pc.sum(newly_bad).as_py() or 0
            if dropped:
                first = pc.index(newly_bad, True).as_py()
                malformed.count(
                    f"{name} does not fit {target}", dropped, f"{source_name}={values[first].as_py()!r} ({values.type})"
                )
            bad_rows = bad if bad_rows is None else pc.or_(bad_rows, bad)
        columns.append(converted)
        names.append(name)
    table = pa.table(columns, names=names)
    return table if bad_rows is None else table.filter(pc.invert(bad_rows))


def _open_parquet(source: TripFilePath):
    """The parquet file, and the file object to close after it (None for a local path)."""
    buffering = {"buffer_size": PARQUET_READ_BUFFER_BYTES, "pre_buffer": False}
    if isinstance(source, (str, Path)):
        return pq.ParquetFile(str(source), **buffering), None
    handle = source.open("rb")
    try:
        return pq.ParquetFile(handle, **buffering), handle
    except BaseException:
        handle.close()
        raise


def convert_parquet_to_lake(
    source: TripFilePath,
    color: str,
    source_month: date,
    destination: str | Path,
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE,
    batch_size: int = PARQUET_BATCH_ROWS,
) -> ConvertedTrips:
    """The TLC's parquet file of a month as a lake parquet file at the local path `destination`:
    every row in the canonical schema, cleaned as `clean_trips` does, read `batch_size` rows at
    a time (`color` is the TLC service: yellow, green, fhv or fhvhv).

    Columns no layout knows are ignored and listed in `extra_columns`. Raises `TripFileError`
    naming the file when it is not parquet, its columns are another service's or collide, it
    lacks a required column, holds a column of a type with no safe conversion, or holds more
    malformed rows than `max_malformed_share`; `destination` is then left incomplete and is the
    caller's to discard.
    """
    if color not in TLC_LAYOUTS:
        raise TripFileError(f"{source}: unknown TLC service {color!r}; expected one of {', '.join(TLC_LAYOUTS)}")
    try:
        parquet, handle = _open_parquet(source)
    except (OSError, pa.ArrowInvalid) as e:
        raise TripFileError(f"{source}: cannot read as parquet: {e}") from e
    try:
        renames, extra = match_columns(source, parquet.schema_arrow.names, TLC_LAYOUTS[color], source_month)
        malformed = MalformedRows()
        reports: list[CleaningReport] = []
        preview: list[pa.Table] = []

        def cleaned() -> Iterator[pa.Table]:
            try:
                batches = parquet.iter_batches(batch_size=batch_size, columns=list(renames), use_threads=True)
                for batch in batches:
                    clean, report = clean_trips(
                        _canonical_batch(source, batch, renames, malformed), color, source_month
                    )
                    reports.append(report)
                    if not preview and clean.num_rows:
                        preview.append(clean.slice(0, PREVIEW_ROWS))
                    yield clean
            except (OSError, pa.ArrowInvalid) as e:
                raise TripFileError(f"{source}: {e}") from e

        # Decoding and casting run in a thread ahead of the parquet encoding; closing the stream
        # stops that thread before the file it reads is closed.
        stream = in_background(cleaned(), depth=4)
        try:
            rows = write_lake_parquet(stream, destination)
        finally:
            stream.close()
    finally:
        if handle is not None:
            handle.close()
    check_malformed_share(source, malformed, rows, max_malformed_share)
    return converted_trips(rows, reports, malformed, extra, PARQUET_ENCODING, preview)
