"""Shared fixtures: the bundled release mirror, a real HTTP server over it, local resources."""

import http.server
import json
import os
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

# Must be set before gcsfs is imported; only emulators need it (see gcp_servers.py).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from dagster_duckdb import DuckDBResource

from taxi_pipeline.lake import LAKE_FILE_TEMPLATE, RAW_FILE_TEMPLATE
from taxi_pipeline.targets import lake_io_managers
from taxi_pipeline.resources.duckdb_warehouse import DuckDBWarehouse
from taxi_pipeline.resources.lake import LocalLake
from taxi_pipeline.resources.source import TripSourceResource

from taxi_pipeline_tests.postgres_server import PostgresCluster, start_cluster
from taxi_pipeline_tests.gcp_servers import (
    TEST_PROJECT,
    GCPServers,
    service_account_key,
    start_bqemulator,
    start_fake_gcs,
    start_token_server,
    stop,
)

RELEASE_DIR = Path(__file__).parent / "data" / "release"

# Rows of the bundled real files (see data/README.md), the facts the tests hold the pipeline to.
SAMPLE_ROWS = {
    "green|2020-04-01": 35_612,  # the whole published green 2020-04 file
    "yellow|2021-01-01": 22_792,  # the first 22,792 rows of yellow 2021-01
    "fhv|2019-01-01": 18,  # head of fhv 2019-01, TLC's older 6-column header
    "fhv|2020-01-01": 16,  # head of fhv 2020-01, same older header
}


def release_file(color: str, month: str) -> Path:
    """A bundled file of the release mirror, e.g. release_file("green", "2020-04")."""
    return RELEASE_DIR / color / f"{color}_tripdata_{month}.csv.gz"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output readable
        pass


def serve(handler) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start an HTTP server on 127.0.0.1 (free port) in a thread; returns it and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def release_url() -> Iterator[str]:
    """Base URL of a real HTTP server on 127.0.0.1 serving the bundled release mirror."""
    server, url = serve(partial(QuietHandler, directory=str(RELEASE_DIR)))
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def make_resources(lake_dir: Path, duckdb_path: Path):
    """Builds the local target's resources for a source URL, with a lake and DuckDB in tmp."""

    def build(source_url: str) -> dict:
        return {
            "source": TripSourceResource(base_url=source_url),
            **lake_io_managers(LocalLake(base_path=str(lake_dir))),
            "warehouse": DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path))),
        }

    return build


def lake_file(lake_dir: Path, color: str, month: str) -> Path:
    """Where the published parquet of a (color, YYYY-MM) lies in a local lake."""
    return lake_dir / LAKE_FILE_TEMPLATE.format(color=color, month=month)


def raw_file(lake_dir: Path, color: str, month: str) -> Path:
    """Where the raw CSV.gz of a (color, YYYY-MM) lies in a local lake."""
    return lake_dir / RAW_FILE_TEMPLATE.format(color=color, month=month)


@pytest.fixture(scope="session")
def gcp_servers(tmp_path_factory) -> Iterator[GCPServers]:
    """fake-gcs-server, bqemulator and an OAuth token endpoint on 127.0.0.1, with the process
    environment pointing the Google libraries at them for the whole session."""
    base = tmp_path_factory.mktemp("gcp")
    token_server, token_uri = start_token_server()
    gcs, gcs_endpoint = start_fake_gcs(base / "gcs")
    bigquery = None
    try:
        bigquery, bigquery_endpoint = start_bqemulator(base / "gcs", base / "bqemulator")
        key = service_account_key(token_uri)
        credentials_file = base / "service-account.json"
        credentials_file.write_text(json.dumps(key))
        servers = GCPServers(base / "gcs", gcs_endpoint, bigquery_endpoint, credentials_file, key)
        with pytest.MonkeyPatch.context() as env:
            for name, value in servers.environment().items():
                env.setenv(name, value)
            yield servers
    finally:
        stop(bigquery)
        stop(gcs)
        token_server.shutdown()
        token_server.server_close()


@pytest.fixture
def gcp_names(gcp_servers, request) -> dict[str, str]:
    """A bucket (created) and a BigQuery dataset name (not created) of this test's own."""
    import gcsfs

    suffix = uuid.uuid4().hex[:8]
    bucket, dataset = f"taxi-lake-{suffix}", f"nyc_taxi_{suffix}"
    gcsfs.GCSFileSystem().mkdir(bucket)
    return {"GCS_BUCKET": bucket, "BQ_DATASET": dataset, "GCP_PROJECT": TEST_PROJECT}


# The role the postgres tests load as: not a superuser, not the database owner; only the grants
# the README lists (CONNECT on the database, USAGE and CREATE on the schema).
POSTGRES_LOADER = "taxi_loader"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on 127.0.0.1 for the session, with
    password authentication and a login role `taxi_loader`; stopped and deleted after."""
    import psycopg

    # Durability off: the tests never crash the server itself, only clients.
    cluster = start_cluster({"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"})
    try:
        cluster.loader_password = uuid.uuid4().hex
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {POSTGRES_LOADER} LOGIN PASSWORD '{cluster.loader_password}'")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """URL of a fresh database of this test's own, as `taxi_loader` with the README's grants."""
    import psycopg

    database = f"taxi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
        admin.execute(f"GRANT CONNECT ON DATABASE {database} TO {POSTGRES_LOADER}")
    with psycopg.connect(postgres_cluster.url(database), autocommit=True) as admin:
        admin.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {POSTGRES_LOADER}")
    return postgres_cluster.url(database, user=POSTGRES_LOADER, password=postgres_cluster.loader_password)
