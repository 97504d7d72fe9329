"""Metadata values shared by the trip assets: schema and preview as the UI shows them."""

from datetime import date, datetime

import dagster as dg
import pyarrow as pa

from taxi_pipeline.schema import CANONICAL_COLUMNS


def canonical_table_schema() -> dg.TableSchema:
    """The canonical schema as a Dagster table schema, with each column's description."""
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, str(c.type), description=c.description) for c in CANONICAL_COLUMNS]
    )


def warehouse_table_schema(column_types: tuple[tuple[str, str], ...]) -> dg.TableSchema:
    """A warehouse table's columns with their SQL types (in the warehouse's dialect) and the
    canonical column descriptions."""
    descriptions = {c.name: c.description for c in CANONICAL_COLUMNS}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, kind, description=descriptions.get(name)) for name, kind in column_types]
    )


def _cell(value):
    # Table records hold str, int, float, bool or None; dates and times show as ISO text.
    return (
        value.isoformat(sep=" ")
        if isinstance(value, datetime)
        else value.isoformat()
        if isinstance(value, date)
        else value
    )


def table_preview(table: pa.Table, rows: int = 10) -> dg.MetadataValue:
    """The first rows of a canonical table, shown by the UI as a table with the schema's columns."""
    records = [dg.TableRecord({name: _cell(v) for name, v in row.items()}) for row in table.slice(0, rows).to_pylist()]
    return dg.MetadataValue.table(records=records, schema=canonical_table_schema())
