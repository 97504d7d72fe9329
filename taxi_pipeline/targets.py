"""Resources and IO managers per target, built from the settings: the assets stay the same, the
parts they use differ."""

from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from taxi_pipeline.io_managers.parquet import StagingIOManagerFactory, TripsParquetIOManagerFactory
from taxi_pipeline.io_managers.raw_file import RawFileIOManagerFactory
from taxi_pipeline.lake import LAKE_FILE_TEMPLATE, STAGING_FILE_TEMPLATE, raw_file_template
from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline.resources.lake import GCSLake, LakeResource, LocalLake
from taxi_pipeline.resources.notify import WebhookResource
from taxi_pipeline.resources.source import TripSourceResource
from taxi_pipeline.resources.warehouse import WarehouseResource
from taxi_pipeline.settings import Settings


def lake_io_managers(lake: LakeResource, raw_file_format: str = "csv.gz") -> dict[str, Any]:
    """The raw-zone, staging and published-parquet IO managers of one lake; the raw zone keeps
    files of `raw_file_format`, the source's (csv.gz for the course's mirror, parquet for the TLC).

    The raw and staging zones take files their step wrote and move them in (staging one file per
    content); the lake publishes the audited staged file, which stays in staging, by copying it.
    """
    return {
        "raw_io_manager": RawFileIOManagerFactory(lake=lake, path_template=raw_file_template(raw_file_format)),
        "staging_io_manager": StagingIOManagerFactory(lake=lake, path_template=STAGING_FILE_TEMPLATE),
        "lake_io_manager": TripsParquetIOManagerFactory(lake=lake, path_template=LAKE_FILE_TEMPLATE, keep_source=True),
    }


def lake_resource(settings: Settings) -> LakeResource:
    """The lake of the target: the folder `TAXI_LAKE_DIR`, or the bucket `GCS_BUCKET`."""
    if settings.target == "gcp":
        return GCSLake(bucket=dg.EnvVar("GCS_BUCKET"), gcp_credentials=settings.secret("GCP_CREDENTIALS_B64"))
    return LocalLake(base_path=settings.shown("TAXI_LAKE_DIR", settings.lake_dir))


def warehouse_resource(settings: Settings) -> WarehouseResource:
    """The warehouse `TAXI_WAREHOUSE` selects: DuckDB, BigQuery or Postgres."""
    if settings.warehouse == "postgres":
        # Imported here, like BigQuery's: only a code location that loads into Postgres pays
        # for psycopg.
        from taxi_pipeline.resources.postgres_warehouse import PostgresWarehouse

        return PostgresWarehouse(url=dg.EnvVar("TAXI_POSTGRES_URL"))
    if settings.warehouse == "bigquery":
        # Imported here: the Google client libraries take ~1.5 s to import, which every run of
        # the local target would otherwise pay.
        from dagster_gcp import BigQueryResource

        from taxi_pipeline.resources.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(
            bigquery_resource=BigQueryResource(
                project=dg.EnvVar("GCP_PROJECT"),
                location=settings.shown("BQ_LOCATION", None),
                gcp_credentials=settings.secret("GCP_CREDENTIALS_B64"),
            ),
            dataset=settings.shown("BQ_DATASET", settings.bq_dataset),
        )
    return DuckDBWarehouse(
        duckdb_resource=DuckDBResource(database=settings.shown("TAXI_DUCKDB_PATH", settings.duckdb_path)),
        lock_wait_seconds=settings.duckdb_lock_wait_seconds,
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    """Every resource and IO manager the assets, sensors and report use, for the settings' target.

    Credentials come from the environment: Application Default Credentials
    (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud, or the attached service account), or a base64
    service-account key in `GCP_CREDENTIALS_B64`, handed to the lake and BigQuery alike.
    """
    lake = lake_resource(settings)
    return {
        "source": TripSourceResource(
            release=settings.shown("TAXI_SOURCE", settings.source),
            base_url=settings.shown("TAXI_SOURCE_URL", settings.source_url),
            retry_delay_seconds=settings.source_retry_delay_seconds,
            min_bytes=settings.source_min_bytes,
            rate_window_seconds=settings.source_rate_window_seconds,
        ),
        "webhook": WebhookResource(url=settings.secret("TAXI_WEBHOOK_URL")),
        # The lake itself, for the zone table's asset and the audit's zone ids (one file, not a
        # partition: no IO manager of its own), beside the IO managers built from it.
        "lake": lake,
        **lake_io_managers(lake, settings.release.file_format),
        "warehouse": warehouse_resource(settings),
    }
