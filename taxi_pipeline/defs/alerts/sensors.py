"""The run-failure sensor: every failed run posted to the webhook in TAXI_WEBHOOK_URL."""

import re

import dagster as dg

from taxi_pipeline.defs.alerts.webhook import WebhookResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline.settings import redact_urls_in


def _error_text(error) -> str:
    """The first line of a serialized error's message without its "package.Class: " prefix."""
    return re.sub(r"^[\w.]+: ?", "", (error.message or "").strip().partition("\n")[0]).strip()


def step_failure_text(error) -> str:
    """What failed a step in one line, URLs redacted: the innermost message of the error's cause chain (the
    last attempt's, under "Exceeded max_retries of 3"), then the outer message when it differs."""
    if error is None:
        return "failed"
    outer, inner, cause = _error_text(error) or "failed", "", error.cause
    while cause is not None:
        inner, cause = _error_text(cause) or inner, cause.cause
    return redact_urls_in(outer if not inner or inner == outer else f"{inner} ({outer})")


def failure_message(run: dg.DagsterRun, step_failures: list[dg.DagsterEvent]) -> str:
    """One message about a failed run: job, partition (or range), run id, what failed each step."""
    start, end = run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")
    partition = run.tags.get("dagster/partition") or (start if start == end else f"{start}...{end}")
    where = f" for partition {partition}" if partition else ""
    lines = [f"taxi_pipeline: run {run.run_id[:8]} of {run.job_name}{where} failed."]
    lines += [f"- {e.step_key}: {step_failure_text(e.step_failure_data.error)}" for e in step_failures]
    return "\n".join(lines)


@dg.run_failure_sensor(
    name="run_failure_webhook",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Posts every failed run to the webhook in TAXI_WEBHOOK_URL (Slack-compatible JSON); without "
        "a URL the tick is skipped saying so; a post that still fails after its retries fails the "
        "tick, naming the host (the run is not posted again)."
    ),
)
def run_failure_webhook(context: dg.RunFailureSensorContext, webhook: WebhookResource) -> dg.SkipReason | None:
    """Posts the failed run and says in the tick's log what became of it (the description says how)."""
    run = context.dagster_run
    which = f"run {run.run_id[:8]} of {run.job_name}"
    if not webhook.url:
        reason = f"no TAXI_WEBHOOK_URL set: failed {which} was not posted"
        context.log.info(reason)
        return dg.SkipReason(reason)
    try:
        attempts = webhook.post(failure_message(run, context.get_step_failure_events()))
    except (TransientError, PermanentError) as e:
        context.log.warning(f"failed {which} was not posted: {e}")
        raise
    context.log.info(f"posted failed {which} to TAXI_WEBHOOK_URL ({webhook.host}) in {attempts} attempt(s)")
    return None
