"""Writes a big parquet file through the lake's atomic writer, slowly enough (20,000-row groups)
for test_write_faults to kill it midway.

    python -m taxi_pipeline_tests.support.children.write_big_file TARGET SOURCE_PARQUET
"""

import sys

import pyarrow.parquet as pq
from upath import UPath

from taxi_pipeline.defs.lake.files import atomic_writer


def main() -> None:
    """Write the table of SOURCE_PARQUET to TARGET through `atomic_writer`."""
    target, source = sys.argv[1], sys.argv[2]
    big = pq.read_table(source)
    with atomic_writer(UPath(target)) as f:
        pq.write_table(big, f, compression="zstd", row_group_size=20_000)


if __name__ == "__main__":
    main()
