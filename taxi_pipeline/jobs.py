"""Jobs over the trip assets."""

import dagster as dg

from taxi_pipeline.assets.ingest import GROUP

trips_job = dg.define_asset_job(
    "trips_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Download, clean, publish to the lake and load into the warehouse one (color, month).",
)
