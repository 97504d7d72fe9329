"""Resources and IO managers per target: the assets stay the same, the parts they use differ."""

from collections.abc import Callable
from typing import Any

import dagster as dg

from taxi_pipeline.io_managers import LAKE_FILE_TEMPLATE, RAW_FILE_TEMPLATE, STAGING_FILE_TEMPLATE
from taxi_pipeline.io_managers.parquet import TripsParquetIOManagerFactory
from taxi_pipeline.io_managers.raw_file import RawFileIOManagerFactory
from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline.resources.lake import GCSLake, LakeResource, LocalLake
from taxi_pipeline.resources.notify import WebhookResource
from taxi_pipeline.resources.source import TripSourceResource
from taxi_pipeline.settings import (
    DEFAULT_BQ_DATASET,
    DEFAULT_DUCKDB_PATH,
    DEFAULT_LAKE_DIR,
    DEFAULT_SOURCE_URL,
    env_setting,
    optional_env_setting,
    warehouse_kind,
)
from taxi_pipeline.resources.warehouse import WarehouseResource


def lake_io_managers(lake: LakeResource) -> dict[str, Any]:
    """The raw-zone, staging and published-parquet IO managers of one lake."""
    return {
        "raw_io_manager": RawFileIOManagerFactory(lake=lake, path_template=RAW_FILE_TEMPLATE),
        "staging_io_manager": TripsParquetIOManagerFactory(lake=lake, path_template=STAGING_FILE_TEMPLATE),
        "lake_io_manager": TripsParquetIOManagerFactory(lake=lake, path_template=LAKE_FILE_TEMPLATE),
    }


def common_resources() -> dict[str, Any]:
    """The source of the monthly files and the failure webhook, the same for every target."""
    return {
        "source": TripSourceResource(base_url=env_setting("TAXI_SOURCE_URL", DEFAULT_SOURCE_URL)),
        "webhook": WebhookResource(url=optional_env_setting("TAXI_WEBHOOK_URL")),
    }


def postgres_warehouse() -> WarehouseResource:
    """The Postgres warehouse at `$TAXI_POSTGRES_URL` (`TAXI_WAREHOUSE=postgres`, either target)."""
    # Imported here, like BigQuery's: only a run that loads into Postgres pays for psycopg.
    from taxi_pipeline.resources.postgres_warehouse import PostgresWarehouse

    return PostgresWarehouse(url=dg.EnvVar("TAXI_POSTGRES_URL"))


def local_resources() -> dict[str, Any]:
    """Lake in a folder, warehouse in a DuckDB file (nothing to start, nothing to configure),
    or in Postgres with `TAXI_WAREHOUSE=postgres`."""
    if warehouse_kind("local") == "postgres":
        warehouse = postgres_warehouse()
    else:
        warehouse = DuckDBWarehouse(database=env_setting("TAXI_DUCKDB_PATH", DEFAULT_DUCKDB_PATH))
    return {
        **common_resources(),
        **lake_io_managers(LocalLake(base_path=env_setting("TAXI_LAKE_DIR", DEFAULT_LAKE_DIR))),
        "warehouse": warehouse,
    }


def gcp_resources() -> dict[str, Any]:
    """Lake in the GCS bucket `$GCS_BUCKET`, warehouse in BigQuery `$GCP_PROJECT.$BQ_DATASET.trips`
    (or in Postgres with `TAXI_WAREHOUSE=postgres`, reading the gs:// lake files).

    Credentials come from the environment: Application Default Credentials
    (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud, or the attached service account), or a base64
    service-account key in `GCP_CREDENTIALS_B64`.
    """
    credentials = optional_env_setting("GCP_CREDENTIALS_B64")
    if warehouse_kind("gcp") == "postgres":
        warehouse = postgres_warehouse()
    else:
        # Imported here: the Google client libraries take ~1.5 s to import, which every run of
        # the local target would otherwise pay.
        from taxi_pipeline.resources.bigquery_warehouse import BigQueryWarehouse

        warehouse = BigQueryWarehouse(
            project=dg.EnvVar("GCP_PROJECT"),
            dataset=env_setting("BQ_DATASET", DEFAULT_BQ_DATASET),
            location=optional_env_setting("BQ_LOCATION"),
            gcp_credentials=credentials,
        )
    return {
        **common_resources(),
        **lake_io_managers(GCSLake(bucket=dg.EnvVar("GCS_BUCKET"), gcp_credentials=credentials)),
        "warehouse": warehouse,
    }


RESOURCES_BY_TARGET: dict[str, Callable[[], dict[str, Any]]] = {"local": local_resources, "gcp": gcp_resources}
