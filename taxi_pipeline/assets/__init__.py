"""The trip assets, one module per stage: ingest (+ its audit), lake, warehouse; and the zone table."""

from taxi_pipeline.assets.audit import AUDIT_CHECKS
from taxi_pipeline.assets.ingest import cleaned_trips, raw_trips
from taxi_pipeline.assets.lake import lake_trips_parquet
from taxi_pipeline.assets.warehouse import warehouse_trips
from taxi_pipeline.assets.zones import taxi_zones

# The partitioned chain of (color, month); the zone table, not partitioned, stands beside it.
TRIP_ASSETS = [raw_trips, cleaned_trips, lake_trips_parquet, warehouse_trips]
TRIP_CHECKS = AUDIT_CHECKS
ZONE_ASSETS = [taxi_zones]
