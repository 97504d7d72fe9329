"""Read a published trip file (CSV, gzipped or not) as Arrow tables with canonical names.

Files are streamed in record batches, so a month of any size is read in bounded memory.
"""

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from taxi_pipeline.lib.background import in_background
from taxi_pipeline.lib.layouts import LAYOUTS, Layout
from taxi_pipeline.lib.malformed import MalformedRows, convert_leniently
from taxi_pipeline.lib.source_file import GZIP_MAGIC
from taxi_pipeline.schema import CANONICAL_SCHEMA

# The file is decompressed in a thread and parsed a chunk at a time, each chunk on all cores in
# blocks: 8 MiB chunks of 4 MiB blocks keep both cores busy in ~0.35 GiB for a 7 M-row month
# (16 MiB chunks took ~0.1 GiB more, no faster).
CSV_CHUNK_BYTES = 8 << 20
CSV_BLOCK_BYTES = 4 << 20
# A small share of malformed rows (wrong field count, values that do not parse) is dropped and
# reported; above it the file is refused.
DEFAULT_MAX_MALFORMED_SHARE = 0.001
# Arrow's null spellings but NaN's: a float column's `nan` stays NaN for the audit to see (the
# course's pandas writers leave missing values empty), an integer column's is null.
CSV_NULL_VALUES = [v for v in pacsv.ConvertOptions().null_values if "nan" not in v.lower()]

T = TypeVar("T")


class OpensBinary(Protocol):
    def open(self, mode: str) -> IO[bytes]: ...


TripFilePath = str | Path | OpensBinary


class TripFileError(ValueError):
    """A trip file that cannot be read as its color's layout; the message names the file."""


@dataclass(frozen=True)
class TripCsv:
    """A trip file whose header matches its color's layout."""

    path: TripFilePath
    color: str
    header: list[str]
    renames: dict[str, str]  # source header name -> canonical name, in file order
    extra_columns: list[str]


def _open_binary(path: TripFilePath) -> IO[bytes]:
    return path.open("rb") if hasattr(path, "open") else open(path, "rb")


def _is_gzip(path: TripFilePath) -> bool:
    with _open_binary(path) as f:
        return f.read(2) == GZIP_MAGIC


def _input_stream(path: TripFilePath) -> pa.NativeFile:
    compression = "gzip" if _is_gzip(path) else None
    if isinstance(path, (str, Path)):  # local: Arrow reads the file natively
        return pa.input_stream(str(path), compression=compression)
    return pa.input_stream(pa.PythonFile(_open_binary(path), mode="r"), compression=compression)


def read_header(path: TripFilePath) -> list[str]:
    """The column names of the file's first line, as written."""
    try:
        gzipped = _is_gzip(path)
        with _open_binary(path) as raw, gzip.open(raw) if gzipped else raw as f:
            line = f.readline()
    except (OSError, EOFError) as e:
        raise TripFileError(f"{path}: cannot read the header: {e}") from e
    header = line.decode("latin-1").strip().lstrip("\ufeff")
    if not header:
        raise TripFileError(f"{path}: the file is empty (no header line)")
    return [name.strip().strip('"') for name in header.split(",")]


def service_marks(header: list[str]) -> dict[str, list[str]]:
    """The services whose column signature the header has, with the names that show it: yellow's
    `tpep_` times, green's `lpep_` times, fhvhv's `hvfhs_license_num`, and fhv's
    `dispatching_base_num` with a plain `pickup_datetime` but no `hvfhs_license_num`."""
    lower = {name.lower(): name for name in header}
    marks = {
        "yellow": [name for name in header if name.lower().startswith("tpep_")],
        "green": [name for name in header if name.lower().startswith("lpep_")],
        "fhvhv": [lower[n] for n in ("hvfhs_license_num",) if n in lower],
    }
    if not marks["fhvhv"] and {"dispatching_base_num", "pickup_datetime"} <= lower.keys():
        marks["fhv"] = [lower["dispatching_base_num"], lower["pickup_datetime"]]
    return {service: names for service, names in marks.items() if names}


def match_columns(
    path: TripFilePath, header: list[str], layout: Layout, month: date | None = None
) -> tuple[dict[str, str], list[str]]:
    """Map the file's own header names to canonical names; list the names that are not known.

    Raises `TripFileError` for a file whose columns are another service's, whose names collide
    (two read as one column: `Airport_fee` and `airport_fee`), or that lacks a required column.
    """
    offered = f"{layout.color} {month:%Y-%m}" if month else layout.color
    others = {service: names for service, names in service_marks(header).items() if service != layout.color}
    if others:
        signatures = " and ".join(f"{service} ({', '.join(names)})" for service, names in others.items())
        raise TripFileError(f"{path}: {offered}: the file's columns are those of {signatures}, not {layout.color}")
    by_canonical: dict[str, list[str]] = {}
    extra = []
    for name in header:
        lower = name.lower()
        if lower in layout.columns:
            by_canonical.setdefault(layout.columns[lower], []).append(name)
        else:
            extra.append(name)
    collisions = [names for names in by_canonical.values() if len(names) > 1]
    if collisions:
        both = "; ".join(
            f"{' and '.join(names)} both read as {layout.columns[names[0].lower()]}" for names in collisions
        )
        raise TripFileError(f"{path}: {offered}: columns collide: {both}; the file cannot be read unambiguously")
    by_lower = {names[0].lower(): names[0] for names in by_canonical.values()}
    missing = [name for name in layout.required if name not in by_lower]
    if missing:
        raise TripFileError(
            f"{path}: {layout.color} file lacks required column(s) {', '.join(missing)}; "
            f"expected layout: {layout.describe()}"
        )
    return {by_lower[lower]: layout.columns[lower] for lower in by_lower}, extra


