"""The jobs over the assets (the monthly trip files, the zone table beside them) and the
course's monthly schedule."""

import dagster as dg

# The partitioned chain of (color, month) with its checks; the zone table changes once in years,
# so a month's run does not download and reload it.
trips_job = dg.define_asset_job(
    "trips_job",
    selection=dg.AssetSelection.assets("raw_trips", "cleaned_trips", "lake_trips_parquet", "warehouse_trips"),
    description="Download, clean, audit, publish to the lake and load into the warehouse one (color, month).",
)

zones_job = dg.define_asset_job(
    "zones_job",
    selection=dg.AssetSelection.assets("taxi_zones"),
    description="Download the taxi zone table into the lake and replace the warehouse table `zones`.",
)

MONTHLY_CRON = "0 5 1 * *"  # the course's deployment: 05:00 UTC on the 1st

# On each tick, one run per color for the month that just closed (the latest complete month
# partition), with the partition key as run key so a tick never requests a month twice.
monthly_trips_schedule = dg.build_schedule_from_partitioned_job(
    trips_job,
    name="monthly_trips_schedule",
    hour_of_day=5,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Requests the month that just closed, for every color, at 05:00 UTC on the 1st.",
)
