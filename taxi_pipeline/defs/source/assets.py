"""`raw_trips` (a month's file as published) and `cleaned_trips` (the month in the canonical schema)."""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import partial
from typing import Any

import dagster as dg
import pyarrow as pa
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import StagedFile, file_sha256, local_part_file, raw_file_template, zone_path
from taxi_pipeline.defs.lake.io_managers import run_materialization
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.defs.metadata import canonical_table_schema, table_preview, versioned_output
from taxi_pipeline.defs.retries import not_retried, retried_on_error
from taxi_pipeline.defs.source.releases import RELEASES
from taxi_pipeline.defs.source.resources import VALIDATORS, TripSourceResource, UnchangedFile, describe_bytes
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.convert import convert_parquet_to_lake, convert_to_lake_parquet
from taxi_pipeline.lib.parse import DEFAULT_MAX_MALFORMED_SHARE
from taxi_pipeline.lib.source_file import NotATripFileError, TripFileFacts, check_downloaded_file
from taxi_pipeline.partitions import one_partition_per_run, split_partition_key
from taxi_pipeline.settings import redact_url

GROUP = "nyc_taxi"
PROGRESS_EVERY_SECONDS = 10.0
# What the raw zone's IO manager and a download write anew on each materialization.
PER_DOWNLOAD = ("path", "bytes", "download_seconds", "downloaded_bytes", "unchanged")


def download_failures(
    context: dg.AssetExecutionContext, source: TripSourceResource, describe: Callable[[Exception], str] = str
) -> AbstractContextManager:
    """`retried_on_error` around a download: 3 retries from the source's delay (TAXI_SOURCE_RETRY_DELAY)."""
    return retried_on_error(context, source.retry_delay_seconds, 3, describe)


def size_metadata(facts: TripFileFacts) -> dict[str, int | str]:
    """The raw file's uncompressed size in bytes and readable (`128.3 MiB`), named by what it counts."""
    name, size = facts.uncompressed_name, facts.uncompressed_bytes
    return {f"{name}_bytes": size, f"{name}_size": describe_bytes(size)}


def generated_metadata(facts: TripFileFacts) -> dict[str, str]:
    """`generated`, the offline mirror's note, for a file it generated; nothing for a published file."""
    return {"generated": facts.generated} if facts.generated else {}


class DownloadConfig(dg.Config):
    """Run configuration of `raw_trips` (set it in the launchpad or with `--config`)."""

    force_download: bool = Field(
        default=False, description="Download the month's file even if the source says it is unchanged"
    )


def last_download(instance: dg.DagsterInstance, partition_key: str, url: str) -> dict[str, Any]:
    """The metadata values of the partition's latest `raw_trips` if it came from `url`, else {}:
    another source's (or mirror's) validators say nothing of this one's file."""
    last = run_materialization(instance, None, dg.AssetKey("raw_trips"), partition_key)
    values = {key: value.value for key, value in last.metadata.items()} if last else {}
    return values if values.get("source_url") == url else {}


def reusable_download(
    context: dg.AssetExecutionContext, config: DownloadConfig, kept: UPath, url: str
) -> dict[str, Any] | None:
    """The metadata of the partition's last download from `url`, if the raw zone still holds its
    bytes (`kept`, hashed) and no fresh download is forced; None (and why, logged) otherwise."""
    values = last_download(context.instance, context.partition_key, url)
    if "sha256" not in values:
        return None
    if config.force_download:
        context.log.info("force_download is set: downloading the file again")
    elif not kept.exists():
        context.log.warning(f"{kept} is missing from the raw zone: downloading the file again")
    elif (sha256 := file_sha256(kept)) != values["sha256"]:
        context.log.warning(
            f"{kept} holds sha256 {sha256[:12]}…, not the {values['sha256'][:12]}… downloaded: downloading it again"
        )
    else:
        return values
    return None


