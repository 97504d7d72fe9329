"""The production warehouse: `trips` in BigQuery, partitioned by month on `source_month` and
clustered by `color`; each slice is loaded into a staging table, then swapped in by one transaction."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import google.auth.exceptions
from dagster_gcp import BigQueryResource
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.warehouse.contract import (
    PREVIEW_ROWS,
    SliceLoad,
    WarehouseResource,
    missing_columns,
    slice_mismatch,
)
from taxi_pipeline.errors import SettingError
from taxi_pipeline.lib.parquet import lake_file_columns
from taxi_pipeline.lib.zones import read_zone_file
from taxi_pipeline.schema import CANONICAL_COLUMNS, SQL_TYPES, ZONES_SCHEMA, sql_columns

SLICE = "color = @color AND source_month = @source_month"
# The API's legacy names of standard SQL types, as table and query schemas report them.
_STANDARD_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}


def trips_table_schema(names: list[str] | None = None) -> list[bigquery.SchemaField]:
    """The canonical columns as BigQuery columns (only `names`, in canonical order, when given)."""
    return [
        bigquery.SchemaField(c.name, SQL_TYPES["bigquery"][c.type], description=c.description)
        for c in CANONICAL_COLUMNS
        if names is None or c.name in names
    ]


def column_types(schema: list[bigquery.SchemaField]) -> list[tuple[str, str]]:
    """(name, standard SQL type) of a table's or a query's columns."""
    return [(f.name, _STANDARD_TYPE_NAMES.get(f.field_type, f.field_type)) for f in schema]


def slice_parameters(color: str, source_month: date, **more) -> bigquery.QueryJobConfig:
    """A query's configuration with `@color`, `@source_month` (`SLICE`) and `more` (name: (type,
    value)) as query parameters."""
    values = {"color": ("STRING", color), "source_month": ("DATE", source_month), **more}
    return bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(name, kind, value) for name, (kind, value) in values.items()]
    )


def literal_uri(lake_file: UPath) -> str:
    """The gs:// URI of a lake file for a load job; ValueError for a `*`, a wildcard there with no
    escape (`?` and `[ ]` are taken literally)."""
    if lake_file.protocol != "gs":
        raise ValueError(f"BigQuery loads lake files from gs:// only, got {lake_file}")
    if "*" in lake_file.path:
        raise ValueError(
            f"{lake_file}: a BigQuery load job reads '*' in a gs:// URI as a wildcard and would load every object it "
            "matches; rename the folder without '*'"
        )
    return str(lake_file)


class BigQueryWarehouse(WarehouseResource):
    """`$GCP_PROJECT.$BQ_DATASET.trips`, loaded from the lake's gs:// files."""

    bigquery_resource: BigQueryResource = Field(
        description="Project (GCP_PROJECT), location (BQ_LOCATION) and credentials (GCP_CREDENTIALS_B64, or ADC)"
    )
    dataset: str = Field(description="BigQuery dataset (BQ_DATASET)")
    create_dataset: bool = Field(default=True, description="Create the dataset when it is missing")

    @property
    def project(self) -> str:
        return self.bigquery_resource.project

    @property
    def table_id(self) -> str:
        return f"{self.project}.{self.dataset}.trips"

    @property
    def loads_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.loads"

    @property
    def zones_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.zones"

    @contextmanager
    def _client(self) -> Iterator[bigquery.Client]:
        """A client; a credential failure becomes an error naming the settings."""
        try:
            with self.bigquery_resource.get_client() as client:
                yield client
        except google.auth.exceptions.GoogleAuthError as e:
            raise SettingError(
                f"Google credentials for BigQuery are missing or invalid ({type(e).__name__}): set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, GCP_CREDENTIALS_B64 to a base64 key, "
                "or run `gcloud auth application-default login`"
            ) from None
        except gexc.Forbidden as e:
            raise SettingError(
                f"BigQuery refused access to {self.table_id} (GCP_PROJECT/BQ_DATASET): {e.message}; the credentials "
                "need roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project"
            ) from None

    def _ensure_dataset(self, client: bigquery.Client) -> None:
        """The dataset, created (in the client's location, BQ_LOCATION) when missing unless `create_dataset` is off."""
        dataset_id = f"{self.project}.{self.dataset}"
        try:
            client.get_dataset(dataset_id)
        except gexc.NotFound:
            if not self.create_dataset:
                raise SettingError(f"BigQuery dataset {dataset_id} (GCP_PROJECT/BQ_DATASET) does not exist") from None
            client.create_dataset(dataset_id, exists_ok=True)

    def _ensure_table(self, client: bigquery.Client, conform: bool = True) -> None:
        """`trips` and `loads` created where missing; for a load, `trips` checked and given the columns it lacks."""
        self._ensure_dataset(client)
        table = bigquery.Table(self.table_id, schema=trips_table_schema())
        table.time_partitioning = bigquery.TimePartitioning(bigquery.TimePartitioningType.MONTH, field="source_month")
        table.clustering_fields = ["color"]
        table.description = "NYC taxi trips of every color and month; one slice per (color, source_month)"
        table = client.create_table(table, exists_ok=True)
        loads = [
            bigquery.SchemaField("color", "STRING", mode="REQUIRED"),
            bigquery.SchemaField("source_month", "DATE", mode="REQUIRED"),
            bigquery.SchemaField("source", "STRING", description="The release: course or tlc"),
            bigquery.SchemaField("sha256", "STRING", description="Of the lake file loaded"),
            bigquery.SchemaField("rows", "INT64", mode="REQUIRED"),
            bigquery.SchemaField("loaded_at", "TIMESTAMP", mode="REQUIRED"),
        ]
        client.create_table(bigquery.Table(self.loads_table_id, schema=loads), exists_ok=True)
        if not conform:
            return
        fix = (
            "Rename the table (ALTER TABLE `{table}` RENAME TO {name}_old) and load again: the load creates a "
            "canonical table (BigQuery cannot change {column} to {canonical} in place)."
        )
        where = f"BigQuery dataset {self.project}.{self.dataset}"
        if missing := missing_columns(where, self.table_id, column_types(table.schema), sql_columns("bigquery"), fix):
            adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {name} {kind}" for name, kind in missing)
            client.query(f"ALTER TABLE `{self.table_id}` {adds}").result()

    def load_slice(self, lake_file: UPath, color: str, source_month: date, origin=None) -> SliceLoad:
        uri = literal_uri(lake_file)
        file_columns = lake_file_columns(lake_file)  # an older schema version's lacks the newest: null
        columns = ", ".join(file_columns)
        key = slice_parameters(color, source_month)
        with self._client() as client:

            def query(sql: str, config: bigquery.QueryJobConfig = key):
                return client.query(sql, job_config=config).result()

            self._ensure_table(client)
            staging_id = f"{self.project}.{self.dataset}._trips_load_{color}_{source_month:%Y%m}"
            staging = bigquery.Table(staging_id, schema=trips_table_schema(file_columns))
            staging.expires = datetime.now(UTC) + timedelta(hours=24)  # if a killed run leaves it behind
            client.delete_table(staging_id, not_found_ok=True)
            client.create_table(staging)
            try:
                config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, schema=staging.schema)
                load_job = client.load_table_from_uri(uri, staging_id, job_config=config).result()
                [staged] = query(f"SELECT COUNT(*) AS n, COUNTIF(NOT ({SLICE})) AS stray FROM `{staging_id}`")
                if staged.stray:
                    raise slice_mismatch(lake_file, staged.stray, staged.n, color, source_month)
                [before] = query(
                    f"SELECT (SELECT COUNT(*) FROM `{self.table_id}` WHERE {SLICE}) AS n, "
                    f"(SELECT ANY_VALUE(source) FROM `{self.loads_table_id}` WHERE {SLICE}) AS source"
                )
                if origin:
                    origin.check_still_published()
                # One transaction: if any statement fails, BigQuery rolls the whole script back.
                swap = client.query(
                    "BEGIN TRANSACTION;\n"
                    f"DELETE FROM `{self.table_id}` WHERE {SLICE};\n"
                    f"INSERT INTO `{self.table_id}` ({columns}) SELECT {columns} FROM `{staging_id}`;\n"
                    f"DELETE FROM `{self.loads_table_id}` WHERE {SLICE};\n"
                    f"INSERT INTO `{self.loads_table_id}` (color, source_month, source, sha256, `rows`, loaded_at) "
                    "VALUES (@color, @source_month, @source, @sha256, @rows, CURRENT_TIMESTAMP());\n"
                    "COMMIT TRANSACTION;",
                    job_config=slice_parameters(
                        color,
                        source_month,
                        source=("STRING", origin and origin.source),
                        sha256=("STRING", origin and origin.sha256),
                        rows=("INT64", staged.n),
                    ),
                )
                swap.result()
            finally:
                client.delete_table(staging_id, not_found_ok=True)
            [after] = query(f"SELECT COUNT(*) AS n FROM `{self.table_id}` WHERE {SLICE}")
            # The slice as the table holds it now; the query's schema is the table's columns.
            preview_rows = query(f"SELECT * FROM `{self.table_id}` WHERE {SLICE} LIMIT {PREVIEW_ROWS}")
            preview = preview_rows.to_arrow(create_bqstorage_client=False)
        return SliceLoad(
            table=self.table_id,
            rows_loaded=staged.n,
            rows_replaced=before.n,
            slice_rows=after.n,
            column_types=tuple(column_types(preview_rows.schema)),
            preview=preview,
            job_id=load_job.job_id,
            bytes_processed=swap.total_bytes_processed,
            previous_source=before.source,
        )

    def _read(self, sql: str) -> list[tuple]:
        with self._client() as client:
            self._ensure_table(client, conform=False)
            tables = {"trips": f"`{self.table_id}`", "loads": f"`{self.loads_table_id}`"}
            return [tuple(row.values()) for row in client.query(sql.format(**tables)).result()]

    def replace_zones(self, csv_file: UPath) -> int:
        """One load job (WRITE_TRUNCATE; by default no bad record), which BigQuery commits atomically."""
        uri = literal_uri(csv_file)
        read_zone_file(csv_file)  # refuses a bad file before the table is touched
        with self._client() as client:
            self._ensure_dataset(client)
            client.load_table_from_uri(
                uri,
                self.zones_table_id,
                job_config=bigquery.LoadJobConfig(
                    source_format=bigquery.SourceFormat.CSV,
                    skip_leading_rows=1,
                    schema=[  # location_id required
                        bigquery.SchemaField(name, kind, mode="REQUIRED" if name == "location_id" else "NULLABLE")
                        for name, kind in sql_columns("bigquery", ZONES_SCHEMA)
                    ],
                    write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                ),
            ).result()
            return client.get_table(self.zones_table_id).num_rows
