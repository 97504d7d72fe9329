"""Opens a DuckDB file for writing and closes it: fails at once (exit 1) while another process
holds the file's writer lock.

    python -m taxi_pipeline_tests.support.children.open_duckdb_for_writing DATABASE
"""

import sys

import duckdb


def main() -> None:
    """Open DATABASE read-write, then close it."""
    duckdb.connect(sys.argv[1]).close()


if __name__ == "__main__":
    main()
