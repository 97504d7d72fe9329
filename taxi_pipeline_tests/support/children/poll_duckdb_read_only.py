"""Reads a DuckDB file as a dashboard does: a read-only connection opened for each query every
50 ms, until its stdin closes or SECONDS pass.

    python -m taxi_pipeline_tests.support.children.poll_duckdb_read_only DATABASE SECONDS

Prints `polling` after its first query, flushed at once; a poll that meets a writer's lock is
skipped, as a dashboard retries on its next refresh.
"""

import select
import sys
import time

import duckdb


def main() -> None:
    """Query DATABASE read-only every 50 ms for at most SECONDS."""
    deadline = time.monotonic() + float(sys.argv[2])
    said = False
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(sys.argv[1], read_only=True) as conn:
                conn.execute("SELECT count(*) FROM information_schema.tables").fetchone()
        except duckdb.IOException:
            pass  # a load holds the file: the next poll reads again
        else:
            if not said:
                print("polling", flush=True)
                said = True
        if select.select([sys.stdin], [], [], 0.05)[0]:
            return


if __name__ == "__main__":
    main()
