"""The lake file format: parquet of the canonical schema."""

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"  # ~20% smaller than snappy at the same speed on these files


def write_lake_parquet(table: pa.Table, sink) -> None:
    """Write a month of canonical trips as a lake parquet file to a path or binary file object."""
    pq.write_table(table, sink, compression=PARQUET_COMPRESSION)


def parquet_row_count(path) -> int:
    """Rows in a parquet file (a path-like with `open`), read from its footer only."""
    with path.open("rb") as f:
        return pq.ParquetFile(f).metadata.num_rows
