"""The production warehouse: a `trips` table in BigQuery, loaded from the lake's gs:// files."""

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
    LOADS_TABLE,
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    RecordedOrigin,
    SliceLoad,
    SliceMismatchError,
    SliceOrigin,
    WarehouseResource,
    schema_error,
    type_mismatches,
)
from taxi_pipeline.lib.parquet import lake_file_columns
from taxi_pipeline.lib.zones import ZoneFileError, read_zone_file
from taxi_pipeline.schema import CANONICAL_COLUMNS, COLORS, SQL_TYPES, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import SettingError

STAGING_TABLE_HOURS = 24  # a staging table left by a killed run expires by itself

# The API's legacy names of standard SQL types, as table and query schemas report them.
_STANDARD_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}

CREDENTIALS_HINT = (
    "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, GCP_CREDENTIALS_B64 to a "
    "base64 key, or run `gcloud auth application-default login`"
)


def trips_table_schema(names: list[str] | None = None) -> list[bigquery.SchemaField]:
    """The canonical schema as BigQuery columns, names kept snake_case as they are (only `names`,
    in canonical order, when given)."""
    return [
        bigquery.SchemaField(c.name, SQL_TYPES["bigquery"][c.type], mode="NULLABLE", description=c.description)
        for c in CANONICAL_COLUMNS
        if names is None or c.name in names
    ]


def column_types(schema: list[bigquery.SchemaField]) -> list[tuple[str, str]]:
    """(name, standard SQL type) of a table's or a query's columns."""
    return [(f.name, _STANDARD_TYPE_NAMES.get(f.field_type, f.field_type)) for f in schema]


