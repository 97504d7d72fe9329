"""The course's CSV trip files (gzipped or not) read block by block as canonical Arrow tables."""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from upath import UPath

from taxi_pipeline.lib.layouts import TripFileError, match_columns
from taxi_pipeline.lib.source_file import GZIP_MAGIC
from taxi_pipeline.schema import CANONICAL_SCHEMA

CSV_BLOCK_BYTES = 4 << 20  # parsed and converted at a time
# The share of a file's rows that may be malformed (dropped and reported) before it is refused.
DEFAULT_MAX_MALFORMED_SHARE = 0.001
# Arrow's null spellings but NaN's: a float column's `nan` stays NaN for the audit to see.
CSV_NULL_VALUES = [v for v in pacsv.ConvertOptions().null_values if "nan" not in v.lower()]
# A decimal number as the published files write them: "12", "-3.5", ".5", "1e3", with spaces.
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"

T = TypeVar("T")
TripFilePath = str | Path | UPath  # a local path, or any path-like whose `open("rb")` streams it


def in_background(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items, produced by a thread at most `depth` ahead of the consumer (Arrow releases the
    GIL, so stages overlap); the producer's exception is raised here, closing stops the producer."""
    iterator, end = iter(items), object()
    with ThreadPoolExecutor(1, thread_name_prefix="taxi-pipeline-stage") as thread:
        ahead = deque(thread.submit(next, iterator, end) for _ in range(depth))
        try:
            while (item := ahead.popleft().result()) is not end:
                ahead.append(thread.submit(next, iterator, end))
                yield item
        finally:
            thread.shutdown(cancel_futures=True)


@dataclass
class MalformedRows:
    """Rows dropped from a file by reason (a row counts once, under its first bad column), and examples."""

    by_reason: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.by_reason.values())

    def count(self, reason: str, rows: int, example: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + rows
        if len(self.examples) < 5:
            self.examples.append(example[:120])

    def add_invalid_row(self, row) -> str:
        """Arrow's `invalid_row_handler`: count a row with the wrong number of fields, skip it."""
        example = f"{row.actual_columns} fields, expected {row.expected_columns}: {row.text!r}"
        self.count("wrong number of fields", 1, example)
        return "skip"

    def describe(self) -> str:
        """One line: rows per reason, then the first examples."""
        reasons = ", ".join(f"{reason}: {rows:,}" for reason, rows in self.by_reason.items())
        return f"{reasons} (e.g. {'; '.join(self.examples)})" if self.examples else reasons


def check_malformed_share(path: TripFilePath, malformed: MalformedRows, rows_kept: int, max_share: float) -> None:
    """`TripFileError` naming the file when more than `max_share` of its rows were malformed."""
    total = rows_kept + malformed.rows
    if malformed.rows > max_share * total:
        raise TripFileError(
            f"{path}: {malformed.rows:,} of {total:,} rows ({malformed.rows / total:.3%}) are malformed, "
            f"more than the allowed {max_share:.3%}: {malformed.describe()}"
        )


def to_integer(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """(`values` as the integer type `target`, null where not whole or out of its range; mask of
    those rows). NaN, pandas' missing value, is null and not counted."""
    high = 2 ** (target.bit_width - 1) - 1
    low = -high - 1
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


def without_bad_rows(
    batch: pa.RecordBatch, renames: dict[str, str], malformed: MalformedRows, convert: Callable, describe: Callable
) -> pa.Table:
    """The batch under canonical names, each column `convert(values, type)`ed to (values, mask of rows it cannot
    hold or None), less those rows, counted in `malformed` as `describe(name, source_name, values, first_bad_row)`."""
    columns, bad_rows = [], None
    for source_name, values in zip(batch.schema.names, batch.columns, strict=True):
        name = renames[source_name]
        converted, bad = convert(values, CANONICAL_SCHEMA.field(name).type)
        if bad is not None and pc.any(bad).as_py():
            newly_bad = bad if bad_rows is None else pc.and_not(bad, bad_rows)
            if dropped := pc.sum(newly_bad).as_py() or 0:
                reason, example = describe(name, source_name, values, pc.index(newly_bad, True).as_py())
                malformed.count(reason, dropped, example)
            bad_rows = bad if bad_rows is None else pc.or_(bad_rows, bad)
        columns.append(converted)
    table = pa.table(columns, names=[renames[name] for name in batch.schema.names])
    return table if bad_rows is None else table.filter(pc.invert(bad_rows))


@dataclass(frozen=True)
class TripCsv:
    """A trip file whose header matches its service's layout."""

    path: TripFilePath
    header: list[str]
    renames: dict[str, str]  # source header name -> canonical name, in file order
    extra_columns: list[str]


@contextmanager
def _decompressed(path: TripFilePath) -> Iterator[pa.NativeFile]:
    """The file's bytes, gunzipped if they are gzip."""
    local = isinstance(path, (str, Path))  # Arrow reads a local file natively
    with pa.OSFile(str(path)) if local else pa.PythonFile(path.open("rb"), mode="r") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        yield pa.CompressedInputStream(raw, "gzip") if gzipped else raw


def open_trip_csv(path: TripFilePath, color: str, month: date | None = None) -> TripCsv:
    """The file with its first line's names matched to the color's layout (`month` names it in messages)."""
    with _decompressed(path) as stream:
        line = stream.read(64 << 10).partition(b"\n")[0].decode("latin-1").strip().lstrip("\ufeff")
    if not line:
        raise TripFileError(f"{path}: the file is empty (no header line)")
    header = [name.strip().strip('"') for name in line.split(",")]
    return TripCsv(path, header, *match_columns(path, header, color, month))


def _typed(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, None]:
    if pa.types.is_integer(target) and pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
    return pc.cast(values, target), None


def _parsed_text(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """(the texts converted to `target`, mask of the non-empty texts that did not parse)."""
    if pa.types.is_string(target):
        return text, None
    if pa.types.is_timestamp(target):
        values = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit=target.unit, error_is_null=True)
    else:
        numbers = pc.cast(pc.if_else(pc.match_substring_regex(text, _NUMBER), text, None), pa.float64())
        values = to_integer(numbers, target)[0] if pa.types.is_integer(target) else pc.cast(numbers, target)
    return values, pc.and_(pc.is_valid(text), pc.is_null(values))


def _does_not_parse(name: str, source_name: str, text: pa.Array, row: int) -> tuple[str, str]:
    return f"{name} does not parse", f"{name}={text[row].as_py()!r}"


def iter_trip_batches(
    trips: TripCsv, encoding: str, malformed: MalformedRows, lenient: bool = False
) -> Iterator[pa.Table]:
    """The file's rows as canonical tables, a block at a time, less the rows `malformed` counts: of a wrong
    number of fields, or, read `lenient`ly (as text), holding a value that does not parse (strictly: an error)."""
    # Integers come as "1.0" in files written from float columns (2020-2021): read as float,
    # cast back safely, which rejects real fractions.
    types = {src: CANONICAL_SCHEMA.field(dst).type for src, dst in trips.renames.items()}
    types = {src: pa.float64() if pa.types.is_integer(kind) else kind for src, kind in types.items()}
    reading = pacsv.ReadOptions(encoding=encoding, block_size=CSV_BLOCK_BYTES, column_names=trips.header, skip_rows=1)
    parsing = pacsv.ParseOptions(invalid_row_handler=malformed.add_invalid_row)
    converting = pacsv.ConvertOptions(
        include_columns=list(trips.renames),
        column_types=dict.fromkeys(types, pa.string()) if lenient else types,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=CSV_NULL_VALUES,
    )
    convert, describe = (_parsed_text, _does_not_parse) if lenient else (_typed, None)
    with _decompressed(trips.path) as stream:
        # Arrow reads ahead (and decompresses) in its own threads while a block is converted here.
        for batch in pacsv.open_csv(stream, reading, parsing, converting):
            yield without_bad_rows(batch, trips.renames, malformed, convert, describe)


def read_with_fallbacks(trips: TripCsv, consume: Callable[[Iterator[pa.Table]], T]) -> tuple[T, str, MalformedRows]:
    """(`consume(batches)` over the file's typed batches, the encoding, the malformed rows), read again
    as latin-1 if not UTF-8 (fhv 2020-02), leniently if a value does not parse. Errors name the file."""
    encoding, lenient = "utf8", False
    while True:
        malformed = MalformedRows()
        try:
            return consume(iter_trip_batches(trips, encoding, malformed, lenient)), encoding, malformed
        except (pa.ArrowInvalid, OSError) as e:
            # pyarrow 26's CSV errors have no types of their own: their text tells them apart.
            invalid = str(e) if isinstance(e, pa.ArrowInvalid) else ""
            if "invalid UTF8" in invalid and encoding == "utf8":
                encoding = "latin-1"
            elif not lenient and any(s in invalid for s in ("conversion error", "was truncated", "would overflow")):
                lenient = True
            else:
                raise TripFileError(f"{trips.path}: {e}") from e
