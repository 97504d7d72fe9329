"""Jobs over the assets: the monthly trip files, and the zone table beside them."""

import dagster as dg

from taxi_pipeline.assets import TRIP_ASSET_KEYS, ZONE_ASSETS

# The partitioned chain with its checks; the zone table changes once in years, so a month's run
# does not download and reload it.
trips_job = dg.define_asset_job(
    "trips_job",
    selection=dg.AssetSelection.assets(*TRIP_ASSET_KEYS),
    description="Download, clean, audit, publish to the lake and load into the warehouse one (color, month).",
)

zones_job = dg.define_asset_job(
    "zones_job",
    selection=dg.AssetSelection.assets(*ZONE_ASSETS),
    description="Download the taxi zone table into the lake and replace the warehouse table `zones`.",
)
