"""Lake stage: the published parquet file of each month, in the course's layout."""

import dagster as dg
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
    MONEY_COLUMNS,
    TIMESTAMP_COLUMNS,
    implausible_values,
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


# Checks of the published lake file, partitioned like the asset so each runs on one month. They
# run as one step that reads the file's columns once: a step per check costs more in Dagster's
# per-step overhead than the checks themselves.
MAX_SHARE_OUTSIDE_MONTH = 0.01
# Published months have up to ~5% zero-distance trips (green 2020-04: 4.9%) and under 1%
# negative fares (refunds): well above that, the file is broken.
MAX_SHARE_IMPLAUSIBLE = {"negative_fare_amount": 0.02, "negative_total_amount": 0.02, "zero_trip_distance": 0.10}
CHECKED_COLUMNS = [*TIMESTAMP_COLUMNS, *LOCATION_COLUMNS, *MONEY_COLUMNS, "trip_distance"]


def _spec(name: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name, asset=lake_trips_parquet, description=description, blocking=blocking, partitions_def=trip_partitions
    )


LAKE_CHECK_SPECS = [
    _spec("lake_schema_is_canonical", "The lake file's parquet schema equals the canonical schema, column for column", blocking=True),
    _spec("lake_file_has_rows", "The month holds at least one trip"),
    _spec("pickup_and_dropoff_times_present", "No trip lacks its pickup or drop-off time"),
    _spec("location_ids_are_taxi_zones", "Pickup and drop-off locations are TLC zones 1..265 (fhv may leave them empty)"),
    _spec("pickups_within_the_month", "Few pickups fall outside the file's month (the source has some; many means a wrong file)"),
    _spec(
        "fares_and_distances_plausible",
        "Few trips have a negative fare or total, or zero distance (all kept as published; many means a broken file)",
    ),
]


def _result(name: str, passed: bool, severity: dg.AssetCheckSeverity, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=lake_trips_parquet.key, check_name=name, passed=passed, severity=severity, metadata=metadata
    )


@dg.multi_asset_check(specs=LAKE_CHECK_SPECS)
def lake_file_checks(context: dg.AssetCheckExecutionContext, lake_trips_parquet: UPath):
    """The lake file's schema, rows, timestamps, zones, month and money, from one read of it."""
    error, warn = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
    color, month = split_partition_key(context.partition_key)
    with lake_trips_parquet.open("rb") as f:
        differences = schema_differences(pq.read_schema(f))
    yield _result("lake_schema_is_canonical", not differences, error, {"differences": dg.MetadataValue.json(differences)})
    if differences:  # the other checks need the canonical columns
        return

    with lake_trips_parquet.open("rb") as f:
        table = pq.read_table(f, columns=CHECKED_COLUMNS)
    yield _result("lake_file_has_rows", table.num_rows > 0, error, {"rows": table.num_rows})

    nulls = null_counts(table, TIMESTAMP_COLUMNS)
    yield _result(
        "pickup_and_dropoff_times_present",
        not any(nulls.values()),
        error,
        {f"null_{name}": count for name, count in nulls.items()},
    )

    problems = location_id_problems(table, color)
    yield _result(
        "location_ids_are_taxi_zones",
        not any(n for counts in problems.values() for n in counts.values()),
        error,
        {"problems": dg.MetadataValue.json(problems), "zone_range": f"{FIRST_ZONE}..{LAST_ZONE}"},
    )

    share = share_outside_month(table["pickup_datetime"], month)
    yield _result(
        "pickups_within_the_month",
        share <= MAX_SHARE_OUTSIDE_MONTH,
        warn,
        {"share_outside_month": round(share, 6), "threshold": MAX_SHARE_OUTSIDE_MONTH},
    )

    counts = implausible_values(table)
    shares = {name: count / table.num_rows if table.num_rows else 0.0 for name, count in counts.items()}
    yield _result(
        "fares_and_distances_plausible",
        all(shares[name] <= MAX_SHARE_IMPLAUSIBLE[name] for name in counts),
        warn,
        {
            **counts,
            **{f"share_{name}": round(share, 6) for name, share in shares.items()},
            "thresholds": dg.MetadataValue.json(MAX_SHARE_IMPLAUSIBLE),
        },
    )


LAKE_CHECKS = [lake_file_checks]
