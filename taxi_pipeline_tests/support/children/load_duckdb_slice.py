"""Loads a lake file as the green 2020-04 slice of a DuckDB warehouse, saying when it starts and
when it is done, so that test_write_faults can kill it at any moment in between.

    python -m taxi_pipeline_tests.support.children.load_duckdb_slice DATABASE LAKE_PARQUET

Prints `loading` before the load and `loaded` after it, each flushed at once.
"""

import sys
from datetime import date

from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse


def main() -> None:
    """Load LAKE_PARQUET as green 2020-04 into DATABASE, between the two lines it prints."""
    print("loading", flush=True)
    DuckDBWarehouse(duckdb_resource=DuckDBResource(database=sys.argv[1])).load_slice(
        UPath(sys.argv[2]), "green", date(2020, 4, 1)
    )
    print("loaded", flush=True)


if __name__ == "__main__":
    main()
