"""Write faults: processes killed mid-write (SIGKILL), a file-size limit, a folder denied."""

import json
import os
import re
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline_tests.support.files import leftovers
from taxi_pipeline_tests.support.runs import cli_env, materialize_command, run_child, run_cli, start_child
from taxi_pipeline_tests.support.samples import release_file
from taxi_pipeline_tests.support.trips import cleaned_sample
from taxi_pipeline_tests.support.warehouse_rows import parquet_checksum, slice_checksums

pytestmark = pytest.mark.faults

APRIL = date(2020, 4, 1)
GREEN_ROWS, COPIES = 35_612, 60  # the big file: 60 copies of green 2020-04, 2,136,720 rows


@pytest.fixture(scope="module")
def big_lake_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "green_tripdata_2020-04.parquet"
    pq.write_table(
        pa.concat_tables([cleaned_sample("green", "2020-04")] * COPIES),
        path,
        compression="zstd",
        row_group_size=100_000,
    )
    return path


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# --- killed in the middle of writing the lake file --------------------------------------------


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-file", "first-write"])
def test_a_lake_write_killed_midway_leaves_the_previous_file_or_none(previous, big_lake_file, tmp_path):
    target = tmp_path / "data" / "green" / "green_tripdata_2020-04.parquet"
    target.parent.mkdir(parents=True)
    if previous:
        write_lake_parquet(cleaned_sample("green", "2020-04"), target)
    before = target.read_bytes() if previous else None

    writer = start_child("write_big_file", str(target), str(big_lake_file))
    # SIGKILL once the temporary holds 4 MiB: the writer is in the middle of the file.
    wait_for(lambda: any(p.stat().st_size > 4 << 20 for p in leftovers(tmp_path)))
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    assert writer.returncode == -signal.SIGKILL
    if previous:
        assert target.read_bytes() == before and pq.read_metadata(target).num_rows == GREEN_ROWS
    else:
        assert not target.exists()
    # The partial bytes stay under a hidden temporary name that no reader looks for.
    [partial] = leftovers(tmp_path)
    assert partial.name.startswith(".green_tripdata_2020-04.parquet.")


# --- killed in the middle of the warehouse load ----------------------------------------------


@pytest.fixture
def loaded_warehouse(tmp_path, duckdb_path):
    small = tmp_path / "small.parquet"
    write_lake_parquet(cleaned_sample("green", "2020-04"), small)
    DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path))).load_slice(UPath(small), "green", APRIL)
    return slice_checksums(duckdb_path)[("green", "2020-04")]


def test_a_load_killed_before_commit_leaves_the_previous_slice(loaded_warehouse, big_lake_file, duckdb_path):
    loader = start_child("load_killed_at_commit", str(duckdb_path), str(big_lake_file))
    loader.wait(timeout=120)

    assert loader.returncode == -signal.SIGKILL
    assert slice_checksums(duckdb_path) == {("green", "2020-04"): loaded_warehouse}
    # The next load takes the file (lock released with the process) and replaces the slice whole.
    load = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path))).load_slice(
        UPath(big_lake_file), "green", APRIL
    )
    assert (load.rows_replaced, load.slice_rows) == (GREEN_ROWS, GREEN_ROWS * COPIES)


@pytest.mark.parametrize("after_seconds", [0.3, 1.0])
def test_a_load_killed_at_any_moment_leaves_the_old_slice_or_the_new(
    after_seconds, loaded_warehouse, big_lake_file, duckdb_path
):
    loader = start_child("load_duckdb_slice", str(duckdb_path), str(big_lake_file))
    assert loader.stdout.readline() == "loading\n"
    time.sleep(after_seconds)
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=30)

    after = slice_checksums(duckdb_path)
    assert after in ({("green", "2020-04"): loaded_warehouse}, {("green", "2020-04"): parquet_checksum(big_lake_file)})


# --- file too large / permission denied on the lake folder -----------------------------------


