"""Runs at the same time on one DuckDB file: real processes contending for its single writer lock."""

import hashlib
import time

import duckdb
import pytest

from taxi_pipeline_tests.support.runs import (
    MONTHLY_CHAIN,
    cli_env,
    materialize_command,
    run_cli,
    run_records,
    start_child,
    start_cli,
)
from taxi_pipeline_tests.support.samples import lake_file, mirror_of_lines, release_file, release_lines
from taxi_pipeline_tests.support.warehouse_rows import parquet_checksum, slice_checksums, warehouse_rows

pytestmark = pytest.mark.faults


def test_two_processes_loading_different_slices_at_once_both_succeed(tmp_path, duckdb_path):
    jobs = [
        ("green", release_file("green", "2020-04"), "2020-04-01"),
        ("fhv", release_file("fhv", "2019-01"), "2019-01-01"),
        ("fhv", release_file("fhv", "2019-01"), "2019-01-01"),  # the same slice, a second writer
    ]
    loaders = [
        start_child("load_repeatedly", str(duckdb_path), color, str(sample), month, str(tmp_path / f"{i}.parquet"), "8")
        for i, (color, sample, month) in enumerate(jobs)
    ]
    outcomes = [loader.communicate(timeout=240) for loader in loaders]

    assert [loader.returncode for loader in loaders] == [0, 0, 0], [err[-2000:] for _, err in outcomes]
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612, ("fhv", "2019-01"): 18}


@pytest.mark.cli
def test_cli_runs_at_once_wait_for_the_warehouse_lock_and_leave_one_copy(tmp_path, release_url):
    env = cli_env(tmp_path, release_url)
    lake_dir, database = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    # A third process holds DuckDB's single writer lock until both months reached the lake, so the
    # runs' loads meet a locked file for real.
    # Dagster's SQLite storage is created by the first process using DAGSTER_HOME; three at once
    # race on creating its tables (not what this test is about), so it is created beforehand.
    assert run_records(tmp_path / "dagster_home") == []
    holder = duckdb.connect(str(database))
    keys = ["fhv|2019-01-01", "fhv|2020-01-01", "fhv|2019-01-01"]
    # The monthly chain: its load is its last step, so the lock held below meets only the loads.
    runs = [start_cli(materialize_command(key, select=MONTHLY_CHAIN), env) for key in keys]
    try:
        deadline = time.monotonic() + 240
        while not (lake_file(lake_dir, "fhv", "2019-01").exists() and lake_file(lake_dir, "fhv", "2020-01").exists()):
            ended = [r for r in runs if r.poll() is not None]
            assert not ended, ended[0].stdout.read()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.5)
    finally:
        holder.close()
    outputs = [r.communicate(timeout=240)[0] for r in runs]

    assert [r.returncode for r in runs] == [0, 0, 0], [o[-3000:] for o in outputs]
    assert warehouse_rows(database) == {("fhv", "2019-01"): 18, ("fhv", "2020-01"): 16}
    records = run_records(tmp_path / "dagster_home")
    assert len(records) == 3
    for _, events in records:
        assert not [e for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"]


@pytest.mark.cli
def test_a_real_month_and_a_bad_copy_run_at_once_end_with_the_audited_publication(tmp_path, release_url):
    """Two runs of one month a fraction of a second apart, one from the real file, one from a copy
    that lost most of it (its audit blocks it), at several offsets: each ends with the lake file
    and the slice of the real month, never the bad copy and never a mix."""
    good = cli_env(tmp_path, release_url)
    bad = {
        **good,
        "TAXI_SOURCE_URL": mirror_of_lines(
            tmp_path / "shrunk", "green", "2020-04", release_lines("green", "2020-04", 1_000)
        ),
    }
    lake, database = lake_file(tmp_path / "lake", "green", "2020-04"), tmp_path / "warehouse.duckdb"
    command = materialize_command("green|2020-04-01", select=MONTHLY_CHAIN)
    first = run_cli(command, good)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    published, slice_rows = hashlib.sha256(lake.read_bytes()).hexdigest(), warehouse_rows(database)
    assert slice_rows == {("green", "2020-04"): 35_612}
    # Alone, the bad copy is blocked by its audit, and the command line ends saying so.
    blocked = run_cli(command, bad)
    assert blocked.returncode == 1
    assert (
        blocked.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "taxi_pipeline: audit_cleaned_trips failed: green 2020-04 not published: rows_near_previous_publication: "
            "1,000 rows, 97.2% fewer than the 35,612 last published"
        )
    ), blocked.stderr[-3000:]

    for offset in (0.0, 0.4, 1.0):
        runs = [start_cli(command, bad)]
        time.sleep(offset)
        runs.append(start_cli(command, good))
        outputs = [r.communicate(timeout=240)[0] for r in runs]

        # Either run may have converted the other's download (the raw zone holds one file a month):
        # whichever bytes each staged, only those whose audit passed may be in the lake.
        assert hashlib.sha256(lake.read_bytes()).hexdigest() == published, (offset, outputs[1][-3000:])
        assert warehouse_rows(database) == slice_rows
        assert parquet_checksum(lake) == slice_checksums(database)[("green", "2020-04")]
