"""What the assets that fetch or write a local file share: the file itself, and a download's
failures told apart into Dagster's terms (fail at once, or retry with backoff)."""

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pyarrow as pa
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import StagedFile, file_sha256, naming_the_file
from taxi_pipeline.defs.lake.io_managers import run_materialization
from taxi_pipeline.defs.metadata import canonical_table_schema, table_preview
from taxi_pipeline.defs.retries import INTERRUPTS, retry_later, stop_interrupted_run, stops_when_interrupted
from taxi_pipeline.defs.source.releases import RELEASES, MonthNotOfferedError
from taxi_pipeline.defs.source.resources import (
    MonthNotPublishedError,
    SourceRejectedError,
    TripSourceResource,
    describe_bytes,
)
from taxi_pipeline.lib.clean import CleaningReport
from taxi_pipeline.lib.convert import convert_parquet_to_lake, convert_to_lake_parquet
from taxi_pipeline.lib.parse import DEFAULT_MAX_MALFORMED_SHARE, TripFileError
from taxi_pipeline.lib.source_file import NotATripFileError, check_downloaded_file
from taxi_pipeline.partitions import one_partition_per_run, split_partition_key
from taxi_pipeline.settings import SettingError

DOWNLOAD_MAX_RETRIES = 3
# A retry will not change these: the source cannot have the month or has not published it, the
# source refuses, a setting is wrong.
PERMANENT_SOURCE_ERRORS: tuple[type[Exception], ...] = (
    MonthNotOfferedError,
    MonthNotPublishedError,
    SourceRejectedError,
    SettingError,
)


# Part files (downloads and conversions being written) live in a folder of their own under the
# system temp folder (TMPDIR), one per user, named after the writing process: a process killed
# mid-write (SIGKILL, a crash) leaves its part behind, and the next step to make one removes it.
PARTS_FOLDER = "taxi_pipeline-parts"
_WRITER_PID = re.compile(r"\.pid(\d+)-")


