"""Loads a lake file as the green 2020-04 slice of a Postgres warehouse, for
test_postgres_warehouse to kill in the middle of its COPY.

    python -m taxi_pipeline_tests.support.children.load_postgres_slice URL LAKE_PARQUET

Prints `finished` if the load ends before it is killed.
"""

import sys
from datetime import date

from upath import UPath

from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse


def main() -> None:
    """Load LAKE_PARQUET as green 2020-04 into the warehouse at URL."""
    PostgresWarehouse(url=sys.argv[1]).load_slice(UPath(sys.argv[2]), "green", date(2020, 4, 1))
    print("finished")


if __name__ == "__main__":
    main()
