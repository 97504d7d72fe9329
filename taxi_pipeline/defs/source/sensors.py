"""The source's sensors: the new-month sensor asks, per color, whether the months after the latest
loaded one are published yet; the re-published-month sensor asks whether loaded months changed.
Each requests a run for each month it finds."""

import json
from datetime import UTC, date, datetime

import dagster as dg

from taxi_pipeline.defs.jobs import trips_job
from taxi_pipeline.defs.source.assets import last_download
from taxi_pipeline.defs.source.releases import TripRelease
from taxi_pipeline.defs.source.resources import VALIDATORS, TripSourceResource, same_file
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline.partitions import next_month, split_partition_key, trip_partition_key
from taxi_pipeline.settings import redact_url

MAX_MONTHS_CHECKED_PER_COLOR = 3  # HEAD requests per color and tick: cheap, and catches up in steps
MAX_MONTHS_CHECKED_PER_TICK = 24  # HEAD requests per tick of the re-published-month sensor


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


def build_republished_month_sensor(release: TripRelease, minimum_interval_seconds: float) -> dg.SensorDefinition:
    """A sensor requesting a run for each loaded month that `release` re-published since its download."""

    @dg.sensor(
        name="republished_month_sensor",
        job=trips_job,
        minimum_interval_seconds=int(minimum_interval_seconds),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Asks the source (HEAD) whether the loaded months changed since their download, the longest "
            f"unchecked first, {MAX_MONTHS_CHECKED_PER_TICK} a tick, and requests a run for each that did."
        ),
    )
    def republished_month_sensor(
        context: dg.SensorEvaluationContext, source: TripSourceResource
    ) -> dg.SensorResult | dg.SkipReason:
        """Per tick, the loaded months checked longest ago (the cursor: when each was checked)."""
        if source.base_url == release.default_url and release.last_month is not None:
            return dg.SkipReason(
                f"the {release.description} is a fixed copy: nothing in it is ever re-published, nothing asked"
            )
        checked = json.loads(context.cursor or "{}")
        loaded = context.instance.get_materialized_partitions(dg.AssetKey("warehouse_trips"))
        due = sorted(loaded, key=lambda key: (checked.get(key, ""), key))[:MAX_MONTHS_CHECKED_PER_TICK]
        run_requests, now = [], datetime.now(UTC).isoformat()
        for key in due:
            color, month = split_partition_key(key)
            downloaded = last_download(context.instance, key, redact_url(source.file_url(color, month)))
            last = {k: v for k, v in downloaded.items() if k in VALIDATORS}
            checked[key] = now  # answered or not: a month that always fails must not hold the others up
            try:
                served = source.served(color, month)
            except (TransientError, PermanentError) as e:  # the source could not tell
                context.log.warning(f"{key} not checked, asked again in its turn: {e}")
                continue
            if last.get("etag") or last.get("last_modified"):
                republished = not same_file(last, served)
            else:  # a source that sends neither: its size is all a HEAD can compare
                sizes = last.get("file_bytes"), served.get("file_bytes")
                republished = None not in sizes and sizes[0] != sizes[1]
                if not republished:
                    context.log.info(
                        f"{key}: the source sends no ETag or Last-Modified, and its size is the same: "
                        "a run with force_download compares its sha256"
                    )
            if republished:
                change = "; ".join(
                    f"{name} {last.get(name, '-')} -> {served.get(name, '-')}"
                    for name in VALIDATORS
                    if last.get(name) != served.get(name)
                )
                context.log.info(f"{key} was re-published: {change}")
                run_key = f"{key} {served.get('etag') or served.get('last_modified') or served.get('file_bytes')}"
                run_requests.append(
                    dg.RunRequest(run_key=run_key, partition_key=key, tags={"taxi_pipeline/republished": change})
                )
        cursor = json.dumps({key: checked[key] for key in sorted(checked) if key in loaded})
        asked = f"asked about {len(due)} of the {len(loaded)} loaded months"
        skip_reason = None if run_requests else f"{asked}: none was re-published"
        return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip_reason)

    return republished_month_sensor
