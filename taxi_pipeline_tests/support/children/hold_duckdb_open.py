"""Holds a DuckDB file open for writing, as a notebook or the duckdb CLI does, until its stdin
closes or SECONDS pass.

    python -m taxi_pipeline_tests.support.children.hold_duckdb_open DATABASE SECONDS

Prints `holding` once the file is open (its lock held), flushed at once.
"""

import select
import sys

import duckdb


def main() -> None:
    """Open DATABASE read-write, say so, and keep it open for at most SECONDS."""
    conn = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    select.select([sys.stdin], [], [], float(sys.argv[2]))
    conn.close()


if __name__ == "__main__":
    main()
