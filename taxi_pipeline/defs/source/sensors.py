"""The new-month sensor: asks the source, per color, whether the months after the latest loaded
one are published yet, and requests a run for each one that is."""

import json
from datetime import date

import dagster as dg

from taxi_pipeline.defs.jobs import trips_job
from taxi_pipeline.defs.source.releases import TripRelease
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline.partitions import next_month, split_partition_key, trip_partition_key

MAX_MONTHS_CHECKED_PER_COLOR = 3  # HEAD requests per color and tick: cheap, and catches up in steps


def build_new_month_sensor(partitions_def: dg.MultiPartitionsDefinition, release: TripRelease) -> dg.SensorDefinition:
    """A sensor requesting each service's next months of `partitions_def` once `release` has published them."""
    months = partitions_def.get_partitions_def_for_dimension("month")

    @dg.sensor(
        name="new_month_sensor",
        job=trips_job,
        minimum_interval_seconds=6 * 3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests each color's next months once the source publishes them.",
    )
    def new_month_sensor(context: dg.SensorEvaluationContext, source: TripSourceResource) -> dg.SensorResult:
        """Per color, asks the source about the months after the latest loaded or requested (the cursor)."""
        requested = {color: date.fromisoformat(month) for color, month in json.loads(context.cursor or "{}").items()}
        latest = dict(requested)
        for key in context.instance.get_materialized_partitions(dg.AssetKey("warehouse_trips")):
            color, month = split_partition_key(key)
            latest[color] = max(month, latest.get(color, month))
        keys = months.get_partition_keys()
        first_month, last_month = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
        run_requests = []
        for color in release.services:
            month = next_month(latest[color]) if color in latest else max(first_month, release.service_start[color])
            for _ in range(MAX_MONTHS_CHECKED_PER_COLOR):
                try:
                    if month > last_month or not source.is_published(color, month):
                        break
                except (TransientError, PermanentError) as e:  # the source could not tell
                    context.log.warning(f"{color} {month:%Y-%m} not checked, asked again next tick: {e}")
                    break
                key = trip_partition_key(color, month)
                run_requests.append(dg.RunRequest(run_key=key, partition_key=key))
                requested[color] = month
                month = next_month(month)
        cursor = json.dumps({color: month.isoformat() for color, month in sorted(requested.items())})
        return dg.SensorResult(run_requests=run_requests, cursor=cursor)

    return new_month_sensor
