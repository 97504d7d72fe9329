"""Loads a lake file as the green 2020-04 slice of a DuckDB warehouse and kills itself (SIGKILL)
where the transaction would commit: after the DELETE and the INSERT of the new slice ran.

    python -m taxi_pipeline_tests.support.children.load_killed_at_commit DATABASE LAKE_PARQUET
"""

import os
import signal
import sys
from contextlib import contextmanager
from datetime import date

from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse


class KilledAtCommit:
    """The real connection; only commit() is replaced by the process killing itself."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def commit(self):
        """Kill this process instead of committing."""
        os.kill(os.getpid(), signal.SIGKILL)


class Warehouse(DuckDBWarehouse):
    """DuckDBWarehouse whose connections die at commit."""

    @contextmanager
    def _connection(self):
        with super()._connection() as conn:
            yield KilledAtCommit(conn)


def main() -> None:
    """Load LAKE_PARQUET as green 2020-04 into DATABASE; never returns (SIGKILL at commit)."""
    Warehouse(duckdb_resource=DuckDBResource(database=sys.argv[1])).load_slice(
        UPath(sys.argv[2]), "green", date(2020, 4, 1)
    )


if __name__ == "__main__":
    main()
