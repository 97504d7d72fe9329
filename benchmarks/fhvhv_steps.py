"""The single steps `benchmarks.fhvhv` measures, each run alone in a fresh process:

    python -m benchmarks.fhvhv_steps read SOURCE.parquet            pyarrow.parquet.read_table, whole file
    python -m benchmarks.fhvhv_steps convert SOURCE.parquet OUT     convert_parquet_to_lake (fhvhv 2025-01)
    python -m benchmarks.fhvhv_steps one-group SOURCE.parquet OUT   SOURCE rewritten as ONE row group

Each prints `rows: N`. pyarrow writes a row group from a table it holds whole, so `one-group`
takes the memory of the whole month (~215 MiB per million fhvhv rows).
"""

import sys
from datetime import date

import pyarrow.parquet as pq

MONTH = date(2025, 1, 1)


def read(source: str) -> int:
    """The reference: the whole file read into one Arrow table, as `pq.read_table` does by default."""
    return pq.read_table(source).num_rows


def convert(source: str, destination: str) -> int:
    """The project's conversion of a TLC fhvhv file to a lake parquet file."""
    from taxi_pipeline.lib.convert import convert_parquet_to_lake

    return convert_parquet_to_lake(source, "fhvhv", MONTH, destination).rows


def one_group(source: str, destination: str) -> int:
    """`source`'s rows written to `destination` as a single row group, same schema and codec."""
    table = pq.read_table(source)
    pq.write_table(table, destination, row_group_size=table.num_rows, compression="zstd")
    return table.num_rows


STEPS = {"read": read, "convert": convert, "one-group": one_group}


if __name__ == "__main__":
    print(f"rows: {STEPS[sys.argv[1]](*sys.argv[2:])}")
