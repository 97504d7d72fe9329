"""Warehouse stage: each lake file loaded as one slice of the `trips` table."""

import dagster as dg
import pyarrow.parquet as pq
from upath import UPath

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.partitions import split_partition_key, trip_partitions
from taxi_pipeline.resources.warehouse import WarehouseResource

SLICE_MATCHES_LAKE_FILE = "slice_matches_lake_file"


def parquet_row_count(path: UPath) -> int:
    """Rows in a parquet file, from its footer."""
    with path.open("rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


@dg.asset(
    partitions_def=trip_partitions,
    group_name=GROUP,
    kinds={"sql"},
    check_specs=[
        dg.AssetCheckSpec(
            SLICE_MATCHES_LAKE_FILE,
            asset="warehouse_trips",
            description="The (color, source_month) slice holds exactly the lake file's rows",
        )
    ],
)
def warehouse_trips(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake_trips_parquet: UPath
) -> dg.MaterializeResult:
    """The month's (color, source_month) slice of the warehouse table `trips`, replaced as a
    whole from the lake file: re-running never duplicates rows."""
    color, month = split_partition_key(context.partition_key)
    context.log.info(f"loading {lake_trips_parquet} into {color} {month:%Y-%m} of the trips table")
    load = warehouse.load_slice(lake_trips_parquet, color, month)
    lake_rows = parquet_row_count(lake_trips_parquet)
    return dg.MaterializeResult(
        metadata={
            "table": load.table,
            "rows_loaded": load.rows_loaded,
            "rows_replaced": load.rows_replaced,
            "slice_rows": load.slice_rows,
            "dagster/row_count": load.slice_rows,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=SLICE_MATCHES_LAKE_FILE,
                passed=load.slice_rows == lake_rows,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"slice_rows": load.slice_rows, "lake_file_rows": lake_rows},
            )
        ],
    )
