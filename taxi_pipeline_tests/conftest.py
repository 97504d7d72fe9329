"""The tests' fixtures: the bundled release mirror served over HTTP, local resources, the GCP
emulators and a PostgreSQL cluster. Helpers the tests import live in `support/`."""

import json
import os
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

# Must be set before gcsfs is imported; only emulators need it (see support/gcp_servers.py).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from dagster_duckdb import DuckDBResource

from taxi_pipeline.definitions import lake_io_managers
from taxi_pipeline.defs.lake.resources import LocalLake
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline_tests.support.gcp_servers import (
    TEST_PROJECT,
    GCPServers,
    service_account_key,
    start_bqemulator,
    start_fake_gcs,
    start_token_server,
    stop,
)
from taxi_pipeline_tests.support.http_server import QuietHandler, serve, stop_server
from taxi_pipeline_tests.support.postgres_server import POSTGRES_LOADER, PostgresCluster, start_cluster
from taxi_pipeline_tests.support.samples import RELEASE_DIR

# The files that take a minute or more (most of it waiting on daemons, containers and runs), the
# longest first: under pytest-xdist (`--no-loadscope-reorder`), the short files then fill the time
# beside them and the two workers end together. The order of `--durations`, in a fresh clone; but
# the docker file waits for its images, which build from the start of the session (cold, about
# four minutes beside the tests), so it comes after the files that take that long.
LONG_FIRST = [
    "taxi_pipeline_tests/deploy/test_crash_recovery.py",
    "taxi_pipeline_tests/ui/",
    "taxi_pipeline_tests/lake/test_concurrency_faults.py",
    "taxi_pipeline_tests/test_pipeline_tlc.py",
    "taxi_pipeline_tests/deploy/test_docker_deployment.py",
    "taxi_pipeline_tests/warehouse/test_contract.py",
    "taxi_pipeline_tests/lake/test_write_faults.py",
    "taxi_pipeline_tests/test_dg_cli.py",
]
# Then the files that mostly wait (on timeouts, servers and the emulators, under 0.45 CPU-s per
# second), each beside one that keeps a core busy: the two workers take the next file as they
# finish, so each waits while the other works. In the order of collection the waiting files ran
# at once in both workers and left a core idle for a minute (docs/testing.md).
MOSTLY_WAITING = [
    "taxi_pipeline_tests/warehouse/test_hang_faults.py",
    "taxi_pipeline_tests/warehouse/test_postgres_faults.py",
    "taxi_pipeline_tests/source/test_source_faults.py",
    "taxi_pipeline_tests/alerts/test_webhook_faults.py",
    "taxi_pipeline_tests/test_pipeline_gcp.py",
    "taxi_pipeline_tests/warehouse/test_bigquery.py",
    "taxi_pipeline_tests/source/test_retry_messages.py",
]
BUSY = [
    "taxi_pipeline_tests/test_cli.py",
    "taxi_pipeline_tests/test_security.py",
    "taxi_pipeline_tests/test_benchmarks.py",
    "taxi_pipeline_tests/quality/test_write_audit_publish.py",
    "taxi_pipeline_tests/report/test_trips_per_month.py",
    "taxi_pipeline_tests/lake/test_publication_faults.py",
    "taxi_pipeline_tests/quality/test_loss_faults.py",
]
ORDER = LONG_FIRST + [path for pair in zip(MOSTLY_WAITING, BUSY, strict=True) for path in pair]


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(ORDER) if item.nodeid.startswith(prefix)), len(ORDER))

    items.sort(key=rank)  # stable: each file's tests keep their order


def pytest_sessionstart(session):
    """Under pytest-xdist, the controller begins the docker tests' engine and images at once (its
    workers collect every test, and the docker module may be scheduled last): the worker that
    runs them then waits for this build (support/docker_engine.py)."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    if config.option.collectonly or "docker" in (config.option.markexpr or ""):
        return  # `-m docker` runs them in one worker; `-m "not docker"` runs none
    paths = [str(arg) for arg in config.args]
    if not paths or any("deploy" in path or path.rstrip("/").endswith("taxi_pipeline_tests") for path in paths):
        from taxi_pipeline_tests.support.docker_engine import start_images

        start_images(config)


@pytest.fixture(scope="session")
def release_url() -> Iterator[str]:
    """Base URL of a real HTTP server on 127.0.0.1 serving the bundled release mirror."""
    server, url = serve(partial(QuietHandler, directory=str(RELEASE_DIR)))
    yield url
    stop_server(server)


@pytest.fixture
def http_server() -> Iterator[Callable[[type], str]]:
    """Starts request handler classes on 127.0.0.1 (`http_server(handler)` gives the base URL);
    stops every one of them after the test."""
    started = []

    def start(handler) -> str:
        server, url = serve(handler)
        started.append(server)
        return url

    yield start
    for server in started:
        stop_server(server)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """The local lake folder of a test (not created)."""
    return tmp_path / "lake"


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    """The DuckDB warehouse file of a test (not created)."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def make_resources(lake_dir: Path, duckdb_path: Path):
    """Builds the local target's resources for a source URL, with a lake and DuckDB in tmp."""

    def build(source_url: str) -> dict:
        lake = LocalLake(base_path=str(lake_dir))
        return {
            "source": TripSourceResource(base_url=source_url),
            "lake": lake,
            **lake_io_managers(lake),
            "warehouse": DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path))),
        }

    return build


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
        stop_server(token_server)


@pytest.fixture
def gcp_names(gcp_servers, request) -> dict[str, str]:
    """A bucket (created) and a BigQuery dataset name (not created) of this test's own."""
    import gcsfs

    suffix = uuid.uuid4().hex[:8]
    bucket, dataset = f"taxi-lake-{suffix}", f"nyc_taxi_{suffix}"
    gcsfs.GCSFileSystem().mkdir(bucket)
    return {"GCS_BUCKET": bucket, "BQ_DATASET": dataset, "GCP_PROJECT": TEST_PROJECT}


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
