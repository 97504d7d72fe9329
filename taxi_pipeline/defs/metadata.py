"""Metadata values shared by the trip assets: schema and preview as the UI shows them, and the
outputs versioned by their content."""

import warnings
from datetime import date, datetime, time, timedelta

import dagster as dg
import pyarrow as pa

from taxi_pipeline.schema import CANONICAL_COLUMNS

_DESCRIPTIONS = {c.name: c.description for c in CANONICAL_COLUMNS}


def warehouse_table_schema(column_types) -> dg.TableSchema:
    """(name, type) columns as the UI shows them, with their descriptions where canonical."""
    columns = [dg.TableColumn(str(name), str(kind), description=_DESCRIPTIONS.get(name)) for name, kind in column_types]
    return dg.TableSchema(columns=columns)


def canonical_table_schema() -> dg.TableSchema:
    """The canonical schema as a Dagster table schema, with each column's description."""
    return warehouse_table_schema((c.name, str(c.type)) for c in CANONICAL_COLUMNS)


def metadata_cell(value) -> str | int | float | bool | None:
    """A value as a table record holds it: dates and times as ISO text, durations in seconds,
    bytes as hex, anything else not a str, int, float, bool or None as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def table_preview(table: pa.Table, rows: int = 10) -> dg.MetadataValue:
    """The first rows of a table, shown by the UI as a table of the columns it has, whatever their types."""
    schema = warehouse_table_schema((f.name, str(f.type)) for f in table.schema)
    records = [
        dg.TableRecord({name: metadata_cell(v) for name, v in row.items()}) for row in table.slice(0, rows).to_pylist()
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def versioned_output(value, sha256: str, metadata: dict | None = None) -> dg.Output:
    """An output whose data version is the sha256 of the bytes it stands for (Output's
    `data_version` is beta in Dagster 1.13.27: its notice is not shown)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.Output(value, metadata=metadata, data_version=dg.DataVersion(sha256))
