"""BigQueryWarehouse against bqemulator, with lake files in fake-gcs-server: what is particular to
BigQuery; what every backend does is in test_warehouse_contract.py."""

import json
from datetime import date

import pytest
from dagster_gcp import BigQueryResource
from google.cloud import bigquery
from upath import UPath

from taxi_pipeline.defs.warehouse.bigquery import SLICE, BigQueryWarehouse, slice_parameters, trips_table_schema
from taxi_pipeline.errors import PermanentError, SettingError
from taxi_pipeline.lib.parquet import lake_file_columns, parquet_row_count
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serve, stop_server
from taxi_pipeline_tests.support.trips import cleaned_sample

APRIL, JAN_2021 = date(2020, 4, 1), date(2021, 1, 1)


def upload_lake_file(bucket: str, name: str, color: str, sample_month: str, as_month: date) -> UPath:
    return write_parquet(cleaned_sample(color, sample_month, as_month), f"gs://{bucket}/data/{name}.parquet")


@pytest.fixture
def warehouse(gcp_names) -> BigQueryWarehouse:
    return BigQueryWarehouse(
        bigquery_resource=BigQueryResource(project=gcp_names["GCP_PROJECT"]), dataset=gcp_names["BQ_DATASET"]
    )


def test_bigquery_schema_is_the_canonical_schema():
    schema = {f.name: f.field_type for f in trips_table_schema()}

    assert list(schema) == CANONICAL_SCHEMA.names
    assert schema["pickup_datetime"] == "DATETIME"  # New York wall clock, no time zone
    assert (schema["source_month"], schema["passenger_count"], schema["fare_amount"]) == ("DATE", "INT64", "FLOAT64")


def test_the_slice_is_named_by_query_parameters_never_by_text():
    hostile = "green' OR '1'='1"
    parameters = slice_parameters(hostile, APRIL, rows=("INT64", 3)).query_parameters

    assert SLICE == "color = @color AND source_month = @source_month"
    assert [(p.name, p.type_, p.value) for p in parameters] == [
        ("color", "STRING", hostile),
        ("source_month", "DATE", APRIL),
        ("rows", "INT64", 3),
    ]


@pytest.mark.gcp
def test_load_creates_a_month_partitioned_table_clustered_by_color(warehouse, gcp_names):
    lake = upload_lake_file(gcp_names["GCS_BUCKET"], "green", "green", "2020-04", APRIL)

    load = warehouse.load_slice(lake, "green", APRIL)

    assert load.job_id and load.table == warehouse.table_id
    table = bigquery.Client(project=gcp_names["GCP_PROJECT"]).get_table(warehouse.table_id)
    assert table.time_partitioning.type_ == "MONTH" and table.time_partitioning.field == "source_month"
    assert table.clustering_fields == ["color"]


@pytest.mark.gcp
def test_a_refused_file_leaves_no_staging_table(warehouse, gcp_names):
    wrong = upload_lake_file(gcp_names["GCS_BUCKET"], "yellow", "yellow", "2021-01", JAN_2021)

    with pytest.raises(PermanentError, match="rows are not green 2020-04"):
        warehouse.load_slice(wrong, "green", APRIL)

    datasets = bigquery.Client(project=gcp_names["GCP_PROJECT"]).list_tables(gcp_names["BQ_DATASET"])
    assert sorted(t.table_id for t in datasets) == ["loads", "trips"]  # the staging table is gone


@pytest.mark.gcp
def test_a_missing_lake_object_fails_and_the_old_slice_stays(warehouse, gcp_names):
    bucket = gcp_names["GCS_BUCKET"]
    warehouse.load_slice(upload_lake_file(bucket, "green", "green", "2020-04", APRIL), "green", APRIL)

    with pytest.raises(FileNotFoundError, match="nothing-here.parquet"):
        warehouse.load_slice(UPath(f"gs://{bucket}/data/nothing-here.parquet"), "green", APRIL)

    assert warehouse.slice_counts() == [("green", APRIL, 35_612)]


