"""Lake stage: the published parquet file of each month, in the course's layout."""

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.assets.metadata import canonical_table_schema
from taxi_pipeline.io_managers import RAW_FILE_TEMPLATE
from taxi_pipeline.partitions import one_partition_per_run, split_partition_key, trip_partitions
from taxi_pipeline.transforms.lake_file import parquet_row_count
from taxi_pipeline.transforms.quality import (
    FIRST_ZONE,
    LAST_ZONE,
    LOCATION_COLUMNS,
    TIMESTAMP_COLUMNS,
    location_id_problems,
    null_counts,
    schema_differences,
    share_outside_month,
)


@dg.asset(
    partitions_def=trip_partitions,
    backfill_policy=one_partition_per_run,
    group_name=GROUP,
    io_manager_key="lake_io_manager",
    kinds={"parquet"},
)
def lake_trips_parquet(context: dg.AssetExecutionContext, cleaned_trips: UPath) -> UPath:
    """The month's trips published to the lake as `data/{color}/{color}_tripdata_{YYYY-MM}.parquet`,
    with the same parquet schema for every color and month."""
    # The staged file already is canonical parquet: the IO manager publishes it byte for byte
    # (after checking its schema) instead of decoding and re-encoding millions of rows.
    rows = parquet_row_count(cleaned_trips)
    if rows == 0:
        # A month without trips is a source fault (a file with only a header line), not news:
        # publishing it would replace a good lake file and empty the warehouse slice.
        color, month = split_partition_key(context.partition_key)
        raw_name = RAW_FILE_TEMPLATE.format(color=color, month=f"{month:%Y-%m}")
        raise dg.Failure(
            description=f"{raw_name} holds no trips (only a header line); the lake file and the "
            f"warehouse slice of {color} {month:%Y-%m} are left as they were",
            allow_retries=False,
        )
    context.add_output_metadata({"dagster/row_count": rows, "dagster/column_schema": canonical_table_schema()})
    return cleaned_trips


# Checks of the published lake file; partitioned like the asset, so each runs on one month.
MAX_SHARE_OUTSIDE_MONTH = 0.01


def _read_columns(path: UPath, columns: list[str]) -> pa.Table:
    with path.open("rb") as f:
        return pq.read_table(f, columns=columns)


@dg.asset_check(asset=lake_trips_parquet, partitions_def=trip_partitions, blocking=True)
def lake_schema_is_canonical(lake_trips_parquet: UPath) -> dg.AssetCheckResult:
    """The lake file's parquet schema equals the canonical schema, column for column."""
    with lake_trips_parquet.open("rb") as f:
        differences = schema_differences(pq.read_schema(f))
    return dg.AssetCheckResult(
        passed=not differences,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"differences": dg.MetadataValue.json(differences)},
    )


@dg.asset_check(asset=lake_trips_parquet, partitions_def=trip_partitions)
def lake_file_has_rows(lake_trips_parquet: UPath) -> dg.AssetCheckResult:
    """The month holds at least one trip."""
    rows = parquet_row_count(lake_trips_parquet)
    return dg.AssetCheckResult(passed=rows > 0, severity=dg.AssetCheckSeverity.ERROR, metadata={"rows": rows})


@dg.asset_check(asset=lake_trips_parquet, partitions_def=trip_partitions)
def pickup_and_dropoff_times_present(lake_trips_parquet: UPath) -> dg.AssetCheckResult:
    """No trip lacks its pickup or drop-off time."""
    nulls = null_counts(_read_columns(lake_trips_parquet, list(TIMESTAMP_COLUMNS)), TIMESTAMP_COLUMNS)
    return dg.AssetCheckResult(
        passed=not any(nulls.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={f"null_{name}": count for name, count in nulls.items()},
    )


@dg.asset_check(asset=lake_trips_parquet, partitions_def=trip_partitions)
def location_ids_are_taxi_zones(
    context: dg.AssetCheckExecutionContext, lake_trips_parquet: UPath
) -> dg.AssetCheckResult:
    """Pickup and drop-off locations are TLC zones 1..265 (fhv may leave them empty)."""
    color, _ = split_partition_key(context.partition_key)
    problems = location_id_problems(_read_columns(lake_trips_parquet, list(LOCATION_COLUMNS)), color)
    return dg.AssetCheckResult(
        passed=not any(n for counts in problems.values() for n in counts.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": dg.MetadataValue.json(problems), "zone_range": f"{FIRST_ZONE}..{LAST_ZONE}"},
    )


@dg.asset_check(asset=lake_trips_parquet, partitions_def=trip_partitions)
def pickups_within_the_month(
    context: dg.AssetCheckExecutionContext, lake_trips_parquet: UPath
) -> dg.AssetCheckResult:
    """Few pickups fall outside the file's month (the source has some; many means a wrong file)."""
    _, month = split_partition_key(context.partition_key)
    share = share_outside_month(_read_columns(lake_trips_parquet, ["pickup_datetime"])["pickup_datetime"], month)
    return dg.AssetCheckResult(
        passed=share <= MAX_SHARE_OUTSIDE_MONTH,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"share_outside_month": round(share, 6), "threshold": MAX_SHARE_OUTSIDE_MONTH},
    )


LAKE_CHECKS = [
    lake_schema_is_canonical,
    lake_file_has_rows,
    pickup_and_dropoff_times_present,
    location_ids_are_taxi_zones,
    pickups_within_the_month,
]
