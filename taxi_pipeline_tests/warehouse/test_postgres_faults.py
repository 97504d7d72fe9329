"""The Postgres warehouse when the server goes away: a refused, reset or closed connection is
transient and retried by `warehouse_trips`; only what a retry cannot change (authentication, a
missing database or role, a missing grant) is a wrong TAXI_POSTGRES_URL that fails at once."""

import re
import threading
import time
import uuid
from datetime import date
from urllib.parse import urlsplit

import dagster as dg
import psycopg
import pytest

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.defs.warehouse import assets as warehouse
from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse, partition_ddl, partition_name
from taxi_pipeline.errors import SettingError, TransientError
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.postgres_server import POSTGRES_LOADER, start_cluster
from taxi_pipeline_tests.support.runs import (
    MONTHLY_CHAIN,
    TRIP_ASSETS,
    TRIP_CHECKS,
    cli_env,
    error_chain,
    materialize_command,
    only_step_failure,
    retried_steps,
    run_cli,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

PARTITION = "green|2020-04-01"
APRIL = date(2020, 4, 1)
GREEN_APRIL_ROWS = 35_612


@pytest.fixture
def postgres_env(monkeypatch, release_url, lake_dir):
    """Sets a local-target run that loads into Postgres; returns a function that sets its URL."""
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", "local")
    monkeypatch.setenv("TAXI_WAREHOUSE", "postgres")
    monkeypatch.setenv("TAXI_SOURCE_URL", release_url)
    monkeypatch.setenv("TAXI_LAKE_DIR", str(lake_dir))
    return lambda url: monkeypatch.setenv("TAXI_POSTGRES_URL", url)


def materialize() -> dg.ExecuteInProcessResult:
    resources = build_definitions(Settings.from_environment()).resources
    return dg.materialize(TRIP_ASSETS + TRIP_CHECKS, partition_key=PARTITION, resources=resources, raise_on_error=False)


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.netloc.rpartition(':')[0]}:{port}").geturl()


def test_a_refused_connection_is_retried_and_named_as_refused_not_as_a_wrong_setting(
    postgres_env, postgres_url, monkeypatch
):
    monkeypatch.setattr(warehouse, "LOAD_RETRY_DELAY_SECONDS", 0.05)
    port = free_port()  # nothing listens there: the server is down, or restarting
    postgres_env(with_port(postgres_url, port))

    result = materialize()

    assert not result.success
    assert retried_steps(result) == ["warehouse_trips"] * 3
    failure = only_step_failure(result)
    cause = error_chain(failure.step_failure_data.error)[-1]
    assert "the server refused the connection (is it running, or restarting?)" in cause
    assert f"127.0.0.1:{port}" in cause and "TAXI_POSTGRES_URL" not in cause
    assert urlsplit(postgres_url).password not in cause


def test_a_wrong_password_is_a_setting_error_at_once(postgres_url):
    url = postgres_url.replace(urlsplit(postgres_url).password, "not-the-Passw0rd")

    with pytest.raises(SettingError, match=r"\(TAXI_POSTGRES_URL\): .*password authentication failed"):
        PostgresWarehouse(url=url).slice_counts()


def test_a_missing_database_is_a_setting_error_and_a_closed_port_is_not(postgres_url):
    missing = postgres_url.rpartition("/")[0] + "/no_such_database"

    with pytest.raises(SettingError, match=r'\(TAXI_POSTGRES_URL\): .*database "no_such_database" does not exist'):
        PostgresWarehouse(url=missing).slice_counts()
    with pytest.raises(TransientError, match="the server refused the connection") as raised:
        PostgresWarehouse(url=with_port(postgres_url, free_port())).slice_counts()
    assert not isinstance(raised.value, SettingError)


# libpq's refusal when the URL asks for TLS and the server (the test cluster) offers none.
NO_SSL = "server does not support SSL, but SSL was required"


def requiring_ssl(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}sslmode=require"


