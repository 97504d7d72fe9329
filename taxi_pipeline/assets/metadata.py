"""Metadata values shared by the trip assets: schema and preview as the UI shows them."""

import dagster as dg
import pyarrow as pa

from taxi_pipeline.schema import CANONICAL_COLUMNS


def canonical_table_schema() -> dg.TableSchema:
    """The canonical schema as a Dagster table schema, with each column's description."""
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, str(c.type), description=c.description) for c in CANONICAL_COLUMNS]
    )


def markdown_preview(table: pa.Table, rows: int = 10) -> dg.MetadataValue:
    """The first rows of a table as a markdown table."""
    head = table.slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(table.column_names) + " |", "|" + "---|" * table.num_columns]
    for record in head:
        cells = ("" if record[name] is None else str(record[name]) for name in table.column_names)
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines))
