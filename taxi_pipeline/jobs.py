"""Jobs over the trip assets."""

import dagster as dg

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.partitions import trip_partitions

trips_job = dg.define_asset_job(
    "trips_job",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=trip_partitions,
    description="Download, clean, publish to the lake and load into the warehouse one (color, month).",
)