@pytest.mark.gcp
def test_missing_dataset_names_the_setting_when_creation_is_off(gcp_names):
    warehouse = BigQueryWarehouse(
        bigquery_resource=BigQueryResource(project=gcp_names["GCP_PROJECT"]),
        dataset="absent_dataset",
        create_dataset=False,
    )

    with pytest.raises(SettingError, match=r"absent_dataset \(GCP_PROJECT/BQ_DATASET\) does not exist"):
        warehouse.slice_counts()


class AccessDenied(QuietRequestHandler):
    """Answers every request as BigQuery does to credentials without the role it needs."""

    def do_GET(self):
        message = "Access Denied: Dataset taxi-test-project:nyc: Permission bigquery.datasets.get denied"
        body = json.dumps({"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


@pytest.mark.gcp
def test_credentials_without_the_role_name_the_roles_needed(gcp_names, monkeypatch):
    server, url = serve(AccessDenied)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", url)
    warehouse = BigQueryWarehouse(bigquery_resource=BigQueryResource(project=gcp_names["GCP_PROJECT"]), dataset="nyc")
    try:
        with pytest.raises(SettingError) as raised:
            warehouse.slice_counts()
    finally:
        stop_server(server)

    assert str(raised.value) == (
        "BigQuery refused access to taxi-test-project.nyc.trips (GCP_PROJECT/BQ_DATASET): GET "
        f"{url}/bigquery/v2/projects/taxi-test-project/datasets/nyc?prettyPrint=false: Access Denied: Dataset "
        "taxi-test-project:nyc: Permission bigquery.datasets.get denied; the credentials need "
        "roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project"
    )


@pytest.mark.gcp
def test_missing_credentials_file_names_the_settings(gcp_names, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    warehouse = BigQueryWarehouse(
        bigquery_resource=BigQueryResource(project=gcp_names["GCP_PROJECT"]), dataset=gcp_names["BQ_DATASET"]
    )

    with pytest.raises(SettingError, match="GOOGLE_APPLICATION_CREDENTIALS") as raised:
        warehouse.slice_counts()

    assert "no-such-key" not in str(raised.value)


def test_only_gs_lake_files_load():
    warehouse = BigQueryWarehouse(bigquery_resource=BigQueryResource(project="p"), dataset="d")

    with pytest.raises(ValueError, match="gs:// only"):
        warehouse.load_slice(UPath("/tmp/x.parquet"), "green", APRIL)


@pytest.mark.gcp
@pytest.mark.parametrize("folder", ["a*", "a?", "a[b]"])
def test_pyarrow_reads_a_gs_lake_file_under_a_glob_named_folder_as_named(gcp_names, folder):
    # What the load reads with pyarrow through gcsfs (the file's columns) is the named object,
    # not the sibling `ab` the name would match as a pattern. (The load job itself is BigQuery's:
    # bqemulator reads the object with DuckDB, which globs, so the job is not tested here.)
    bucket = gcp_names["GCS_BUCKET"]
    green = cleaned_sample("green", "2020-04", APRIL)
    write_parquet(green.select(green.column_names[:25]).slice(0, 1_000), f"gs://{bucket}/ab/g.parquet")
    lake = write_parquet(green, f"gs://{bucket}/{folder}/g.parquet")

    assert lake_file_columns(lake) == CANONICAL_SCHEMA.names
    assert parquet_row_count(lake) == 35_612


@pytest.mark.gcp
def test_a_lake_path_a_load_job_would_read_as_a_wildcard_is_refused(warehouse, gcp_names):
    bucket = gcp_names["GCS_BUCKET"]
    write_parquet(cleaned_sample("green", "2020-04", APRIL).slice(0, 1_000), f"gs://{bucket}/ab/g.parquet")
    lake = write_parquet(cleaned_sample("green", "2020-04", APRIL), f"gs://{bucket}/a*/g.parquet")

    with pytest.raises(
        ValueError, match=r"a\*/g\.parquet: a BigQuery load job reads '\*' in a gs:// URI as a wildcard"
    ):
        warehouse.load_slice(lake, "green", APRIL)

    assert warehouse.slice_counts() == []
