"""Rows of a trip file that cannot be read as trips: counted by reason, dropped, never coerced."""

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from taxi_pipeline.schema import CANONICAL_SCHEMA

MAX_EXAMPLES = 5
_EXAMPLE_CHARS = 120
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# A decimal number as the published files write them: "12", "-3.5", ".5", "1e3", with spaces.
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
WRONG_FIELD_COUNT = "wrong number of fields"


@dataclass
class MalformedRows:
    """Rows dropped from a file, by reason: a wrong number of fields, or a column whose value
    does not parse as the column's type (a row counts once, under its first bad column)."""

    by_reason: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.by_reason.values())

    def count(self, reason: str, rows: int, example: str | None = None) -> None:
        """Add `rows` dropped rows for `reason`, keeping a few examples for the error message."""
        self.by_reason[reason] = self.by_reason.get(reason, 0) + rows
        if example is not None and len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example[:_EXAMPLE_CHARS])

    def add_invalid_row(self, row) -> str:
        """Arrow's `invalid_row_handler`: count a row with the wrong number of fields, skip it."""
        line = f"line {row.number}: " if row.number is not None else ""
        self.count(
            WRONG_FIELD_COUNT,
            1,
            f"{line}{row.actual_columns} fields, expected {row.expected_columns}: {row.text!r}",
        )
        return "skip"

    def describe(self) -> str:
        """One line: rows per reason, then the first examples."""
        reasons = ", ".join(f"{reason}: {rows:,}" for reason, rows in self.by_reason.items())
        examples = "; ".join(self.examples)
        return f"{reasons} (e.g. {examples})" if examples else reasons


def _parse_text(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """(values converted to `target`, mask of the non-empty texts that did not parse)."""
    if pa.types.is_string(target):
        return text, pa.repeat(False, len(text))
    if pa.types.is_timestamp(target):
        values = pc.strptime(text, format=TIMESTAMP_FORMAT, unit=target.unit, error_is_null=True)
        return values, pc.and_(pc.is_valid(text), pc.is_null(values))
    is_number = pc.match_substring_regex(text, _NUMBER)
    numbers = pc.cast(pc.if_else(is_number, text, None), pa.float64())
    if pa.types.is_integer(target):
        whole = pc.and_(
            pc.equal(pc.floor(numbers), numbers),
            pc.and_(pc.greater_equal(numbers, _INT32_MIN), pc.less_equal(numbers, _INT32_MAX)),
        )
        numbers = pc.if_else(whole, numbers, None)
    values = pc.cast(numbers, target)
    return values, pc.and_(pc.is_valid(text), pc.is_null(values))


def convert_leniently(batch: pa.RecordBatch, renames: dict[str, str], malformed: MalformedRows) -> pa.Table:
    """A batch of text columns converted to canonical types under canonical names, without the
    rows holding a value that does not parse; those rows are counted in `malformed`."""
    names = [renames[name] for name in batch.schema.names]
    columns, bad_rows = [], pa.repeat(False, batch.num_rows)
    for text, name in zip(batch.columns, names, strict=True):
        values, bad = _parse_text(text, CANONICAL_SCHEMA.field(name).type)
        newly_bad = pc.and_(bad, pc.invert(bad_rows))
        dropped = pc.sum(newly_bad).as_py() or 0
        if dropped:
            first = pc.index(newly_bad, True).as_py()
            malformed.count(f"{name} does not parse", dropped, f"{name}={text[first].as_py()!r}")
            bad_rows = pc.or_(bad_rows, bad)
        columns.append(values)
    return pa.table(columns, names=names).filter(pc.invert(bad_rows))
