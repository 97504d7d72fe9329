"""Hangs: a source that trickles bytes, a reader holding the DuckDB file, an open Postgres
transaction in the way of a new month's partition. Each must end in bounded time with a line
that says what holds things up."""

import re
import threading
import time
from datetime import date

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from taxi_pipeline.defs.source import assets as ingest
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse
from taxi_pipeline_tests.support.http_server import QuietRequestHandler
from taxi_pipeline_tests.support.runs import (
    TRIP_ASSETS,
    TRIP_CHECKS,
    only_step_failure,
    retried_steps,
    start_child,
    step_failures,
    with_causes,
)
from taxi_pipeline_tests.support.samples import release_file

pytestmark = pytest.mark.faults

GREEN_BYTES = release_file("green", "2020-04").read_bytes()
# The trickling server gives up after this long, so that a pipeline without a rate floor fails
# the test instead of hanging it.
TRICKLE_LIMIT_SECONDS = 20.0


class Trickling(QuietRequestHandler):
    """Sends the month's real file 16 bytes at a time, one piece every `every` seconds."""

    every = 0.5
    stop = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(GREEN_BYTES)))
        self.end_headers()
        ended = time.monotonic() + TRICKLE_LIMIT_SECONDS
        for offset in range(0, len(GREEN_BYTES), 16):
            if time.monotonic() > ended or self.stop.wait(self.every):
                return
            try:
                self.wfile.write(GREEN_BYTES[offset : offset + 16])
                self.wfile.flush()
            except OSError:  # the client gave up
                return


@pytest.fixture
def trickling_url(http_server):
    handler = type("Trickle", (Trickling,), {"stop": threading.Event()})
    yield http_server(handler)
    handler.stop.set()


def materialize_with(instance: dg.DagsterInstance, resources: dict, partition_key: str):
    """The monthly chain for one partition in process, its events kept in `instance`."""
    return dg.materialize(
        TRIP_ASSETS + TRIP_CHECKS,
        partition_key=partition_key,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )


def raw_trips_only():
    return [a for a in TRIP_ASSETS if a.key == dg.AssetKey("raw_trips")]


def step_event_time(logs, step_key: str, event_type: dg.DagsterEventType) -> float:
    """When the step's first event of that type was logged (seconds since the epoch)."""
    return next(
        e.timestamp
        for e in logs
        if e.step_key == step_key and e.is_dagster_event and e.dagster_event.event_type == event_type
    )


def test_a_trickling_source_fails_naming_the_rate_and_is_retried(trickling_url, make_resources, monkeypatch):
    # A 2 s window and a 1 KiB floor stand for the default 60 s and 64 KiB; progress every 1 s.
    monkeypatch.setattr(ingest, "PROGRESS_EVERY_SECONDS", 1.0)
    source = TripSourceResource(base_url=trickling_url, retry_delay_seconds=0.1, min_bytes=1024, rate_window_seconds=2)
    instance = dg.DagsterInstance.ephemeral()

    started = time.monotonic()
    result = dg.materialize(
        raw_trips_only(),
        partition_key="green|2020-04-01",
        resources={**make_resources(trickling_url), "source": source},
        instance=instance,
        raise_on_error=False,
    )
    seconds = time.monotonic() - started

    assert not result.success
    assert seconds < 25, seconds  # 4 attempts of a 2 s window and short delays, not 40 s of trickle
    assert retried_steps(result) == ["raw_trips"] * 3
    failure = with_causes(only_step_failure(result).step_failure_data.error)
    assert re.search(
        r"the download is too slow: \d+ bytes in the last 2 s \(\d+ bytes/s\), under the floor of 1 KiB in 2 s "
        r"\(TAXI_SOURCE_MIN_BYTES, TAXI_SOURCE_RATE_WINDOW\)",
        failure,
    ), failure
    infos = [e.user_message for e in instance.all_logs(result.run_id) if e.level == 20 and not e.is_dagster_event]
    progress = [
        line for line in infos if re.fullmatch(r"downloaded \d+ bytes of green 2020-04 in \d+ s \(\d+ bytes/s\)", line)
    ]
    assert progress, infos


# --- a reader holding the DuckDB file -------------------------------------------------------------


