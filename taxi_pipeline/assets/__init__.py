"""The trip assets, one module per stage: ingest (+ its audit), lake, warehouse; the zone table;
and the report over the warehouse.

The trip assets are partitioned by the source's services and months, which the settings choose,
so they are built for a partitions definition when the definitions load, not at import.
"""

from dataclasses import dataclass

import dagster as dg

from taxi_pipeline.assets.audit import build_audit_checks
from taxi_pipeline.assets.ingest import build_ingest_assets
from taxi_pipeline.assets.lake import build_lake_asset
from taxi_pipeline.assets.trips_per_month import trips_per_month
from taxi_pipeline.assets.warehouse import build_warehouse_asset
from taxi_pipeline.assets.zones import taxi_zones
from taxi_pipeline.partitions import course_partitions
from taxi_pipeline.transforms.quality import DEFAULT_ROW_DROP, RowDropThresholds

# The partitioned chain of (color, month), in order; the zone table, not partitioned, stands beside it.
TRIP_ASSET_KEYS = [
    dg.AssetKey(name) for name in ("raw_trips", "cleaned_trips", "lake_trips_parquet", "warehouse_trips")
]
ZONE_ASSETS = [taxi_zones]
# Downstream of every partition of warehouse_trips, not partitioned either: no job holds it, Dagster's
# automation materializes it after loads (sensors.report_automation_sensor).
REPORT_ASSETS = [trips_per_month]


@dataclass(frozen=True)
class TripAssets:
    """The monthly chain over one partitions definition, and the audit checks of its staged files."""

    partitions_def: dg.MultiPartitionsDefinition
    assets: list[dg.AssetsDefinition]
    checks: list[dg.AssetChecksDefinition]


def build_trip_assets(
    partitions_def: dg.MultiPartitionsDefinition = course_partitions,
    raw_file_format: str = "csv.gz",
    row_drop: RowDropThresholds = DEFAULT_ROW_DROP,
) -> TripAssets:
    """`raw_trips` -> `cleaned_trips` (audited, its rows held to `row_drop` against the previous
    publication) -> `lake_trips_parquet` -> `warehouse_trips` over `partitions_def`, for a
    source publishing `raw_file_format` files (the course's by default)."""
    raw_trips, cleaned_trips = build_ingest_assets(partitions_def, raw_file_format)
    return TripAssets(
        partitions_def=partitions_def,
        assets=[
            raw_trips,
            cleaned_trips,
            build_lake_asset(partitions_def),
            build_warehouse_asset(partitions_def),
        ],
        checks=[build_audit_checks(partitions_def, row_drop)],
    )
