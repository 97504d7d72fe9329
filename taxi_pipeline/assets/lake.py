"""Lake stage: the published parquet file of each month, in the course's layout."""

import dagster as dg
import pandas as pd
import pyarrow as pa

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.assets.metadata import canonical_table_schema
from taxi_pipeline.io_managers.parquet import to_canonical_table
from taxi_pipeline.partitions import trip_partitions


@dg.asset(
    partitions_def=trip_partitions,
    group_name=GROUP,
    io_manager_key="lake_io_manager",
    kinds={"parquet"},
)
def lake_trips_parquet(context: dg.AssetExecutionContext, cleaned_trips: pd.DataFrame) -> pa.Table:
    """The month's trips published to the lake as `data/{color}/{color}_tripdata_{YYYY-MM}.parquet`,
    with the same parquet schema for every color and month."""
    table = to_canonical_table(cleaned_trips)
    context.add_output_metadata(
        {"dagster/row_count": table.num_rows, "dagster/column_schema": canonical_table_schema()}
    )
    return table
