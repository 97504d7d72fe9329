"""Silent loss and wrong data: a warehouse path that is not a DuckDB file, a month re-published
with most of its rows gone or under another month's name, a lake file cut short or deleted, a
failed commit, and the raw file's data version.

Each test runs the real assets on the bundled green 2020-04 file (35,612 rows) into DuckDB.
"""

import errno
import hashlib
import os
import subprocess
import tempfile
from datetime import date

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource
from upath import UPath

from taxi_pipeline.definitions import build_trip_assets
from taxi_pipeline.defs.lake.files import local_part_file
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline.lib.quality import RowDropThresholds
from taxi_pipeline.settings import SettingError, Settings
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, materialize, metadata_of, only_step_failure, retried_steps
from taxi_pipeline_tests.support.samples import lake_file, mirror_of_lines, release_file, release_lines
from taxi_pipeline_tests.support.trips import cleaned_sample
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = pytest.mark.faults

GREEN_APRIL = "green|2020-04-01"
GREEN_ROWS = 35_612
APRIL = date(2020, 4, 1)


def failure_message(result: dg.ExecuteInProcessResult, step: str) -> str:
    """The description of the run's one step failure, which must be `step`'s."""
    failure = only_step_failure(result)
    assert failure.step_key == step
    return failure.step_failure_data.user_failure_data.description


# --- a lake file cut short or deleted before the load ---------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_damaged_lake_file_fails_the_load_at_once_naming_it(damage, make_resources, release_url, lake_dir):
    resources = make_resources(release_url)
    instance = dg.DagsterInstance.ephemeral()  # one instance remembers the publication, as DAGSTER_HOME does
    assert materialize(resources, GREEN_APRIL, instance=instance).success
    path = lake_file(lake_dir, "green", "2020-04")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.unlink()

    result = dg.materialize(
        TRIP_ASSETS,
        selection=["warehouse_trips"],
        partition_key=GREEN_APRIL,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )

    message = failure_message(result, "warehouse_trips")
    assert str(path) in message and "materialize lake_trips_parquet for green|2020-04-01 again" in message
    assert ("is missing" in message) == (damage == "missing")
    assert retried_steps(result) == []


# --- a re-published month that lost most of its rows, another month's file ------------------


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.mark.parametrize(
    ("rows", "passed", "severity", "published"),
    [
        (1_000, False, dg.AssetCheckSeverity.ERROR, False),  # 97% fewer: blocks
        (28_000, False, dg.AssetCheckSeverity.WARN, True),  # 21% fewer: warns, published
        (35_000, True, dg.AssetCheckSeverity.WARN, True),  # 2% fewer: passes
    ],
    ids=["97pct-fewer-blocks", "21pct-fewer-warns", "2pct-fewer-passes"],
)
def test_a_republished_month_with_fewer_rows_is_compared_with_the_last_publication(
    rows, passed, severity, published, tmp_path, make_resources, release_url, lake_dir, duckdb_path
):
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(make_resources(release_url), GREEN_APRIL, instance=instance)
    assert first.success
    assert check_evaluations(first)["rows_near_previous_publication"].passed

    smaller = mirror_of_lines(tmp_path / "release", "green", "2020-04", release_lines("green", "2020-04", rows))
    result = materialize(make_resources(smaller), GREEN_APRIL, instance=instance)

    check = check_evaluations(result)["rows_near_previous_publication"]
    assert (check.passed, check.severity) == (passed, severity)
    assert check.metadata["previous_rows"].value == GREEN_ROWS and check.metadata["rows"].value == rows
    expected = rows if published else GREEN_ROWS
    assert pq.read_metadata(lake_file(lake_dir, "green", "2020-04")).num_rows == expected
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): expected}
    if not published:
        assert f"{rows:,} rows, 97.2% fewer than the {GREEN_ROWS:,} last published" in check.description


