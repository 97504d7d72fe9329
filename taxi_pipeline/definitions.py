"""The code location: the trip assets, partitioned by the source's services and months, wired to
the resources of the target the settings select; the settings are read once, when Dagster loads it."""

from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from taxi_pipeline.cli import known_notices_silenced, remember_step_failure
from taxi_pipeline.partitions import build_trip_partitions, course_partitions
from taxi_pipeline.settings import Settings


@dataclass(frozen=True)
class TripAssets:
    """The monthly chain over one partitions definition, and the audit checks of its staged files."""

    partitions_def: dg.MultiPartitionsDefinition
    assets: list[dg.AssetsDefinition]
    checks: list[dg.AssetChecksDefinition]


def build_trip_assets(
    partitions_def: dg.MultiPartitionsDefinition = course_partitions,
    raw_file_format: str = "csv.gz",
    row_drop=None,
) -> TripAssets:
    """`raw_trips` -> `cleaned_trips` (audited, its rows held to `row_drop` against the previous
    publication) -> `lake_trips_parquet` -> `warehouse_trips`, for `raw_file_format` files."""
    from taxi_pipeline.defs.lake.assets import build_lake_asset
    from taxi_pipeline.defs.quality.checks import build_audit_checks
    from taxi_pipeline.defs.source.assets import build_ingest_assets
    from taxi_pipeline.defs.warehouse.assets import build_warehouse_asset
    from taxi_pipeline.lib.quality import DEFAULT_ROW_DROP

    with known_notices_silenced():
        raw_trips, cleaned_trips = build_ingest_assets(partitions_def, raw_file_format)
        return TripAssets(
            partitions_def=partitions_def,
            assets=[raw_trips, cleaned_trips, build_lake_asset(partitions_def), build_warehouse_asset(partitions_def)],
            checks=[build_audit_checks(partitions_def, row_drop or DEFAULT_ROW_DROP)],
        )


def lake_io_managers(lake, raw_file_format: str = "csv.gz") -> dict[str, Any]:
    """The raw-zone (files of `raw_file_format`), staging and published-parquet IO managers of one lake."""
    from taxi_pipeline.defs.lake.files import LAKE_FILE_TEMPLATE, STAGING_FILE_TEMPLATE, raw_file_template
    from taxi_pipeline.defs.lake.io_managers import (
        RawFileIOManagerFactory,
        StagingIOManagerFactory,
        TripsParquetIOManagerFactory,
    )

    return {
        "raw_io_manager": RawFileIOManagerFactory(lake=lake, path_template=raw_file_template(raw_file_format)),
        "staging_io_manager": StagingIOManagerFactory(lake=lake, path_template=STAGING_FILE_TEMPLATE),
        "lake_io_manager": TripsParquetIOManagerFactory(lake=lake, path_template=LAKE_FILE_TEMPLATE),
    }


def warehouse_resource(settings: Settings):
    """The warehouse `TAXI_WAREHOUSE` selects: DuckDB, BigQuery or Postgres, each imported only if selected."""
    if settings.warehouse == "postgres":
        from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url=dg.EnvVar("TAXI_POSTGRES_URL"))
    if settings.warehouse == "bigquery":
        from dagster_gcp import BigQueryResource

        from taxi_pipeline.defs.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(
            bigquery_resource=BigQueryResource(
                project=dg.EnvVar("GCP_PROJECT"),
                location=settings.shown("BQ_LOCATION"),
                gcp_credentials=settings.shown("GCP_CREDENTIALS_B64"),
            ),
            dataset=settings.shown("BQ_DATASET", settings.bq_dataset),
        )
    from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(
        duckdb_resource=DuckDBResource(database=settings.shown("TAXI_DUCKDB_PATH", settings.duckdb_path)),
        lock_wait_seconds=settings.duckdb_lock_wait_seconds,
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    """Every resource and IO manager the assets, sensors and report use, for the settings' target.
    The lake is the folder `TAXI_LAKE_DIR` or the bucket `GCS_BUCKET`. Google credentials:
    Application Default Credentials, or the base64 key `GCP_CREDENTIALS_B64`, for lake and BigQuery."""
    from taxi_pipeline.defs.alerts.webhook import WebhookResource
    from taxi_pipeline.defs.lake.resources import GCSLake, LocalLake
    from taxi_pipeline.defs.source.resources import TripSourceResource

    if settings.target == "gcp":
        lake = GCSLake(bucket=dg.EnvVar("GCS_BUCKET"), gcp_credentials=settings.shown("GCP_CREDENTIALS_B64"))
    else:
        lake = LocalLake(base_path=settings.shown("TAXI_LAKE_DIR", settings.lake_dir))
    return {
        "source": TripSourceResource(
            release=settings.source,
            base_url=settings.shown("TAXI_SOURCE_URL", settings.source_url),
            retry_delay_seconds=settings.source_retry_delay_seconds,
            min_bytes=settings.source_min_bytes,
            rate_window_seconds=settings.source_rate_window_seconds,
        ),
        "webhook": WebhookResource(url=settings.shown("TAXI_WEBHOOK_URL")),
        # The lake itself, for the zone table and the audit's zone ids, beside its IO managers.
        "lake": lake,
        **lake_io_managers(lake, settings.release.file_format),
        "warehouse": warehouse_resource(settings),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for one set of settings; the warehouse assets' kind names the chosen warehouse."""
    with known_notices_silenced():
        from taxi_pipeline.defs.alerts.sensors import run_failure_webhook
        from taxi_pipeline.defs.jobs import build_monthly_trips_schedule, trips_job, zones_job
        from taxi_pipeline.defs.report.assets import report_automation_sensor, trips_per_month
        from taxi_pipeline.defs.source.sensors import build_new_month_sensor, build_republished_month_sensor
        from taxi_pipeline.defs.warehouse.assets import taxi_zones

        release = settings.release
        trips = build_trip_assets(
            build_trip_partitions(release, settings.first_month), release.file_format, settings.row_drop
        )
    uses_warehouse = {dg.AssetKey("warehouse_trips"), taxi_zones.key, trips_per_month.key}
    assets = dg.map_asset_specs(
        lambda spec: spec.merge_attributes(kinds={settings.warehouse}) if spec.key in uses_warehouse else spec,
        [*trips.assets, taxi_zones, trips_per_month],
    )
    # Every step notes why it failed, for the last line of `taxi-pipeline` (cli.py).
    assets = [a.with_hooks({remember_step_failure}) if isinstance(a, dg.AssetsDefinition) else a for a in assets]
    return dg.Definitions(
        assets=assets,
        asset_checks=[check.with_hooks({remember_step_failure}) for check in trips.checks],
        jobs=[trips_job, zones_job],
        schedules=[build_monthly_trips_schedule(trips.partitions_def)],
        sensors=[
            build_new_month_sensor(trips.partitions_def, release),
            build_republished_month_sensor(release, settings.republish_check_interval_seconds),
            run_failure_webhook,
            report_automation_sensor,
        ],
        resources=build_resources(settings),
        # Runs are one partition each (no step processes to start); backfills run many runs at once.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location, for the settings of the environment."""
    return build_definitions(Settings.from_environment())
