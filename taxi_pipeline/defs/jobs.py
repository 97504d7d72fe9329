"""The jobs over the assets (the monthly trip files, the zone table beside them) and the
course's monthly schedule, at 05:00 New York time."""

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

MONTHLY_CRON = "0 5 1 * *"  # the course's deployment: 05:00 on the 1st
# The data's clock: pickup times are New York wall-clock times (and the course's current cohorts
# ask for a schedule in New York time).
SCHEDULE_TIMEZONE = "America/New_York"


def build_monthly_trips_schedule(partitions_def: dg.MultiPartitionsDefinition) -> dg.ScheduleDefinition:
    """On each tick, one run of `trips_job` per color for the month that just closed (the latest
    month partition at the tick), with the partition key as run key so a month is requested once."""
    months = partitions_def.get_partitions_def_for_dimension("month")

    # Dagster's build_schedule_from_partitioned_job takes its time zone from the partitions, which
    # are UTC months: a schedule of our own ticks in New York time.
    @dg.schedule(
        name="monthly_trips_schedule",
        job=trips_job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone=SCHEDULE_TIMEZONE,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Requests the month that just closed, for every color, at 05:00 New York time on the 1st.",
    )
    def monthly_trips_schedule(context: dg.ScheduleEvaluationContext):
        with dg.partition_loading_context(effective_dt=context.scheduled_execution_time):
            month = months.get_last_partition_key()
        if month is None:
            return dg.SkipReason("no month of the source has closed yet")
        keys = partitions_def.get_multipartition_keys_with_dimension_value("month", month)
        # Tagged with the key and its dimensions as Dagster's partitioned schedules tag them, so
        # the request is resolved here (a tick needs no repository to resolve it).
        return [
            dg.RunRequest(partition_key=key, run_key=key, tags=partitions_def.get_tags_for_partition_key(key))
            for key in keys
        ]

    return monthly_trips_schedule
