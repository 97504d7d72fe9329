"""The run-failure sensor: every failed run posted to the webhook in TAXI_WEBHOOK_URL."""

import dagster as dg

from taxi_pipeline.defs.alerts.webhook import WebhookPostError, WebhookResource, failure_message


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
