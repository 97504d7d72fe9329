"""Publish stage: the audited staged file of each month published to the lake, in the course's layout."""

import dagster as dg

from taxi_pipeline.defs.lake.files import StagedFile
from taxi_pipeline.defs.metadata import canonical_table_schema, versioned_output
from taxi_pipeline.defs.quality.checks import refuse_publication, verdict_findings
from taxi_pipeline.defs.source.assets import GROUP
from taxi_pipeline.lib.parquet import parquet_row_count
from taxi_pipeline.partitions import one_partition_per_run


def build_lake_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """`lake_trips_parquet` over `partitions_def`."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=one_partition_per_run,
        group_name=GROUP,
        io_manager_key="lake_io_manager",
        kinds={"parquet"},
    )
    def lake_trips_parquet(context: dg.AssetExecutionContext, cleaned_trips: StagedFile) -> dg.Output[StagedFile]:
        """The month's audited trips published to the lake as
        `data/{color}/{color}_tripdata_{YYYY-MM}.parquet`, byte for byte the staged file, in one
        parquet schema for every source, service and month. Publishes only bytes whose latest
        audit passed every blocking check (their `sha256`), however runs overlap."""
        refuse_publication(context.log, context.partition_key, verdict_findings(cleaned_trips))
        metadata = {
            "dagster/row_count": parquet_row_count(cleaned_trips.path),
            "dagster/column_schema": canonical_table_schema(),
            "sha256": cleaned_trips.sha256,
            "source": cleaned_trips.source,
        }
        # The IO manager copies the staged file (a hard link on local disk), checking its bytes.
        return versioned_output(cleaned_trips, cleaned_trips.sha256, metadata)

    return lake_trips_parquet