def loads_table_schema() -> list[bigquery.SchemaField]:
    """The columns of the table recording each slice's origin, one row a slice."""
    return [
        bigquery.SchemaField("color", "STRING", mode="REQUIRED"),
        bigquery.SchemaField("source_month", "DATE", mode="REQUIRED"),
        bigquery.SchemaField("source", "STRING", description="The release: course or tlc"),
        bigquery.SchemaField("sha256", "STRING", description="Of the lake file loaded"),
        bigquery.SchemaField("rows", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("loaded_at", "TIMESTAMP", mode="REQUIRED"),
    ]


def string_literal(value: str | None) -> str:
    """A GoogleSQL string literal of `value` (NULL for None): backslashes, quotes and line breaks
    escaped."""
    if value is None:
        return "NULL"
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def zones_table_schema() -> list[bigquery.SchemaField]:
    """The taxi zone table's columns in BigQuery; `location_id` is required."""
    return [
        bigquery.SchemaField(name, kind, mode="REQUIRED" if name == "location_id" else "NULLABLE")
        for name, kind in sql_columns("bigquery", ZONES_SCHEMA)
    ]


def literal_uri(lake_file: UPath) -> str:
    """The gs:// URI of a lake file for a load job, which reads it as exactly that object: a `*`
    in a load job's URI is a wildcard, with no escape, so a path holding one raises ValueError
    (`?` and `[ ]` are taken literally)."""
    if lake_file.protocol != "gs":
        raise ValueError(f"BigQuery loads lake files from gs:// only, got {lake_file}")
    if "*" in lake_file.path:
        raise ValueError(
            f"{lake_file}: a BigQuery load job reads '*' in a gs:// URI as a wildcard and would load every object it "
            "matches; rename the folder without '*'"
        )
    return str(lake_file)


def slice_predicate(color: str, source_month: date) -> str:
    """`color = '…' AND source_month = DATE '…'` for one slice.

    Literals, not query parameters: the values come only from the fixed color list and a
    `date`, and literals keep the statement valid inside a multi-statement transaction on
    every BigQuery front end (the emulator the tests use rejects parameters there).
    """
    if color not in COLORS:
        raise ValueError(f"unknown color {color!r}")
    return f"color = '{color}' AND source_month = DATE '{source_month.isoformat()}'"


class BigQueryWarehouse(WarehouseResource):
    """`$GCP_PROJECT.$BQ_DATASET.trips`: partitioned by month on `source_month`, clustered by
    `color`; each slice is load-job'ed from the lake's gs:// parquet into a staging table and
    swapped in with one transaction."""

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
        return f"{self.project}.{self.dataset}.{TRIPS_TABLE}"

    @contextmanager
    def _client(self) -> Iterator[bigquery.Client]:
        """A client; credential and permission failures become errors naming the setting."""
        try:
            with self.bigquery_resource.get_client() as client:
                yield client
        except google.auth.exceptions.GoogleAuthError as e:
            raise SettingError(
                f"Google credentials for BigQuery are missing or invalid ({type(e).__name__}): {CREDENTIALS_HINT}"
            ) from None
        except gexc.Forbidden as e:
            raise SettingError(
                f"BigQuery refused access to {self.table_id} (GCP_PROJECT/BQ_DATASET): {e.message}; "
                "the credentials need roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on "
                "the project"
            ) from None

    def _ensure_dataset(self, client: bigquery.Client) -> None:
        """The dataset, created (in `location`) when missing unless `create_dataset` is off."""
        dataset_id = f"{self.project}.{self.dataset}"
        try:
            client.get_dataset(dataset_id)
        except gexc.NotFound:
            if not self.create_dataset:
                raise SettingError(f"BigQuery dataset {dataset_id} (GCP_PROJECT/BQ_DATASET) does not exist") from None
            dataset = bigquery.Dataset(dataset_id)
            if self.bigquery_resource.location:
                dataset.location = self.bigquery_resource.location
            client.create_dataset(dataset, exists_ok=True)

    def _ensure_table(self, client: bigquery.Client, conform: bool = True) -> None:
        """`trips` and `loads` created where missing; for a load (`conform`), `trips` checked
        against the canonical column types (`WarehouseSchemaError`) and given the columns it
        lacks. A read skips that: a column of another type does not mislead it."""
        self._ensure_dataset(client)
        table = bigquery.Table(self.table_id, schema=trips_table_schema())
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.MONTH, field="source_month"
        )
        table.clustering_fields = ["color"]
        table.description = "NYC taxi trips of every color and month; one slice per (color, source_month)"
        table = client.create_table(table, exists_ok=True)
        client.create_table(bigquery.Table(self.loads_table_id, schema=loads_table_schema()), exists_ok=True)
        if not conform:
            return
        if mismatches := type_mismatches(column_types(table.schema), sql_columns("bigquery")):
            name, _, wanted = mismatches[0]
            raise schema_error(
                f"BigQuery dataset {self.project}.{self.dataset}",
                self.table_id,
                mismatches,
                f"Rename the table (ALTER TABLE `{self.table_id}` RENAME TO {TRIPS_TABLE}_old) and load again: the "
                f"load creates a canonical table (BigQuery cannot change {name} to {wanted} in place).",
            )
        # A table made by an older release: add the columns it lacks, in place (DDL that real
        # BigQuery runs as a metadata change; the rows there read null in the new columns).
        present = {field.name for field in table.schema}
        missing = [field for field in trips_table_schema() if field.name not in present]
        if missing:
            # One statement per column, as one script: the emulator the tests use takes one ALTER
            # command per statement, and real BigQuery takes either.
            client.query(
                "\n".join(
                    f"ALTER TABLE `{self.table_id}` ADD COLUMN IF NOT EXISTS {f.name} {f.field_type};" for f in missing
                )
            ).result()

    @property
    def loads_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.{LOADS_TABLE}"

    def _create_staging_table(self, client: bigquery.Client, color: str, source_month: date, columns: list[str]) -> str:
        staging_id = f"{self.project}.{self.dataset}._{TRIPS_TABLE}_load_{color}_{source_month:%Y%m}"
        staging = bigquery.Table(staging_id, schema=trips_table_schema(columns))
        staging.expires = datetime.now(UTC) + timedelta(hours=STAGING_TABLE_HOURS)
        client.delete_table(staging_id, not_found_ok=True)
        client.create_table(staging)
        return staging_id

    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the (color, source_month) slice with the rows of the lake file, and its row of
        `loads`, in one multi-statement transaction. With no `origin`, the slice's `loads` row has
        a null source and sha256."""
        uri = literal_uri(lake_file)
        predicate = slice_predicate(color, source_month)
        # A lake file of an older schema version lacks the newest columns: they load as null.
        file_columns = lake_file_columns(lake_file)
        columns = ", ".join(file_columns)
        with self._client() as client:
            self._ensure_table(client)
            staging_id = self._create_staging_table(client, color, source_month, file_columns)
            try:
                load_job = client.load_table_from_uri(
                    uri,
                    staging_id,
                    job_config=bigquery.LoadJobConfig(
                        source_format=bigquery.SourceFormat.PARQUET,
                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                        schema=trips_table_schema(file_columns),
                    ),
                )
                load_job.result()
                [staged] = client.query(
                    f"SELECT COUNT(*) AS n, COUNTIF(NOT ({predicate})) AS stray FROM `{staging_id}`"
                ).result()
                if staged.stray:
                    raise SliceMismatchError(
                        f"{lake_file}: {staged.stray} of {staged.n} rows are not {color} {source_month:%Y-%m}"
                    )
                [before] = client.query(
                    f"SELECT (SELECT COUNT(*) FROM `{self.table_id}` WHERE {predicate}) AS n, "
                    f"(SELECT ANY_VALUE(source) FROM `{self.loads_table_id}` WHERE {predicate}) AS source"
                ).result()
                if origin and origin.check_still_published:
                    origin.check_still_published()
                # One transaction: if any statement fails, BigQuery rolls the whole script back.
                swap = client.query(
                    "BEGIN TRANSACTION;\n"
                    f"DELETE FROM `{self.table_id}` WHERE {predicate};\n"
                    f"INSERT INTO `{self.table_id}` ({columns}) SELECT {columns} FROM `{staging_id}`;\n"
                    f"DELETE FROM `{self.loads_table_id}` WHERE {predicate};\n"
                    f"INSERT INTO `{self.loads_table_id}` (color, source_month, source, sha256, `rows`, loaded_at) "
                    f"VALUES ('{color}', DATE '{source_month.isoformat()}', "
                    f"{string_literal(origin and origin.source)}, {string_literal(origin and origin.sha256)}, "
                    f"{staged.n}, CURRENT_TIMESTAMP());\n"
                    "COMMIT TRANSACTION;"
                )
                swap.result()
            finally:
                client.delete_table(staging_id, not_found_ok=True)
            [after] = client.query(f"SELECT COUNT(*) AS n FROM `{self.table_id}` WHERE {predicate}").result()
            # The slice as the table holds it now; the query's schema is the table's columns.
            preview_rows = client.query(
                f"SELECT * FROM `{self.table_id}` WHERE {predicate} LIMIT {PREVIEW_ROWS}"
            ).result()
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

    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""
        with self._client() as client:
            self._ensure_table(client, conform=False)
            rows = client.query(
                f"SELECT color, source_month, COUNT(*) AS n FROM `{self.table_id}` "
                "GROUP BY color, source_month ORDER BY color, source_month"
            ).result()
            return [(r.color, r.source_month, r.n) for r in rows]

    def slice_origins(self) -> dict[tuple[str, date], RecordedOrigin]:
        """{(color, source_month): (source, sha256, loaded_at)} of every slice `loads` records."""
        with self._client() as client:
            self._ensure_table(client, conform=False)
            rows = client.query(
                f"SELECT color, source_month, source, sha256, loaded_at FROM `{self.loads_table_id}`"
            ).result()
            return {(r.color, r.source_month): RecordedOrigin(r.source, r.sha256, r.loaded_at) for r in rows}

    @property
    def zones_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.{ZONES_TABLE}"

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table with the lake's gs:// zone file: the file is checked
        first, then one load job with WRITE_TRUNCATE, which BigQuery commits atomically (the
        previous table stays if the job fails; no bad record is allowed)."""
        uri = literal_uri(csv_file)
        zones = read_zone_file(csv_file)
        with self._client() as client:
            self._ensure_dataset(client)
            load_job = client.load_table_from_uri(
                uri,
                self.zones_table_id,
                job_config=bigquery.LoadJobConfig(
                    source_format=bigquery.SourceFormat.CSV,
                    skip_leading_rows=1,
                    schema=zones_table_schema(),
                    write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                    create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
                    max_bad_records=0,
                ),
            )
            load_job.result()
            loaded = client.get_table(self.zones_table_id).num_rows
        if loaded != len(zones.rows):
            raise ZoneFileError(f"{csv_file}: BigQuery holds {loaded} zones after the load, the file {len(zones.rows)}")
        return loaded