def parts_folder() -> Path:
    """The folder of the part files of this user (created if missing)."""
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    folder = Path(tempfile.gettempdir()) / f"{PARTS_FOLDER}-{user}"
    folder.mkdir(mode=0o755, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's, or no such check here
        return True
    return True


def sweep_dead_parts(folder: Path) -> list[Path]:
    """Remove the part files in `folder` whose writing process no longer exists; the removed."""
    removed = []
    for path in folder.glob("*.part"):
        found = _WRITER_PID.search(path.name)
        if found and not _alive(int(found.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def local_part_file(prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty local file for a step to fill, readable by all like the rest of the lake, in
    `parts_folder()` (swept first of parts left by dead processes); removed when the block
    fails (whatever the reason), left to its IO manager when it succeeds."""
    folder = parts_folder()
    sweep_dead_parts(folder)
    fd, name = tempfile.mkstemp(prefix=f"{prefix}pid{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    path = Path(name)
    path.chmod(0o644)  # mkstemp makes it owner-only
    try:
        with naming_the_file(path):
            yield path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@contextmanager
def download_failures(
    context: dg.AssetExecutionContext,
    source: TripSourceResource,
    permanent: tuple[type[Exception], ...] = PERMANENT_SOURCE_ERRORS,
    describe: Callable[[Exception], str] = str,
) -> Iterator[None]:
    """Around a download: an error in `permanent` fails the step at once with `describe(error)`;
    any other (5xx, resets, timeouts, a full temp disk) is transient and retried with backoff
    from the source's `retry_delay_seconds`: about 1, 3 and 7 times it, each failed attempt
    logged at WARNING with its cause and delay. An interrupt (Ctrl-C, Terminate) stops the run,
    retried neither here nor by the instance's run retries."""
    try:
        yield
    except permanent as e:
        raise dg.Failure(description=describe(e), allow_retries=False) from None
    except INTERRUPTS as e:
        stop_interrupted_run(context, e)
    except Exception as e:
        # The delay's base is a setting (TAXI_SOURCE_RETRY_DELAY), read when the definitions
        # load, so it cannot be an asset's retry_policy, fixed when the module is imported.
        retry_later(context, e, source.retry_delay_seconds, DOWNLOAD_MAX_RETRIES)


GROUP = "nyc_taxi"
PROGRESS_EVERY_SECONDS = 10.0
# The kind tag of the raw file each source publishes.
FILE_KINDS = {"csv.gz": "csv", "parquet": "parquet"}
RAW_TRIPS = dg.AssetKey("raw_trips")


def download_month(context: dg.AssetExecutionContext, source: TripSourceResource) -> dg.Output[Path]:
    """The partition's monthly file downloaded to a local file, with where it came from in the
    materialization's metadata and its sha256 as its data version: a byte-identical download
    keeps the version, so the UI's "changed" means the content changed."""
    color, month = split_partition_key(context.partition_key)
    release = source.trip_release
    started = last_report = time.monotonic()

    def report_progress(written: int) -> None:
        # Called on every read from the source, so a slow source is reported every
        # PROGRESS_EVERY_SECONDS however few bytes it sends.
        nonlocal last_report
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_SECONDS:
            last_report = now
            elapsed = now - started
            context.log.info(
                f"downloaded {describe_bytes(written)} of {color} {month:%Y-%m} in {elapsed:.0f} s "
                f"({describe_bytes(written / elapsed)}/s)"
            )

    def describe(error: Exception) -> str:
        if isinstance(error, NotATripFileError):
            return f"{color} {month:%Y-%m}: {source.safe_file_url(color, month)} is not a trip file: {error}"
        return str(error)

    with local_part_file(f"{color}_tripdata_{month:%Y-%m}.", f".{release.file_format}.part") as local:
        with download_failures(context, source, (*PERMANENT_SOURCE_ERRORS, NotATripFileError), describe):
            downloaded = source.download(color, month, local, on_progress=report_progress)
            check_downloaded_file(local, release.file_format)
    seconds = time.monotonic() - started
    context.log.info(f"downloaded {downloaded.bytes:,} bytes from {downloaded.url} in {seconds:.1f} s")
    metadata = {
        "source": release.name,
        "source_url": dg.MetadataValue.url(downloaded.url),
        "sha256": downloaded.sha256,
        "download_seconds": round(seconds, 2),
    }
    if downloaded.last_modified:
        metadata["last_modified"] = downloaded.last_modified
    if downloaded.etag:
        metadata["etag"] = downloaded.etag
    return dg.Output(local, metadata=metadata, data_version=dg.DataVersion(downloaded.sha256))


class CleaningConfig(dg.Config):
    """Run configuration of `cleaned_trips` (set it in the launchpad or with `--config`)."""

    max_malformed_share: float = Field(
        default=DEFAULT_MAX_MALFORMED_SHARE,
        ge=0.0,
        le=1.0,
        description="Share of a file's rows that may be malformed (dropped and reported) before the run fails",
    )


def check_raw_file_is_downloaded(context: dg.AssetExecutionContext, raw_trips: UPath) -> None:
    """Fail at once unless the raw file holds the bytes this run's `raw_trips` downloaded (or,
    when the run did not download, the latest download's): the raw zone keeps one file a month,
    which a run of the same month at the same time may replace. What is converted is audited in
    any case; this keeps a run from converting another run's download."""
    download = run_materialization(context.instance, context.run, RAW_TRIPS, context.partition_key)
    if download is None or "sha256" not in download.metadata:
        return
    expected, actual = download.metadata["sha256"].value, file_sha256(raw_trips)
    if actual != expected:
        raise dg.Failure(
            description=f"{raw_trips} holds sha256 {actual[:12]}…, not the {expected[:12]}… raw_trips downloaded "
            f"(another run replaced it): materialize raw_trips for {context.partition_key} again",
            allow_retries=False,
        )


def clean_month(context: dg.AssetExecutionContext, config: CleaningConfig, raw_trips: UPath) -> dg.Output[StagedFile]:
    """The partition's raw file (CSV.gz or the TLC's parquet) converted to a local parquet file
    in the canonical schema, with what the conversion found in the metadata; its sha256 names
    it in staging and is its data version."""
    color, month = split_partition_key(context.partition_key)
    check_raw_file_is_downloaded(context, raw_trips)
    convert = convert_parquet_to_lake if raw_trips.name.endswith(".parquet") else convert_to_lake_parquet
    started = time.monotonic()
    part = local_part_file(f"{color}_tripdata_{month:%Y-%m}.", ".parquet.part")
    with part as staged, stops_when_interrupted(context):
        try:
            converted = convert(raw_trips, color, month, staged, config.max_malformed_share)
        except TripFileError as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
    # The load of the month runs next in this same process (the in-process executor): give back
    # the conversion's freed buffers, which Arrow's allocator otherwise keeps (~250 MiB at 7 M rows).
    pa.default_memory_pool().release_unused()
    report, malformed = converted.report, converted.malformed
    context.log.info(f"converted {converted.rows:,} rows in {time.monotonic() - started:.1f} s")
    if report.has_passenger_count:
        # The course's flow logs these two lines; kept so its users find them.
        context.log.info(f"pre: missing passenger count: {report.missing_passenger_count_before:,}")
        context.log.info(f"post: missing passenger count: {report.missing_passenger_count_after:,}")
    else:
        context.log.info(f"{color} publishes no passenger count: passenger_count stays null, none is missing")
    if converted.extra_columns:
        context.log.warning(f"ignored columns not in the {color} layout: {', '.join(converted.extra_columns)}")
    if malformed.rows:
        context.log.warning(f"dropped {malformed.rows:,} malformed rows: {malformed.describe()}")
    context.add_output_metadata(
        {
            "dagster/row_count": converted.rows,
            "dagster/column_schema": canonical_table_schema(),
            **passenger_count_metadata(report),
            "pickups_outside_month": report.pickups_outside_month,
            "null_counts": dg.MetadataValue.json(report.null_counts),
            "malformed_rows": malformed.rows,
            "malformed_by_reason": dg.MetadataValue.json(malformed.by_reason),
            "source_encoding": converted.encoding,
            "ignored_columns": dg.MetadataValue.json(converted.extra_columns),
            "preview": table_preview(converted.preview),
        }
    )
    sha256 = file_sha256(staged)
    source = next(release.name for release in RELEASES.values() if raw_trips.name.endswith(release.file_format))
    return dg.Output(StagedFile(staged, sha256, source), data_version=dg.DataVersion(sha256))


def passenger_count_metadata(report: CleaningReport) -> dict[str, int | str]:
    """The course's missing-passenger-count figures, or, for a service that publishes no passenger
    count (fhv, fhvhv), a line saying so instead of counts of zero."""
    if not report.has_passenger_count:
        return {"passenger_count": "not published by this service: the column is null"}
    return {
        "missing_passenger_count_before": report.missing_passenger_count_before,
        "missing_passenger_count_after": report.missing_passenger_count_after,
    }


def build_ingest_assets(
    partitions_def: dg.PartitionsDefinition, file_format: str
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """`raw_trips` and `cleaned_trips` over `partitions_def`, for a source of `file_format` files."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=one_partition_per_run,
        group_name=GROUP,
        io_manager_key="raw_io_manager",
        kinds={FILE_KINDS[file_format]},
    )
    def raw_trips(context: dg.AssetExecutionContext, source: TripSourceResource) -> dg.Output[Path]:
        """The month's trip file exactly as published (the course's CSV.gz, or the TLC's
        parquet), kept in the lake's raw zone at `raw/{color}/{color}_tripdata_{YYYY-MM}.{csv.gz|parquet}`,
        with its source, URL, sha256 and the server's Last-Modified and ETag; its data version
        is the file's sha256."""
        return download_month(context, source)

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=one_partition_per_run,
        group_name=GROUP,
        io_manager_key="staging_io_manager",
        kinds={"pandas", "parquet"},
    )
    def cleaned_trips(
        context: dg.AssetExecutionContext, config: CleaningConfig, raw_trips: UPath
    ) -> dg.Output[StagedFile]:
        """Every trip of the month, typed and in the canonical schema shared by all sources and
        services, with `color` and `source_month`; missing passenger counts filled with 0 where the service
        publishes them (yellow, green; fhv and fhvhv publish none, the column is null). Loads
        as a pandas DataFrame with Arrow dtypes; rows that cannot be parsed or cast are dropped
        and counted."""
        return clean_month(context, config, raw_trips)

    return raw_trips, cleaned_trips