def test_an_sslmode_the_server_refuses_is_a_setting_error_at_once_not_retried(postgres_env, postgres_url, monkeypatch):
    monkeypatch.setattr(warehouse, "LOAD_RETRY_DELAY_SECONDS", 0.05)
    postgres_env(requiring_ssl(postgres_url))

    result = materialize()

    assert not result.success
    assert retried_steps(result) == []
    failure = only_step_failure(result)
    assert failure.step_key == "warehouse_trips"
    [message] = error_chain(failure.step_failure_data.error)
    assert re.fullmatch(
        rf"[\w.]+\.Failure: cannot connect to the Postgres warehouse "
        rf"{POSTGRES_LOADER}@127\.0\.0\.1:\d+/taxi_\w+ \(TAXI_POSTGRES_URL\): "
        rf'connection failed: connection to server at "127\.0\.0\.1", port \d+ failed: {NO_SSL}',
        message,
    ), message
    assert urlsplit(postgres_url).password not in message


@pytest.mark.cli
def test_an_sslmode_the_server_refuses_ends_the_cli_with_one_line_without_the_password(
    tmp_path, release_url, postgres_url
):
    env = cli_env(tmp_path, release_url, TAXI_WAREHOUSE="postgres", TAXI_POSTGRES_URL=requiring_ssl(postgres_url))

    done = run_cli(materialize_command(PARTITION, select=MONTHLY_CHAIN), env)

    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"taxi_pipeline: warehouse_trips failed: cannot connect to the Postgres warehouse {POSTGRES_LOADER}@127.0.0.1:"
    ), last
    assert re.search(rf"\(TAXI_POSTGRES_URL\): connection failed: .* failed: {NO_SSL}$", last), last
    assert "STEP_UP_FOR_RETRY" not in done.stderr and "attempt 1 of" not in done.stderr
    assert urlsplit(postgres_url).password not in done.stderr + done.stdout


@pytest.fixture
def own_cluster():
    """A cluster of this test's own (restarting the session's would end other tests' sessions)."""
    cluster = start_cluster({"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"})
    try:
        password = uuid.uuid4().hex
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {POSTGRES_LOADER} LOGIN PASSWORD '{password}'")
            admin.execute("CREATE DATABASE taxi")
            admin.execute(f"GRANT CONNECT ON DATABASE taxi TO {POSTGRES_LOADER}")
        with psycopg.connect(cluster.url("taxi"), autocommit=True) as admin:
            admin.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {POSTGRES_LOADER}")
        yield cluster, cluster.url("taxi", user=POSTGRES_LOADER, password=password)
    finally:
        cluster.stop()


def test_a_server_restarting_mid_load_is_retried_and_the_load_completes(postgres_env, own_cluster, monkeypatch):
    cluster, url = own_cluster
    monkeypatch.setattr(warehouse, "LOAD_RETRY_DELAY_SECONDS", 1.0)  # about 1, 3, 7 s
    postgres_env(url)
    PostgresWarehouse(url=url).slice_counts()  # creates the table
    with psycopg.connect(url, autocommit=True) as loader:
        loader.execute(partition_ddl(APRIL))  # and April's partition, so that it can be locked
    # Another session holds a lock on April's partition: the load's DELETE waits on it, inside
    # the load's transaction, until the server restarts under it.
    blocker = psycopg.connect(cluster.url("taxi"))
    blocker.execute(f"LOCK TABLE {partition_name(APRIL)} IN ACCESS EXCLUSIVE MODE")
    restarted = threading.Event()
    waited_in: list[str] = []

    def restart_once_the_load_waits() -> None:
        deadline = time.monotonic() + 120
        with psycopg.connect(cluster.url("taxi"), autocommit=True) as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    "SELECT query FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                    (POSTGRES_LOADER,),
                ).fetchall()
                if waiting:
                    waited_in.extend(row[0] for row in waiting)
                    break
                time.sleep(0.05)
        cluster.restart(down_seconds=3)  # ends the blocker's session and the load's; then refuses for 3 s
        restarted.set()

    thread = threading.Thread(target=restart_once_the_load_waits, daemon=True)
    thread.start()
    started = time.monotonic()
    result = materialize()
    thread.join(timeout=60)
    blocker.close()

    assert restarted.is_set() and [q.split()[0] for q in waited_in] == ["DELETE"]
    assert result.success, [error_chain(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]
    assert "warehouse_trips" in retried_steps(result)
    assert PostgresWarehouse(url=url).slice_counts()[0][2] == GREEN_APRIL_ROWS
    assert time.monotonic() - started < 120