def test_a_process_holding_the_duckdb_file_fails_the_load_after_a_bounded_wait_naming_it(
    release_url, make_resources, duckdb_path
):
    # Held 30 s at most: without the bounded wait, the load would wait it out and succeed.
    holder = start_child("hold_duckdb_open", str(duckdb_path), "30")
    try:
        assert holder.stdout.readline().strip() == "holding"
        resources = {
            **make_resources(release_url),
            "warehouse": DuckDBWarehouse(
                duckdb_resource=DuckDBResource(database=str(duckdb_path)), lock_wait_seconds=3
            ),
        }
        instance = dg.DagsterInstance.ephemeral()
        result = materialize_with(instance, resources, "fhv|2019-01-01")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)

    assert not result.success
    assert retried_steps(result) == []  # the bounded wait is the whole wait: no step retries
    logs = instance.all_logs(result.run_id)
    started = step_event_time(logs, "warehouse_trips", dg.DagsterEventType.STEP_START)
    failed = step_event_time(logs, "warehouse_trips", dg.DagsterEventType.STEP_FAILURE)
    assert 3 <= failed - started < 10, failed - started
    waiting = [
        e.user_message
        for e in logs
        if e.step_key == "warehouse_trips" and e.level == 20 and "waiting for the DuckDB file's lock" in e.user_message
    ]
    assert waiting and waiting[0].startswith(f"waiting for the DuckDB file's lock, held by PID {holder.pid} ("), waiting
    message = step_failures(result)["warehouse_trips"]
    assert len(message.splitlines()) == 1, message
    assert re.fullmatch(
        rf"dagster\._core\.definitions\.events\.Failure: {re.escape(str(duckdb_path))}: another process holds the "
        rf"DuckDB file open, PID {holder.pid} \(.+\); the load waited 3 s for its lock \(TAXI_DUCKDB_LOCK_WAIT=3\)\. "
        r"Close that connection .*, then materialize warehouse_trips again",
        message,
    ), message


def test_a_dashboard_polling_the_duckdb_file_does_not_hold_a_load_up(release_url, make_resources, duckdb_path):
    resources = make_resources(release_url)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_with(instance, resources, "fhv|2019-01-01").success  # the file and its table
    # Polls 30 s at most; the load must get the file's lock between two polls long before (the
    # connect backoff of DuckDBResource alone made such a load take ~100 s).
    poller = start_child("poll_duckdb_read_only", str(duckdb_path), "30")
    try:
        assert poller.stdout.readline().strip() == "polling"
        result = materialize_with(instance, resources, "fhv|2020-01-01")
        still_polling = poller.poll() is None
    finally:
        poller.stdin.close()
        poller.wait(timeout=30)

    assert result.success
    assert still_polling  # the load did not wait the dashboard out
    assert retried_steps(result) == []


# --- an open Postgres transaction in the way of a new month's partition -----------------------------


@pytest.mark.postgres
def test_an_open_transaction_on_trips_fails_a_new_months_load_naming_the_blocking_session(
    release_url, make_resources, postgres_url, postgres_cluster
):
    import psycopg

    warehouse = PostgresWarehouse(url=postgres_url, ddl_lock_timeout_seconds=1, ddl_lock_attempts=2)
    resources = {**make_resources(release_url), "warehouse": warehouse}
    assert materialize_with(dg.DagsterInstance.ephemeral(), resources, "fhv|2019-01-01").success
    # A SQL client left in an open transaction after reading trips: ACCESS SHARE on the table,
    # which the new month's CREATE TABLE … PARTITION OF (ACCESS EXCLUSIVE) waits for.
    with psycopg.connect(postgres_url, application_name="dashboard") as client:
        # Ended by the server after 30 s, so that a load without a lock timeout waits that out
        # and succeeds (failing the test) instead of hanging it.
        client.execute("SET idle_in_transaction_session_timeout = '30s'")
        client.execute("SELECT * FROM trips LIMIT 1").fetchall()
        blocker = client.info.backend_pid
        instance = dg.DagsterInstance.ephemeral()
        started = time.monotonic()
        result = materialize_with(instance, resources, "fhv|2020-01-01")
        seconds = time.monotonic() - started
        client.rollback()

    assert not result.success
    assert retried_steps(result) == []
    assert seconds < 30, seconds  # two 1 s lock waits and a pause, not a hang
    message = step_failures(result)["warehouse_trips"]
    assert len(message.splitlines()) == 1, message
    assert re.fullmatch(
        r"dagster\._core\.definitions\.events\.Failure: taxi_loader@127\.0\.0\.1:\d+/taxi_\w+: creating the "
        r"partition trips_2020_01 timed out 2 times \(1 s each\) waiting for a lock on trips held by "
        rf"PID {blocker} \(application_name 'dashboard', idle in transaction, transaction open since [^)]+\); "
        r"end that session's transaction \(COMMIT or ROLLBACK in that client, or SELECT "
        rf"pg_terminate_backend\({blocker}\)\), then materialize warehouse_trips again",
        message,
    ), message
    assert postgres_cluster.loader_password not in message
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == 30 and not e.is_dagster_event]
    assert any(f"held by PID {blocker} (" in line and "attempt 1 of 2, trying again" in line for line in warnings), (
        warnings
    )
    # Nothing was left half-made: the earlier month is whole, the new one absent, and with the
    # client gone the month loads.
    assert warehouse.slice_counts() == [("fhv", date(2019, 1, 1), 18)]
    assert materialize_with(dg.DagsterInstance.ephemeral(), resources, "fhv|2020-01-01").success
