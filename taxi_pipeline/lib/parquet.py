"""The lake file format: parquet of the canonical schema."""

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from taxi_pipeline.schema import CANONICAL_SCHEMA

PARQUET_COMPRESSION = "zstd"
# Large enough for DuckDB and BigQuery to read in parallel, small enough to write in bounded memory.
ROW_GROUP_ROWS = 256 * 1024


def write_lake_parquet(tables: pa.Table | Iterable[pa.Table], sink) -> int:
    """Write canonical trips (one table, or tables one after the other) as a lake parquet file to
    a path or binary file object, in row groups of `ROW_GROUP_ROWS`; returns the rows written."""
    written, pending = 0, CANONICAL_SCHEMA.empty_table()
    with pq.ParquetWriter(sink, CANONICAL_SCHEMA, compression=PARQUET_COMPRESSION) as writer:
        for table in [tables] if isinstance(tables, pa.Table) else tables:
            pending = pa.concat_tables([pending, table])
            if pending.num_rows >= ROW_GROUP_ROWS:
                writer.write_table(pending, row_group_size=pending.num_rows)
                written, pending = written + pending.num_rows, CANONICAL_SCHEMA.empty_table()
        if pending.num_rows or not written:
            writer.write_table(pending)
    return written + pending.num_rows


def parquet_row_count(path) -> int:
    """Rows in a parquet file (a path-like with `open`), read from its footer only."""
    with path.open("rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


def lake_file_columns(path) -> list[str]:
    """The canonical columns a lake file (a path-like with `open`) holds, in canonical order: all
    of them, or those of the older schema version it was written in."""
    try:
        with path.open("rb") as f:
            names = set(pq.read_schema(f).names)
    except pa.ArrowInvalid as e:
        raise ValueError(f"{path} is not a readable parquet file: {e}") from None
    return [name for name in CANONICAL_SCHEMA.names if name in names]