def write_through_io_manager(lake: Path, source: Path, limit: int = 0) -> list[str]:
    writer = start_child("write_through_io_manager", str(lake), str(source), str(limit))
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_a_full_disk_fails_naming_the_lake_file_and_keeps_the_previous_one(tmp_path):
    lake = tmp_path / "lake"
    target = lake / "data" / "green" / "green_tripdata_2020-04.parquet"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"previous complete file")
    source = tmp_path / "source.parquet"
    write_lake_parquet(cleaned_sample("green", "2020-04"), source)

    messages = write_through_io_manager(lake, source, limit=64 << 10)

    assert messages[0].startswith(
        'dagster._core.errors.DagsterExecutionHandleOutputError: Error occurred while handling output "result"'
    )
    assert messages[1] == (
        f"taxi_pipeline.defs.lake.files.LakeWriteError: [Errno 27] cannot write {target} in the lake "
        "(TAXI_LAKE_DIR): File too large"
    )
    assert target.read_bytes() == b"previous complete file" and leftovers(lake) == []


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a file system of a given size in bytes (tmpfs) at a new folder of tmp_path and
    returns the folder: a disk that really fills, ENOSPC from the kernel. Needs root (or
    CAP_SYS_ADMIN); the test is skipped where mounting is not allowed."""
    mounted = []

    def mount(size: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=True)


GREEN_RAW_BYTES = release_file("green", "2020-04").stat().st_size


@pytest.mark.cli
@pytest.mark.parametrize(
    "disk_bytes, step, zone, suffix",
    [
        (64 << 10, "raw_trips", "raw", ".csv.gz"),  # the zone table fits, the month's file does not
        (GREEN_RAW_BYTES + (128 << 10), "cleaned_trips", "staging", ".parquet"),  # the raw file fits
    ],
    ids=["raw-zone", "staging-zone"],
)
def test_a_full_lake_disk_ends_the_cli_with_one_line_naming_the_path_and_the_cause(
    disk_bytes, step, zone, suffix, small_disk, tmp_path, release_url
):
    lake = small_disk(disk_bytes)

    done = run_cli(materialize_command("green|2020-04-01"), cli_env(tmp_path, release_url, TAXI_LAKE_DIR=str(lake)))

    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    named = re.fullmatch(
        rf"taxi_pipeline: {step} failed: cannot write (\S+) in the lake \(TAXI_LAKE_DIR\): No space left on device",
        last,
    )
    assert named, last
    path = Path(named[1])
    assert path.is_relative_to(lake / zone / "green") and path.name.endswith(suffix), last
    assert "Traceback" not in done.stderr + done.stdout
    assert leftovers(lake) == [] and not list((lake / "data").rglob("*.parquet"))


@pytest.fixture
def deny_writes():
    """Makes a folder refuse new files for real: chmod for a user; for root, whom permissions do
    not stop, the immutable attribute (chattr +i). Returns the reason the write fails with."""
    denied = []

    def deny(folder: Path) -> str:
        if os.getuid() != 0:
            folder.chmod(0o555)
            denied.append(lambda: folder.chmod(0o755))
            return "Permission denied"
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a file system without chattr +i: nothing denies root a write")
        denied.append(lambda: subprocess.run(["chattr", "-i", str(folder)], check=True))
        return "Operation not permitted"

    yield deny
    for undo in denied:
        undo()


def test_a_lake_folder_that_denies_writes_fails_naming_the_path(tmp_path, deny_writes):
    lake = tmp_path / "lake"
    folder = lake / "data" / "green"
    folder.mkdir(parents=True)
    source = tmp_path / "source.parquet"
    write_lake_parquet(cleaned_sample("green", "2020-04"), source)
    reason = deny_writes(folder)

    messages = write_through_io_manager(lake, source)

    target = folder / "green_tripdata_2020-04.parquet"
    assert messages[1].startswith("taxi_pipeline.defs.lake.files.LakeWriteError: [Errno ")
    assert messages[1].endswith(f"] cannot write {target} in the lake (TAXI_LAKE_DIR): {reason}")
    assert not target.exists()


def test_a_lake_path_turned_into_a_file_fails_naming_the_path(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "data").write_text("a file where the data folder should be")
    source = tmp_path / "source.parquet"
    write_lake_parquet(cleaned_sample("green", "2020-04"), source)

    messages = write_through_io_manager(lake, source)

    assert messages[1].startswith(
        f"taxi_pipeline.defs.lake.files.LakeWriteError: [Errno 20] cannot write {lake / 'data' / 'green'} in the lake"
    )


def test_a_failed_load_releases_the_warehouse_file_at_once(tmp_path, duckdb_path):
    wrong = tmp_path / "yellow.parquet"
    write_lake_parquet(cleaned_sample("fhv", "2019-01", APRIL), wrong)

    with pytest.raises(Exception, match="not green 2020-04"):
        DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path))).load_slice(
            UPath(wrong), "green", APRIL
        )

    # Another process opens the file for writing without waiting: the lock went with the failure.
    other = run_child("open_duckdb_for_writing", str(duckdb_path), timeout=60)
    assert other.returncode == 0, other.stderr[-2000:]
