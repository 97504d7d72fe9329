"""Schedules: the course's monthly cron, in partitions."""

import dagster as dg

from taxi_pipeline.jobs import trips_job

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
