"""Sensors: new months at the source, and run failures posted to a webhook."""

import json
from datetime import date

import dagster as dg

from taxi_pipeline.assets.warehouse import warehouse_trips
from taxi_pipeline.jobs import trips_job
from taxi_pipeline.partitions import MONTHS_START, month_partitions, next_month, split_partition_key, trip_partition_key
from taxi_pipeline.resources.notify import WebhookResource, failure_message
from taxi_pipeline.resources.source import TripSourceResource
from taxi_pipeline.schema import COLORS

MAX_MONTHS_CHECKED_PER_COLOR = 3  # HEAD requests per color and tick: cheap, and catches up in steps


def _latest_loaded_months(instance: dg.DagsterInstance) -> dict[str, date]:
    latest: dict[str, date] = {}
    for key in instance.get_materialized_partitions(warehouse_trips.key):
        color, month = split_partition_key(key)
        latest[color] = max(month, latest.get(color, month))
    return latest


@dg.sensor(
    job=trips_job,
    minimum_interval_seconds=6 * 3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests each color's next months once the source publishes them.",
)
def new_month_sensor(context: dg.SensorEvaluationContext, source: TripSourceResource) -> dg.SensorResult:
    """Per color, looks (HEAD) at the months after the latest one loaded or requested and asks for
    those the source has published; the cursor remembers what it requested."""
    requested = {color: date.fromisoformat(month) for color, month in json.loads(context.cursor or "{}").items()}
    loaded = _latest_loaded_months(context.instance)
    last_month = date.fromisoformat(month_partitions.get_last_partition_key())
    run_requests = []
    for color in COLORS:
        known = [m for m in (loaded.get(color), requested.get(color)) if m is not None]
        month = next_month(max(known)) if known else date.fromisoformat(MONTHS_START)
        for _ in range(MAX_MONTHS_CHECKED_PER_COLOR):
            if month > last_month or not source.is_published(color, month):
                break
            key = trip_partition_key(color, month)
            run_requests.append(dg.RunRequest(run_key=key, partition_key=key))
            requested[color] = month
            month = next_month(month)
    cursor = json.dumps({color: month.isoformat() for color, month in sorted(requested.items())})
    return dg.SensorResult(run_requests=run_requests, cursor=cursor)


@dg.run_failure_sensor(
    name="run_failure_webhook",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Posts every failed run to the webhook in TAXI_WEBHOOK_URL (Slack-compatible JSON).",
)
def run_failure_webhook(context: dg.RunFailureSensorContext, webhook: WebhookResource) -> None:
    """A Slack-style message naming the failed run, its partition and the error."""
    webhook.post(failure_message(context.dagster_run, context.get_step_failure_events()))