def unchanged_output(
    context: dg.AssetExecutionContext, kept: UPath, last: dict[str, Any], validators: dict[str, str], how: str
) -> dg.Output[UPath]:
    """The raw zone's own file as the output, its data version and metadata those of the last
    download (the validators as the source gave them now), saying since when it is unchanged."""
    since = validators.get("last_modified") or last.get("downloaded_at") or "its last download"
    context.log.info(f"{kept.name} is unchanged since {since} ({how}): kept as it is, nothing downloaded")
    carried = {key: value for key, value in last.items() if key not in (*PER_DOWNLOAD, *VALIDATORS)}
    metadata = carried | validators | {"unchanged": f"unchanged since {since}: {how}", "downloaded_bytes": 0}
    metadata["source_url"] = dg.MetadataValue.url(last["source_url"])
    return versioned_output(kept, last["sha256"], metadata)


class CleaningConfig(dg.Config):
    """Run configuration of `cleaned_trips` (set it in the launchpad or with `--config`)."""

    max_malformed_share: float = Field(
        default=DEFAULT_MAX_MALFORMED_SHARE,
        ge=0.0,
        le=1.0,
        description="Share of a file's rows that may be malformed (dropped and reported) before the run fails",
    )


def build_ingest_assets(
    partitions_def: dg.PartitionsDefinition, file_format: str
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """`raw_trips` and `cleaned_trips` over `partitions_def`, for a source of `file_format` files."""
    monthly = partial(dg.asset, partitions_def=partitions_def, backfill_policy=one_partition_per_run, group_name=GROUP)

    @monthly(io_manager_key="raw_io_manager", kinds={file_format.removesuffix(".gz")})  # csv or parquet
    def raw_trips(
        context: dg.AssetExecutionContext, config: DownloadConfig, source: TripSourceResource, lake: LakeResource
    ) -> dg.Output:  # a local file downloaded, or the raw zone's own, local or in a bucket
        """The month's trip file exactly as published (the course's CSV.gz, or the TLC's parquet),
        kept in the lake's raw zone at `raw/{color}/{color}_tripdata_{YYYY-MM}.{csv.gz|parquet}`,
        with its source, URL, sha256, Last-Modified and ETag; its data version is its sha256. The
        source is asked conditionally: a file it says is unchanged is kept as it is, not downloaded."""
        color, month = split_partition_key(context.partition_key)
        release = source.trip_release
        kept = lake.root() / zone_path(raw_file_template(release.file_format), color, month)
        last = reusable_download(context, config, kept, redact_url(source.file_url(color, month)))
        started = last_report = time.monotonic()

        def report_progress(written: int) -> None:
            # Called on every read from the source, so a slow source is reported however few bytes it sends.
            nonlocal last_report
            if (now := time.monotonic()) - last_report >= PROGRESS_EVERY_SECONDS:
                last_report, rate = now, written / (now - started)
                context.log.info(
                    f"downloaded {describe_bytes(written)} of {color} {month:%Y-%m} in {now - started:.0f} s "
                    f"({describe_bytes(rate)}/s)"
                )

        with local_part_file(f"{color}_tripdata_{month:%Y-%m}.", f".{release.file_format}.part") as local:
            with download_failures(context, source):
                validators = last and {k: last[k] for k in VALIDATORS if k in last}
                downloaded = source.download(color, month, local, report_progress, unless_same_as=validators)
                if isinstance(downloaded, UnchangedFile):
                    return unchanged_output(context, kept, last, downloaded.validators, downloaded.how)
                if last and downloaded.sha256 == last["sha256"]:
                    how = f"the same sha256 after downloading {downloaded.bytes:,} bytes"
                    if not any(k in downloaded.validators for k in ("etag", "last_modified")):
                        how += " (the source sends neither ETag nor Last-Modified to ask it conditionally)"
                    return unchanged_output(context, kept, last, downloaded.validators, how)
                try:
                    facts = check_downloaded_file(local, release.file_format)
                except NotATripFileError as e:
                    raise PermanentError(f"{color} {month:%Y-%m}: {downloaded.url} is not a trip file: {e}") from None
        seconds = time.monotonic() - started
        context.log.info(f"downloaded {downloaded.bytes:,} bytes from {downloaded.url} in {seconds:.1f} s")
        if facts.generated:
            context.log.warning(f"{color} {month:%Y-%m} is a generated file, not the release's: {facts.generated}")
        metadata = {
            "source": release.source_name(bool(facts.generated)),
            "source_url": dg.MetadataValue.url(downloaded.url),
            "sha256": downloaded.sha256,
            "downloaded_bytes": downloaded.bytes,
            "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "download_seconds": round(seconds, 2),
            **downloaded.validators,
            **size_metadata(facts),
            **generated_metadata(facts),
        }
        return versioned_output(local, downloaded.sha256, metadata)

    @monthly(io_manager_key="staging_io_manager", kinds={"pandas", "parquet"})
    def cleaned_trips(
        context: dg.AssetExecutionContext, config: CleaningConfig, raw_trips: UPath
    ) -> dg.Output[StagedFile]:
        """Every trip of the month, typed, in the canonical schema of all sources and services,
        with `color` and `source_month`; missing passenger counts filled with 0 where the service
        publishes them (fhv and fhvhv publish none: null). Loads as a pandas DataFrame with Arrow
        dtypes; rows that cannot be parsed or cast are dropped and counted."""
        color, month = split_partition_key(context.partition_key)
        # The raw zone keeps one file a month, which a run of the same month may replace meanwhile.
        download = run_materialization(context.instance, context.run, dg.AssetKey("raw_trips"), context.partition_key)
        if download is not None and "sha256" in download.metadata:
            expected, actual = download.metadata["sha256"].value, file_sha256(raw_trips)
            if actual != expected:
                raise dg.Failure(
                    description=f"{raw_trips} holds sha256 {actual[:12]}…, not the {expected[:12]}… raw_trips "
                    f"downloaded (another run replaced it): materialize raw_trips for {context.partition_key} again",
                    allow_retries=False,
                )
        release = next(release for release in RELEASES.values() if raw_trips.name.endswith(release.file_format))
        facts = check_downloaded_file(raw_trips, release.file_format)  # the generated mark of these very bytes
        convert = convert_parquet_to_lake if release.file_format == "parquet" else convert_to_lake_parquet
        started = time.monotonic()
        with local_part_file(f"{color}_tripdata_{month:%Y-%m}.", ".parquet.part") as staged, not_retried(context):
            converted = convert(raw_trips, color, month, staged, config.max_malformed_share)
        # The load runs next in this process: give back the buffers Arrow's allocator otherwise keeps.
        pa.default_memory_pool().release_unused()
        report, malformed = converted.report, converted.malformed
        context.log.info(f"converted {converted.rows:,} rows in {time.monotonic() - started:.1f} s")
        if report.has_passenger_count:
            # The course's flow logs these two lines; kept so its users find them.
            context.log.info(f"pre: missing passenger count: {report.missing_passenger_count_before:,}")
            context.log.info(f"post: missing passenger count: {report.missing_passenger_count_after:,}")
            passengers = {
                "missing_passenger_count_before": report.missing_passenger_count_before,
                "missing_passenger_count_after": report.missing_passenger_count_after,
            }
        else:
            context.log.info(f"{color} publishes no passenger count: passenger_count stays null, none is missing")
            passengers = {"passenger_count": "not published by this service: the column is null"}
        if converted.extra_columns:
            context.log.warning(f"ignored columns not in the {color} layout: {', '.join(converted.extra_columns)}")
        if malformed.rows:
            context.log.warning(f"dropped {malformed.rows:,} malformed rows: {malformed.describe()}")
        context.add_output_metadata(
            {
                "dagster/row_count": converted.rows,
                "dagster/column_schema": canonical_table_schema(),
                **passengers,
                "pickups_outside_month": report.pickups_outside_month,
                "null_counts": dg.MetadataValue.json(report.null_counts),
                "malformed_rows": malformed.rows,
                "malformed_by_reason": dg.MetadataValue.json(malformed.by_reason),
                "source_encoding": converted.encoding,
                "ignored_columns": dg.MetadataValue.json(converted.extra_columns),
                "preview": table_preview(converted.preview),
                **generated_metadata(facts),
            }
        )
        sha256 = file_sha256(staged)
        return versioned_output(StagedFile(staged, sha256, release.source_name(bool(facts.generated))), sha256)

    return raw_trips, cleaned_trips
