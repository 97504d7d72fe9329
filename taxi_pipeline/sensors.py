"""Sensors: new months at the source, run failures posted to a webhook, and the automation of the
report after loads."""

import json
from datetime import date

import dagster as dg

from taxi_pipeline.assets.trips_per_month import trips_per_month
from taxi_pipeline.jobs import trips_job
from taxi_pipeline.partitions import next_month, split_partition_key, trip_partition_key
from taxi_pipeline.resources.notify import WebhookPostError, WebhookResource, failure_message
from taxi_pipeline.resources.source import SourceRejectedError, SourceUnavailableError, TripSourceResource
from taxi_pipeline.sources import TripRelease

MAX_MONTHS_CHECKED_PER_COLOR = 3  # HEAD requests per color and tick: cheap, and catches up in steps
WAREHOUSE_TRIPS = dg.AssetKey("warehouse_trips")


def _latest_loaded_months(instance: dg.DagsterInstance) -> dict[str, date]:
    latest: dict[str, date] = {}
    for key in instance.get_materialized_partitions(WAREHOUSE_TRIPS):
        color, month = split_partition_key(key)
        latest[color] = max(month, latest.get(color, month))
    return latest


def _published(context: dg.SensorEvaluationContext, source: TripSourceResource, color: str, month: date) -> bool:
    """Whether the source has published `color`'s `month`; False, with a warning on the tick's
    log, when the source could not tell (a 5xx or other failed request): the month is asked
    about again on the next tick."""
    try:
        return source.is_published(color, month)
    except (SourceUnavailableError, SourceRejectedError) as e:
        context.log.warning(f"{color} {month:%Y-%m} not checked, asked again next tick: {e}")
        return False


def build_new_month_sensor(partitions_def: dg.MultiPartitionsDefinition, release: TripRelease) -> dg.SensorDefinition:
    """A sensor that requests each service's next months of `partitions_def` once `release`
    has published them."""
    months = partitions_def.get_partitions_def_for_dimension("month")

    @dg.sensor(
        name="new_month_sensor",
        job=trips_job,
        minimum_interval_seconds=6 * 3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests each color's next months once the source publishes them.",
    )
    def new_month_sensor(context: dg.SensorEvaluationContext, source: TripSourceResource) -> dg.SensorResult:
        """Per color, looks (HEAD) at the months after the latest one loaded or requested (from
        the partitions' first month, or the service's if it began later) and asks for those the
        source has published; the cursor remembers what it requested. A color whose check fails
        (a 5xx, a refused connection) is logged on the tick and looked at again next tick; the
        other colors are still requested."""
        requested = {color: date.fromisoformat(month) for color, month in json.loads(context.cursor or "{}").items()}
        loaded = _latest_loaded_months(context.instance)
        keys = months.get_partition_keys()
        if not keys:
            return dg.SensorResult(run_requests=[], cursor=context.cursor)
        first_month, last_month = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
        run_requests = []
        for color in release.services:
            known = [m for m in (loaded.get(color), requested.get(color)) if m is not None]
            month = next_month(max(known)) if known else max(first_month, release.service_start[color])
            for _ in range(MAX_MONTHS_CHECKED_PER_COLOR):
                if month > last_month or not _published(context, source, color, month):
                    break
                key = trip_partition_key(color, month)
                run_requests.append(dg.RunRequest(run_key=key, partition_key=key))
                requested[color] = month
                month = next_month(month)
        cursor = json.dumps({color: month.isoformat() for color, month in sorted(requested.items())})
        return dg.SensorResult(run_requests=run_requests, cursor=cursor)

    return new_month_sensor


@dg.run_failure_sensor(
    name="run_failure_webhook",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Posts every failed run to the webhook in TAXI_WEBHOOK_URL (Slack-compatible JSON); "
        "a post that still fails after its retries fails the tick, naming the host."
    ),
)
def run_failure_webhook(context: dg.RunFailureSensorContext, webhook: WebhookResource) -> dg.SkipReason | None:
    """Posts a Slack-style message naming the failed run, its partition and the error, and says
    in the tick's log (`context.log`, what the UI shows for a tick) what became of it:

    - posted: an INFO line naming the run, the host and the attempts; the tick succeeds.
    - no TAXI_WEBHOOK_URL set: a `SkipReason` saying the run was not posted (the tick is skipped
      with that reason). Dagster then stops the tick at this run; further failed runs are
      handled by the next ticks.
    - the post still fails after its bounded retries (`WebhookResource.post`): a WARNING line,
      then `WebhookPostError` is raised. Dagster records the tick as failed with that error
      (red in the UI, the message in the tick's error) but moves the cursor past the run anyway,
      since a run status sensor's side effects are not to be repeated: the run is not posted
      again on the next tick, so the retries stay bounded.

    No message holds the URL: only TAXI_WEBHOOK_URL and the host.
    """
    run = context.dagster_run
    which = f"run {run.run_id[:8]} of {run.job_name}"
    if not webhook.url:
        reason = f"no TAXI_WEBHOOK_URL set: failed {which} was not posted"
        context.log.info(reason)
        return dg.SkipReason(reason)
    try:
        attempts = webhook.post(failure_message(run, context.get_step_failure_events()))
    except WebhookPostError as e:
        context.log.warning(f"failed {which} was not posted: {e}")
        raise
    context.log.info(f"posted failed {which} to TAXI_WEBHOOK_URL ({webhook.host}) in {attempts} attempt(s)")
    return None


# The report's automation: Dagster 1.13.27 adds a `default_automation_condition_sensor` for assets
# no other automation sensor targets, but with default_status STOPPED, so the report would wait
# for someone to switch it on in the UI. This one targets the report alone and starts running.
report_automation_sensor = dg.AutomationConditionSensorDefinition(
    "trips_per_month_automation",
    target=dg.AssetSelection.assets(trips_per_month),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests trips_per_month once after warehouse loads (its automation condition "
        "after_any_load). Running by default: Dagster 1.13's default automation condition sensor "
        "starts stopped, and this sensor takes its place for the report. It needs the daemon "
        "(dagster dev runs one)."
    ),
)
