"""Publish stage: the audited staged file of each month published to the lake, in the course's layout."""

import dagster as dg
from upath import UPath

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.assets.metadata import canonical_table_schema
from taxi_pipeline.lake import raw_file_template, zone_path
from taxi_pipeline.partitions import one_partition_per_run, split_partition_key
from taxi_pipeline.transforms.lake_file import parquet_row_count


def publish_month(context: dg.AssetExecutionContext, cleaned_trips: UPath, raw_file_format: str) -> UPath:
    """The staged file to publish, with its row count and schema; a month without trips fails
    naming its raw file (of `raw_file_format`)."""
    # The lake IO manager copies the staged file (a hard link on local disk, a server-side
    # copy on GCS): no row is decoded or re-encoded.
    rows = parquet_row_count(cleaned_trips)
    if rows == 0:
        # A month without trips is a source fault (a file with only a header line), not news:
        # publishing it would replace a good lake file and empty the warehouse slice.
        color, month = split_partition_key(context.partition_key)
        raw_name = zone_path(raw_file_template(raw_file_format), color, month)
        raise dg.Failure(
            description=f"{raw_name} holds no trips (only a header line); the lake file and the "
            f"warehouse slice of {color} {month:%Y-%m} are left as they were",
            allow_retries=False,
        )
    context.add_output_metadata({"dagster/row_count": rows, "dagster/column_schema": canonical_table_schema()})
    return cleaned_trips


def build_lake_asset(partitions_def: dg.PartitionsDefinition, raw_file_format: str) -> dg.AssetsDefinition:
    """`lake_trips_parquet` over `partitions_def`, downstream of raw files of `raw_file_format`."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=one_partition_per_run,
        group_name=GROUP,
        io_manager_key="lake_io_manager",
        kinds={"parquet"},
    )
    def lake_trips_parquet(context: dg.AssetExecutionContext, cleaned_trips: UPath) -> UPath:
        """The month's audited trips published to the lake as
        `data/{color}/{color}_tripdata_{YYYY-MM}.parquet`, byte for byte the staged file, with
        the same parquet schema for every source, service and month. Runs only once the
        blocking checks of `cleaned_trips` passed."""
        return publish_month(context, cleaned_trips, raw_file_format)

    return lake_trips_parquet
