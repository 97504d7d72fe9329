"""Read a published trip file (CSV, gzipped or not) into an Arrow table with canonical names."""

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.layouts import LAYOUTS, Layout

_GZIP_MAGIC = b"\x1f\x8b"


class OpensBinary(Protocol):
    def open(self, mode: str) -> IO[bytes]: ...


TripFilePath = str | Path | OpensBinary


class TripFileError(ValueError):
    """A trip file that cannot be read as its color's layout; the message names the file."""


@dataclass
class ParsedTrips:
    """The columns a file holds, typed and renamed to canonical names, plus what was skipped."""

    table: pa.Table
    extra_columns: list[str] = field(default_factory=list)
    encoding: str = "utf8"


def _open_binary(path: TripFilePath) -> IO[bytes]:
    return path.open("rb") if hasattr(path, "open") else open(path, "rb")


def _is_gzip(path: TripFilePath) -> bool:
    with _open_binary(path) as f:
        return f.read(2) == _GZIP_MAGIC


def _input_stream(path: TripFilePath) -> pa.NativeFile:
    compression = "gzip" if _is_gzip(path) else None
    if isinstance(path, (str, Path)):  # local: Arrow reads the file natively
        return pa.input_stream(str(path), compression=compression)
    return pa.input_stream(pa.PythonFile(_open_binary(path), mode="r"), compression=compression)


def read_header(path: TripFilePath) -> list[str]:
    """The column names of the file's first line, as written."""
    try:
        gzipped = _is_gzip(path)
        with _open_binary(path) as raw, (gzip.open(raw) if gzipped else raw) as f:
            line = f.readline()
    except (OSError, EOFError) as e:
        raise TripFileError(f"{path}: cannot read the header: {e}") from e
    header = line.decode("latin-1").strip().lstrip("\ufeff")
    if not header:
        raise TripFileError(f"{path}: the file is empty (no header line)")
    return [name.strip().strip('"') for name in header.split(",")]


def _source_columns(path: TripFilePath, header: list[str], layout: Layout) -> tuple[dict[str, str], list[str]]:
    """Map the file's own header names to canonical names; list the names that are not known."""
    by_lower = {}
    extra = []
    for name in header:
        lower = name.lower()
        if lower in layout.columns and lower not in by_lower:
            by_lower[lower] = name
        else:
            extra.append(name)
    missing = [name for name in layout.required if name not in by_lower]
    if missing:
        raise TripFileError(
            f"{path}: {layout.color} file lacks required column(s) {', '.join(missing)}; "
            f"expected layout: {layout.describe()}"
        )
    return {by_lower[lower]: layout.columns[lower] for lower in by_lower}, extra


def _parse_type(canonical: pa.DataType) -> pa.DataType:
    # Integer columns come as "1.0" in files written from float columns (2020-2021); read
    # them as float and cast back safely, which rejects real fractions.
    return pa.float64() if pa.types.is_integer(canonical) else canonical


def _read(path: TripFilePath, renames: dict[str, str], encoding: str) -> pa.Table:
    read_options = pacsv.ReadOptions(encoding=encoding, block_size=8 << 20)
    convert_options = pacsv.ConvertOptions(
        include_columns=list(renames),
        column_types={src: _parse_type(CANONICAL_SCHEMA.field(dst).type) for src, dst in renames.items()},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    with _input_stream(path) as stream:
        return pacsv.read_csv(stream, read_options=read_options, convert_options=convert_options)


def read_trips_csv(path: TripFilePath, color: str) -> ParsedTrips:
    """Parse a `{color}_tripdata_{YYYY-MM}` file into typed columns under canonical names.

    Accepts every header variant of the color (matched case-insensitively, optional columns may
    be absent), falls back to latin-1 for files that are not valid UTF-8, and raises
    `TripFileError` naming the file for anything it cannot read. `path` is a local path, or any
    path-like object with `open("rb")` (such as a `gs://` UPath), which is streamed.
    """
    if color not in LAYOUTS:
        raise TripFileError(f"{path}: unknown color {color!r}; expected one of {', '.join(LAYOUTS)}")
    renames, extra = _source_columns(path, read_header(path), LAYOUTS[color])

    encoding = "utf8"
    try:
        try:
            table = _read(path, renames, encoding)
        except pa.ArrowInvalid as e:
            if "invalid UTF8" not in str(e):
                raise
            encoding = "latin-1"  # fhv 2020-02 is published in latin-1
            table = _read(path, renames, encoding)
    except (pa.ArrowInvalid, OSError, EOFError) as e:
        raise TripFileError(f"{path}: {e}") from e

    table = table.rename_columns([renames[name] for name in table.column_names])
    columns = []
    for name in table.column_names:
        target = CANONICAL_SCHEMA.field(name).type
        try:
            columns.append(pc.cast(table[name], target))
        except pa.ArrowInvalid as e:
            raise TripFileError(f"{path}: column {name!r} does not fit {target}: {e}") from e
    return ParsedTrips(pa.table(columns, names=table.column_names), extra, encoding)
