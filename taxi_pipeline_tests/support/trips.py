"""Whole trip files as Arrow tables, for tests: read at once, and cleaned into lake tables (the
pipeline streams them in blocks; the tests compare the streamed result against these)."""

from dataclasses import dataclass, field
from datetime import date
from functools import cache

import pyarrow as pa

from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline.lib.parse import (
    DEFAULT_MAX_MALFORMED_SHARE,
    MalformedRows,
    TripFilePath,
    check_malformed_share,
    open_trip_csv,
    read_with_fallbacks,
)
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.samples import release_file


@dataclass
class ParsedTrips:
    """The columns a file holds, typed and renamed to canonical names, plus what was skipped."""

    table: pa.Table
    extra_columns: list[str] = field(default_factory=list)
    encoding: str = "utf8"
    malformed: MalformedRows = field(default_factory=MalformedRows)


def read_trips_csv(
    path: TripFilePath, color: str, max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE
) -> ParsedTrips:
    """A whole CSV trip file as the pipeline reads it (header variants, latin-1, malformed rows up
    to `max_malformed_share`, `TripFileError` naming the file), in one table."""
    trips = open_trip_csv(path, color)
    tables, encoding, malformed = read_with_fallbacks(trips, list)
    empty = pa.schema([(dst, CANONICAL_SCHEMA.field(dst).type) for dst in trips.renames.values()]).empty_table()
    table = pa.concat_tables([empty, *tables]).combine_chunks()
    check_malformed_share(path, malformed, table.num_rows, max_malformed_share)
    return ParsedTrips(table, trips.extra_columns, encoding, malformed)


def cleaned_file(path: TripFilePath, color: str, as_month: date) -> pa.Table:
    """A whole trip file parsed and cleaned into the canonical schema, as the lake table of the
    (color, `as_month`) slice."""
    return clean_trips(read_trips_csv(path, color).table, color, as_month)[0]


def cleaned_sample(color: str, sample_month: str, as_month: date | None = None) -> pa.Table:
    """A bundled sample (e.g. "green", "2020-04") cleaned into the lake table of `as_month`, its
    own month unless another is given; made once per process (Arrow tables do not change)."""
    return _cleaned_sample(color, sample_month, as_month or date.fromisoformat(f"{sample_month}-01"))


@cache
def _cleaned_sample(color: str, sample_month: str, as_month: date) -> pa.Table:
    return cleaned_file(release_file(color, sample_month), color, as_month)
