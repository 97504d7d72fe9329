"""Cleans a sample file into a lake parquet, then loads it into a DuckDB warehouse again and
again: one of several writers that test_concurrency_faults runs at once on one file.

    python -m taxi_pipeline_tests.support.children.load_repeatedly DATABASE COLOR SAMPLE MONTH LAKE TIMES

MONTH is the slice's first day (YYYY-MM-01); prints `ok` after the TIMES loads.
"""

import sys
from datetime import date

from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline_tests.support.trips import cleaned_file


def main() -> None:
    """Write SAMPLE cleaned as the (COLOR, MONTH) slice to LAKE, then load LAKE TIMES times."""
    database, color, sample, month, lake, times = sys.argv[1:]
    write_lake_parquet(cleaned_file(sample, color, date.fromisoformat(month)), lake)
    for _ in range(int(times)):
        DuckDBWarehouse(duckdb_resource=DuckDBResource(database=database)).load_slice(
            UPath(lake), color, date.fromisoformat(month)
        )
    print("ok")


if __name__ == "__main__":
    main()
