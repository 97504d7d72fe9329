"""Opens a DuckDB file for writing and holds it (a notebook left open), until killed: prints
"held" once the writer lock is taken.

    python -m taxi_pipeline_tests.support.children.hold_duckdb_for_writing DATABASE
"""

import sys
import time

import duckdb


def main() -> None:
    """Open DATABASE read-write and keep it open."""
    conn = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    while True:
        time.sleep(60)
    conn.close()


if __name__ == "__main__":
    main()
