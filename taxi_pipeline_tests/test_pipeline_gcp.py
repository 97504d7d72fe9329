"""The four assets end to end on the gcp target: the same asset code, GCS and BigQuery servers."""

import hashlib

import dagster as dg
import pyarrow.parquet as pq
import pytest
from google.cloud import bigquery
from upath import UPath

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.defs.warehouse.assets import taxi_zones
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import materialize
from taxi_pipeline_tests.support.samples import (
    YELLOW_APRIL_ROWS,
    ZONES_ROWS,
    mirror_with_two_colors_in_april,
    release_file,
    release_zones,
)

pytestmark = pytest.mark.gcp


@pytest.fixture
def gcp_target(gcp_names, monkeypatch, tmp_path):
    """The gcp target's own resources, configured through the environment as a user would."""
    # The TLC's sample of yellow 2020-04 beside the green month, so two colors share one month.
    mirror = mirror_with_two_colors_in_april(tmp_path / "mirror")
    for name, value in {**gcp_names, "TAXI_SOURCE_URL": mirror.as_uri()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", "gcp")
    return build_definitions(Settings.from_environment()).resources


def slice_counts(gcp_names) -> dict[tuple[str, str], int]:
    client = bigquery.Client(project=gcp_names["GCP_PROJECT"])
    rows = client.query(
        f"SELECT color, source_month, COUNT(*) AS n FROM `{gcp_names['GCP_PROJECT']}.{gcp_names['BQ_DATASET']}.trips` "
        "GROUP BY color, source_month"
    ).result()
    return {(r.color, f"{r.source_month:%Y-%m}"): r.n for r in rows}


def lake_object(gcp_names, color: str, month: str) -> UPath:
    return UPath(f"gs://{gcp_names['GCS_BUCKET']}/data/{color}/{color}_tripdata_{month}.parquet")


def test_green_lands_in_the_bucket_and_bigquery(gcp_target, gcp_names, gcp_servers):
    result = materialize(gcp_target, "green|2020-04-01", raise_on_error=True)

    assert slice_counts(gcp_names) == {("green", "2020-04"): 35_612}
    bucket_dir = gcp_servers.gcs_root / gcp_names["GCS_BUCKET"]
    assert (bucket_dir / "raw/green/green_tripdata_2020-04.csv.gz").read_bytes() == release_file(
        "green", "2020-04"
    ).read_bytes()
    with lake_object(gcp_names, "green", "2020-04").open("rb") as f:
        assert pq.ParquetFile(f).metadata.num_rows == 35_612
    lake = result.asset_materializations_for_node("lake_trips_parquet")[0].metadata
    assert lake["uri"].value == str(lake_object(gcp_names, "green", "2020-04"))
    assert "console.cloud.google.com/storage/browser/_details/" in lake["console"].value
    warehouse = result.asset_materializations_for_node("warehouse_trips")[0].metadata
    assert warehouse["table"].value == f"{gcp_names['GCP_PROJECT']}.{gcp_names['BQ_DATASET']}.trips"
    assert warehouse["rows_loaded"].value == 35_612 and warehouse["job_id"].value
    assert "bytes_processed" in warehouse
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "slice_matches_lake_file"]
    assert check.passed
    # The bucket's lake object is the audited staged content, and the load read those bytes.
    with lake_object(gcp_names, "green", "2020-04").open("rb") as f:
        published = hashlib.sha256(f.read()).hexdigest()
    staged = result.asset_materializations_for_node("cleaned_trips")[0].metadata["staged_sha256"].value
    assert lake["sha256"].value == warehouse["sha256"].value == staged == published


def test_rematerializing_and_a_second_color_of_the_month(gcp_target, gcp_names):
    materialize(gcp_target, "green|2020-04-01", raise_on_error=True)
    materialize(gcp_target, "green|2020-04-01", raise_on_error=True)
    materialize(gcp_target, "yellow|2020-04-01", raise_on_error=True)

    counts = slice_counts(gcp_names)

    assert counts == {("green", "2020-04"): 35_612, ("yellow", "2020-04"): YELLOW_APRIL_ROWS}
    for (color, month), rows in counts.items():
        with lake_object(gcp_names, color, month).open("rb") as f:
            assert pq.ParquetFile(f).metadata.num_rows == rows


def test_the_gcp_target_keeps_secrets_out_of_config(gcp_target):
    lake = gcp_target["lake_io_manager"].lake
    assert lake.bucket == dg.EnvVar("GCS_BUCKET")
    assert gcp_target["warehouse"].bigquery_resource.project == dg.EnvVar("GCP_PROJECT")
    assert gcp_target["warehouse"].bigquery_resource.gcp_credentials is None


def test_taxi_zones_lands_in_the_bucket_and_bigquery(gcp_target, gcp_names, gcp_servers):
    dataset = f"{gcp_names['GCP_PROJECT']}.{gcp_names['BQ_DATASET']}"
    count = f"SELECT COUNT(*) AS n, COUNT(DISTINCT location_id) AS ids FROM `{dataset}.zones`"
    client = bigquery.Client(project=gcp_names["GCP_PROJECT"])

    result = dg.materialize([taxi_zones], resources=gcp_target, raise_on_error=True)
    dg.materialize([taxi_zones], resources=gcp_target, raise_on_error=True)

    bucket_dir = gcp_servers.gcs_root / gcp_names["GCS_BUCKET"]
    assert (bucket_dir / "raw/misc/taxi_zone_lookup.csv").read_bytes() == release_zones().read_bytes()
    [row] = client.query(count).result()
    assert (row.n, row.ids) == (ZONES_ROWS, ZONES_ROWS)
    metadata = result.asset_materializations_for_node("taxi_zones")[0].metadata
    assert metadata["dagster/row_count"].value == ZONES_ROWS
    assert metadata["path"].value == f"gs://{gcp_names['GCS_BUCKET']}/raw/misc/taxi_zone_lookup.csv"


def test_the_audit_reads_the_zone_table_from_the_bucket(gcp_target, gcp_names):
    dg.materialize([taxi_zones], resources=gcp_target, raise_on_error=True)

    result = materialize(gcp_target, "green|2020-04-01", raise_on_error=True)

    [zones] = [e for e in result.get_asset_check_evaluations() if e.check_name == "location_ids_are_taxi_zones"]
    assert zones.passed
    assert zones.metadata["zone_ids_from"].value == f"gs://{gcp_names['GCS_BUCKET']}/raw/misc/taxi_zone_lookup.csv"
