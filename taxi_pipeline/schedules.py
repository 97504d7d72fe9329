"""Schedules: the course's monthly cron, in partitions."""

from datetime import date

import dagster as dg

from taxi_pipeline.jobs import trips_job
from taxi_pipeline.partitions import trip_partition_key
from taxi_pipeline.schema import COLORS
from taxi_pipeline.transforms.clean import previous_month

MONTHLY_CRON = "0 5 1 * *"  # the course's deployment: 05:00 UTC on the 1st


@dg.schedule(
    cron_schedule=MONTHLY_CRON,
    job=trips_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Requests the month that just closed, for every color, at 05:00 UTC on the 1st.",
)
def monthly_trips_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per color for the month before the tick."""
    month = previous_month(context.scheduled_execution_time.date())
    return [
        dg.RunRequest(run_key=key, partition_key=key)
        for key in (trip_partition_key(color, month) for color in COLORS)
    ]