def test_another_months_file_under_this_months_name_is_not_published(tmp_path, make_resources, lake_dir, duckdb_path):
    may = mirror_of_lines(tmp_path / "release", "green", "2020-05", release_lines("green", "2020-04"))

    result = materialize(make_resources(may), "green|2020-05-01")

    check = check_evaluations(result)["pickups_within_the_month"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert "outside 2020-05: another month's file under this name?" in check.description
    assert not lake_file(lake_dir, "green", "2020-05").exists() and warehouse_rows(duckdb_path) == {}


def test_a_small_share_of_pickups_outside_the_month_still_only_warns(release_url, make_resources):
    result = materialize(make_resources(release_url), GREEN_APRIL)

    check = check_evaluations(result)["pickups_within_the_month"]
    assert result.success and check.severity == dg.AssetCheckSeverity.WARN


def test_the_row_drop_and_growth_thresholds_are_settings(tmp_path):
    base = {"TAXI_LAKE_DIR": str(tmp_path)}
    assert Settings.from_environment(base).row_drop == RowDropThresholds(0.10, 0.50, 0.10, 0.50)
    given = Settings.from_environment({**base, "TAXI_ROW_DROP_WARN": "5%", "TAXI_ROW_DROP_BLOCK": "0.9"})
    assert given.row_drop == RowDropThresholds(0.05, 0.90)
    grown = Settings.from_environment({**base, "TAXI_ROW_GROWTH_WARN": "25%", "TAXI_ROW_GROWTH_BLOCK": "3"})
    assert grown.row_drop == RowDropThresholds(0.10, 0.50, 0.25, 3.0)
    with pytest.raises(SettingError, match=r"^TAXI_ROW_GROWTH_BLOCK='-1' is not a share between 0 and 100"):
        Settings.from_environment({**base, "TAXI_ROW_GROWTH_BLOCK": "-1"})
    with pytest.raises(SettingError, match=r"^TAXI_ROW_GROWTH_WARN \(0.6\) is above TAXI_ROW_GROWTH_BLOCK \(0.5\)"):
        Settings.from_environment({**base, "TAXI_ROW_GROWTH_WARN": "0.6"})
    with pytest.raises(SettingError, match="^TAXI_ROW_DROP_BLOCK='lots' is not a share between 0 and 1"):
        Settings.from_environment({**base, "TAXI_ROW_DROP_BLOCK": "lots"})
    with pytest.raises(SettingError, match=r"^TAXI_ROW_DROP_WARN \(0.6\) is above TAXI_ROW_DROP_BLOCK \(0.5\)"):
        Settings.from_environment({**base, "TAXI_ROW_DROP_WARN": "0.6"})


# --- a full disk under the warehouse file or the temp folder --------------------------------


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A tmpfs of 2 MiB (the tests run as root on the build machine), so that writes really meet
    ENOSPC; skipped where tmpfs cannot be mounted (not root)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_at_commit_reports_the_disk_not_the_rollback(tiny_filesystem, tmp_path):
    source = tmp_path / "green_tripdata_2020-04.parquet"  # 106,836 rows: more than 2 MiB in DuckDB
    write_lake_parquet(pa.concat_tables([cleaned_sample("green", "2020-04")] * 3), source)
    database = tiny_filesystem / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(database)))

    with pytest.raises(duckdb.Error) as raised:
        warehouse.load_slice(UPath(source), "green", APRIL)

    message = str(raised.value)
    assert "No space left on device" in message and str(database) in message
    assert "rollback" not in message and "invalidated" not in message


def test_a_full_temp_folder_names_the_file_being_written(tiny_filesystem, monkeypatch, release_url):
    monkeypatch.setattr(tempfile, "tempdir", str(tiny_filesystem))
    (tiny_filesystem / "filler").write_bytes(b"\0" * (2 * 2**20 - 300_000))  # 670 KB do not fit

    with pytest.raises(OSError) as raised:
        with local_part_file("green_tripdata_2020-04.", ".csv.gz.part") as part:
            TripSourceResource(base_url=release_url).download("green", APRIL, part)

    assert raised.value.errno == errno.ENOSPC
    assert f"No space left on device (writing {part})" in str(raised.value) and str(tiny_filesystem) in str(part)
    assert not part.exists()


# --- the raw file's data version ------------------------------------------------------------


def raw_data_version(result: dg.ExecuteInProcessResult) -> str:
    [materialization] = result.asset_materializations_for_node("raw_trips")
    return materialization.tags["dagster/data_version"]


def test_the_raw_files_data_version_is_its_sha256_and_changes_only_with_its_bytes(
    tmp_path, make_resources, release_url
):
    instance = dg.DagsterInstance.ephemeral()
    raw_only = {"selection": ["raw_trips"], "partition_key": GREEN_APRIL, "instance": instance}

    first = dg.materialize(TRIP_ASSETS, resources=make_resources(release_url), **raw_only)
    again = dg.materialize(TRIP_ASSETS, resources=make_resources(release_url), **raw_only)
    changed = mirror_of_lines(tmp_path / "release", "green", "2020-04", release_lines("green", "2020-04", 1_000))
    other = dg.materialize(TRIP_ASSETS, resources=make_resources(changed), **raw_only)

    sha256 = hashlib.sha256(release_file("green", "2020-04").read_bytes()).hexdigest()
    assert raw_data_version(first) == raw_data_version(again) == sha256 == metadata_of(first, "raw_trips")["sha256"]
    assert raw_data_version(other) == metadata_of(other, "raw_trips")["sha256"] != sha256


def test_a_month_that_really_grew_publishes_once_the_growth_allowed_is_raised(
    tmp_path, make_resources, release_url, lake_dir
):
    instance = dg.DagsterInstance.ephemeral()
    first = mirror_of_lines(tmp_path / "first", "green", "2020-04", release_lines("green", "2020-04", 10_000))
    assert materialize(make_resources(first), GREEN_APRIL, instance=instance).success

    blocked = materialize(make_resources(release_url), GREEN_APRIL, instance=instance)
    assert not blocked.success
    assert check_evaluations(blocked)["rows_near_previous_publication"].description == (
        "35,612 rows, 256.1% more than the 10,000 last published; every row twice? "
        "If the source really grew, raise TAXI_ROW_GROWTH_BLOCK"
    )

    allowing = build_trip_assets(
        row_drop=Settings.from_environment({"TAXI_LAKE_DIR": str(tmp_path), "TAXI_ROW_GROWTH_BLOCK": "3"}).row_drop
    )
    result = dg.materialize(
        allowing.assets + allowing.checks,
        partition_key=GREEN_APRIL,
        resources=make_resources(release_url),
        instance=instance,
    )
    check = check_evaluations(result)["rows_near_previous_publication"]
    assert result.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert pq.ParquetFile(lake_file(lake_dir, "green", "2020-04")).metadata.num_rows == 35_612
