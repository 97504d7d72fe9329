"""Notifications: a webhook that takes Slack-compatible JSON ({"text": ...})."""

import re

import dagster as dg
import requests
from pydantic import Field


class WebhookResource(dg.ConfigurableResource):
    """A webhook URL (TAXI_WEBHOOK_URL; a Slack incoming webhook works). The URL is a secret: it
    is never logged; with no URL set, messages go to the log only."""

    url: str | None = Field(default=None, description="Webhook URL (TAXI_WEBHOOK_URL)")
    timeout_seconds: float = 10.0

    def post(self, text: str) -> None:
        """Post `{"text": text}`; failures are logged without the URL, never raised."""
        log = dg.get_dagster_logger()
        if not self.url:
            log.info(f"no TAXI_WEBHOOK_URL set; not posted: {text}")
            return
        try:
            response = requests.post(self.url, json={"text": text}, timeout=self.timeout_seconds)
            response.raise_for_status()
        except requests.RequestException as e:
            log.warning(f"TAXI_WEBHOOK_URL post failed: {type(e).__name__}")


def run_partition(run: dg.DagsterRun) -> str | None:
    """The partition (or partition range) a run worked on, from its tags."""
    if "dagster/partition" in run.tags:
        return run.tags["dagster/partition"]
    start, end = run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")
    if start is None:
        return None
    return start if start == end else f"{start}...{end}"


def failure_message(run: dg.DagsterRun, step_failures: list[dg.DagsterEvent]) -> str:
    """One message about a failed run: job, partition, run id, and each failed step's error."""
    partition = run_partition(run)
    where = f" for partition {partition}" if partition else ""
    lines = [f"taxi_pipeline: run {run.run_id[:8]} of {run.job_name}{where} failed."]
    for event in step_failures:
        error = event.step_failure_data.error
        # Error messages read "package.module.ExceptionClass: text"; the text is what helps.
        text = re.sub(r"^[\w.]+: ", "", error.message.strip().splitlines()[0]) if error else "failed"
        lines.append(f"- {event.step_key}: {text}")
    return "\n".join(lines)