def open_trip_csv(path: TripFilePath, color: str, month: date | None = None) -> TripCsv:
    """The file (of `month`, when given, for messages) with its header matched to the color's
    layout (case-insensitively; optional columns may be absent), or `TripFileError` naming the
    file and what is missing, colliding or of another service."""
    if color not in LAYOUTS:
        raise TripFileError(f"{path}: unknown color {color!r}; expected one of {', '.join(LAYOUTS)}")
    header = read_header(path)
    renames, extra = match_columns(path, header, LAYOUTS[color], month)
    return TripCsv(path, color, header, renames, extra)


def _parse_type(canonical: pa.DataType) -> pa.DataType:
    # Integer columns come as "1.0" in files written from float columns (2020-2021); read
    # them as float and cast back safely, which rejects real fractions.
    return pa.float64() if pa.types.is_integer(canonical) else canonical


def _typed(batch: pa.RecordBatch, trips: TripCsv) -> pa.Table:
    names = [trips.renames[name] for name in batch.schema.names]
    columns = []
    for column, name in zip(batch.columns, names, strict=True):
        target = CANONICAL_SCHEMA.field(name).type
        if pa.types.is_integer(target) and pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        columns.append(pc.cast(column, target))
    return pa.table(columns, names=names)


def _text_chunks(path: TripFilePath, size: int) -> Iterator[bytes]:
    """The file's (decompressed) bytes in chunks of about `size` that end at a line break."""
    with _input_stream(path) as stream:
        rest = b""
        while data := stream.read(size):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
                rest = data[cut:]
            else:
                rest = data
        if rest:
            yield rest


def iter_trip_batches(
    trips: TripCsv, encoding: str, malformed: MalformedRows, lenient: bool = False
) -> Iterator[pa.Table]:
    """The file's rows as typed tables under canonical names, a block of the file at a time.

    Rows with the wrong number of fields are dropped and counted in `malformed`. The strict
    (fast) mode fails on the first value that does not parse; the lenient mode reads every
    column as text, drops and counts the rows with such values, and converts the rest.
    """
    types = {
        src: pa.string() if lenient else _parse_type(CANONICAL_SCHEMA.field(dst).type)
        for src, dst in trips.renames.items()
    }
    parse_options = pacsv.ParseOptions(invalid_row_handler=malformed.add_invalid_row)
    convert_options = pacsv.ConvertOptions(
        include_columns=list(trips.renames),
        column_types=types,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=CSV_NULL_VALUES,
    )
    for number, chunk in enumerate(in_background(_text_chunks(trips.path, CSV_CHUNK_BYTES))):
        read_options = pacsv.ReadOptions(
            encoding=encoding,
            block_size=CSV_BLOCK_BYTES,
            column_names=trips.header,
            skip_rows=1 if number == 0 else 0,  # the header line
        )
        table = pacsv.read_csv(
            pa.py_buffer(chunk),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        for batch in table.to_batches():
            yield convert_leniently(batch, trips.renames, malformed) if lenient else _typed(batch, trips)


def _needs_lenient_mode(error: pa.ArrowInvalid) -> bool:
    message = str(error)
    return "conversion error" in message or "was truncated" in message or "would overflow" in message


def read_with_fallbacks(trips: TripCsv, consume: Callable[[Iterator[pa.Table]], T]) -> tuple[T, str, MalformedRows]:
    """`consume(batches)` over the file's typed batches, restarted from the top when the file
    turns out not to be UTF-8 (read as latin-1: fhv 2020-02 is) or to hold values that do not
    parse (read leniently). Returns its result, the encoding used and the malformed rows.

    Errors reading the file become `TripFileError` naming it.
    """
    encoding, lenient = "utf8", False
    for _attempt in range(3):
        malformed = MalformedRows()
        try:
            return consume(iter_trip_batches(trips, encoding, malformed, lenient)), encoding, malformed
        except pa.ArrowInvalid as e:
            if "invalid UTF8" in str(e) and encoding == "utf8":
                encoding = "latin-1"
            elif _needs_lenient_mode(e) and not lenient:
                lenient = True
            else:
                raise TripFileError(f"{trips.path}: {e}") from e
        except (OSError, EOFError) as e:
            raise TripFileError(f"{trips.path}: {e}") from e
    raise AssertionError("unreachable: each fallback is taken at most once")


def check_malformed_share(path: TripFilePath, malformed: MalformedRows, rows_kept: int, max_share: float) -> None:
    """Raise `TripFileError` naming the file and the problems when more than `max_share` of the
    file's rows were malformed."""
    total = rows_kept + malformed.rows
    if malformed.rows and malformed.rows > max_share * total:
        raise TripFileError(
            f"{path}: {malformed.rows:,} of {total:,} rows ({malformed.rows / total:.3%}) are malformed, "
            f"more than the allowed {max_share:.3%}: {malformed.describe()}"
        )
