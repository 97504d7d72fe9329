"""`dagster dev` killed (SIGKILL of its process group) in the middle of a backfill and started
again on the same DAGSTER_HOME, with the shipped deploy/dagster.yaml (its daemons polling every
second here; test_deploy.py checks the shipped intervals): the instance recovers by itself. The
dead runs are failed by run monitoring, the `warehouse` pool's slot they held is freed, run
retries launch their partitions again, and every partition ends loaded exactly once."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from taxi_pipeline_deploy.run_launcher import process_alive, run_worker_pid

from taxi_pipeline_tests.support.dagster_server import instance_of, start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import PROJECT_DIR, deployed_env, start_child
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = [pytest.mark.faults, pytest.mark.ui]

# Two runs at a time (deploy/dagster.yaml): two are under way when the kill lands, the third queued.
PARTITIONS = ["green|2020-04-01", "yellow|2021-01-01", "fhv|2019-01-01"]
ROWS = {("green", "2020-04"): 35_612, ("yellow", "2021-01"): 22_792, ("fhv", "2019-01"): 18}
# After the restart: monitoring fails the dead runs at once, frees the slot a second later, and
# the three partitions' runs (two of them retries) take ~15 s each, two at a time.
RECOVERY_SECONDS = 150


def fast_polling_env(tmp_path: Path, release_url: str) -> dict[str, str]:
    """deployed_env with deploy/dagster.yaml as shipped but for how often the daemons look:
    run monitoring every second and pool slots freed a second after their run ended (10 s
    each as shipped), run retries launched within a second (5 s by default)."""
    config = yaml.safe_load((PROJECT_DIR / "deploy" / "dagster.yaml").read_text())
    config["run_monitoring"] |= {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1}
    (instance_yaml := tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    env = deployed_env(tmp_path, release_url, instance_yaml)
    return env | {"DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS": "1"}


def wait_for(what: str, condition, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"{what} not after {timeout} s; see {log}")


def partition_statuses(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = {}
    for run in instance.get_runs():
        statuses.setdefault(run.tags.get("dagster/partition", "?"), []).append(run.status.value)
    return statuses


def claimed_warehouse_slots(instance: dg.DagsterInstance) -> list:
    return list(instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots)


def kill_dagster_dev_during_a_load(env, log: Path) -> tuple[list, list]:
    """Start dagster dev, launch the backfill, SIGKILL dagster dev's process group once a load
    holds the warehouse slot and no run is between launch and start; the runs STARTED then, and
    their workers' (pid, logged at)."""
    server = start_dagster_dev(env, log)
    try:
        # Through GraphQL, as the UI does: a backfill the daemon runs, whose failed runs it
        # retries (`dagster job backfill` submits every run itself and completes the backfill,
        # and Dagster retries no run of a completed backfill).
        launched = server.launch_backfill(PARTITIONS, "killed mid-backfill")
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        with instance_of(env) as instance:

            def slot_held_none_starting():
                # A run killed while STARTING (its worker not up yet) is only failed by the 60 s
                # start timeout: not the crash this test is about.
                runs = instance.get_runs()
                if any(r.status == dg.DagsterRunStatus.STARTING for r in runs) or not claimed_warehouse_slots(instance):
                    return None
                return [r for r in runs if r.status == dg.DagsterRunStatus.STARTED]

            started = wait_for("a load holding the warehouse slot", slot_held_none_starting, 120, log)
            workers = [run_worker_pid(instance, r.run_id) for r in started]
        assert started and all(workers), started
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    finally:
        if server.proc.poll() is None:
            stop_dagster_dev(server)
    return started, workers


def test_dagster_dev_killed_mid_backfill_recovers_on_restart(tmp_path, release_url):
    env = fast_polling_env(tmp_path, release_url)
    log = tmp_path / "dagster-dev.log"
    # A reader holding the DuckDB file (a notebook left open) keeps the first load waiting for
    # the lock with the pool's one slot claimed, and the second run's load waiting for the slot:
    # the kill lands there.
    holder = start_child("hold_duckdb_for_writing", env["TAXI_DUCKDB_PATH"])
    try:
        assert holder.stdout.readline().strip() == "held"
        started, workers = kill_dagster_dev_during_a_load(env, log)
    finally:
        holder.kill()
        holder.wait()
    # The kill took the run workers with it: nothing but the daemon's monitoring can finish them.
    time.sleep(1)
    assert not any(process_alive(pid, logged) for pid, logged in workers)
    with instance_of(env) as instance:
        # What a restart finds: the dead runs STARTED, one of them holding the slot.
        assert all(instance.get_run_by_id(r.run_id).status == dg.DagsterRunStatus.STARTED for r in started)
        assert claimed_warehouse_slots(instance)

    restarted = start_dagster_dev(env, log)
    try:
        with instance_of(env) as instance:

            def recovered():
                statuses = partition_statuses(instance)
                done = all("SUCCESS" in statuses.get(p, []) for p in PARTITIONS)
                unfinished = [r for r in instance.get_runs() if not r.is_finished]
                return done and not unfinished and not claimed_warehouse_slots(instance) and statuses

            statuses = wait_for("every partition loaded, no slot claimed", recovered, RECOVERY_SECONDS, log)
            dead = [instance.get_run_by_id(r.run_id) for r in started]
            assert all(r.status == dg.DagsterRunStatus.FAILURE for r in dead), dead
            assert sorted(p for p in statuses if p != "?") == sorted(PARTITIONS), statuses
            assert all(len(s) <= 3 for s in statuses.values()), statuses  # the run and at most 2 retries
    finally:
        stop_dagster_dev(restarted)
    assert warehouse_rows(env["TAXI_DUCKDB_PATH"]) == ROWS


def test_a_run_worker_is_alive_while_its_process_is_the_one_that_logged():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        assert process_alive(child.pid, time.time())
        # The same pid, logged before this process started: a later process reusing a dead pid.
        assert not process_alive(child.pid, time.time() - 3600)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid, time.time())
