"""Materializes a lake parquet for green 2020-04 through the project's parquet IO manager into a
local lake that refuses the write, and prints the failure's messages.

    python -m taxi_pipeline_tests.support.children.write_through_io_manager LAKE SOURCE_PARQUET LIMIT

LIMIT is a file-size limit in bytes (RLIMIT_FSIZE) put on this process once the source is read,
0 for none. The last line printed is a JSON list: the step failure's message, then its causes'.
Exits 0 whenever the run failed as expected (one step failure).
"""

import json
import resource
import signal
import sys

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from taxi_pipeline.defs.lake.io_managers import TripsParquetIOManagerFactory
from taxi_pipeline.defs.lake.resources import LocalLake
from taxi_pipeline.partitions import course_partitions
from taxi_pipeline_tests.support.runs import error_chain, only_step_failure


def main() -> None:
    """Materialize SOURCE_PARQUET's table into LAKE under LIMIT; print the failure's messages."""
    lake, source, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    table = pq.read_table(source)
    if limit:
        # A real file-size limit: writes past it fail with EFBIG ("File too large"), the same
        # failing write() that a full disk (ENOSPC) gives, without filling a disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    @dg.asset(partitions_def=course_partitions, io_manager_key="lake")
    def lake_trips_parquet() -> pd.DataFrame:
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    io_manager = TripsParquetIOManagerFactory(
        lake=LocalLake(base_path=lake), path_template="data/{color}/{color}_tripdata_{month}.parquet"
    )
    result = dg.materialize(
        [lake_trips_parquet], partition_key="green|2020-04-01", resources={"lake": io_manager}, raise_on_error=False
    )
    print(json.dumps(error_chain(only_step_failure(result).step_failure_data.error)))


if __name__ == "__main__":
    main()
