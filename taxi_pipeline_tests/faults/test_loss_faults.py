"""Silent loss and wrong data: a warehouse path that is not a DuckDB file, a month re-published
with most of its rows gone or under another month's name, a lake file cut short or deleted, a
failed commit, and the raw file's data version.

Each test runs the real assets on the bundled green 2020-04 file (35,612 rows) into DuckDB.
"""

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.settings import SettingError, Settings
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, materialize, only_step_failure, retried_steps
from taxi_pipeline_tests.support.samples import lake_file

pytestmark = pytest.mark.faults

GREEN_APRIL = "green|2020-04-01"
GREEN_ROWS = 35_612


def failure_message(result: dg.ExecuteInProcessResult, step: str) -> str:
    """The description of the run's one step failure, which must be `step`'s."""
    failure = only_step_failure(result)
    assert failure.step_key == step
    return failure.step_failure_data.user_failure_data.description


# --- TAXI_DUCKDB_PATH naming a file that is not a DuckDB database ---------------------------


@pytest.mark.parametrize(
    ("make_file", "kind"),
    [
        (lambda path: pq.write_table(pa.table({"fare_amount": [5.5]}), path), "a parquet file"),
        (lambda path: path.write_text("VendorID,fare_amount\n2,5.5\n"), "not a DuckDB database"),
        (lambda path: path.touch(), "an empty file"),
    ],
    ids=["parquet", "csv", "empty"],
)
def test_a_duckdb_path_naming_another_kind_of_file_is_refused(
    make_file, kind, tmp_path, make_resources, release_url, duckdb_path
):
    make_file(duckdb_path)
    before = duckdb_path.read_bytes()

    result = materialize(make_resources(release_url), GREEN_APRIL, with_checks=True)

    message = failure_message(result, "warehouse_trips")
    assert message.startswith(f"TAXI_DUCKDB_PATH={str(duckdb_path)!r} is {kind}") and "\n" not in message
    assert retried_steps(result) == []
    assert duckdb_path.read_bytes() == before
    with pytest.raises(SettingError, match=f"^TAXI_DUCKDB_PATH=.* is {kind}"):
        Settings.from_environment({"TAXI_DUCKDB_PATH": str(duckdb_path), "TAXI_LAKE_DIR": str(tmp_path / "lake")})


def test_an_existing_duckdb_file_is_accepted(tmp_path, duckdb_path):
    duckdb.connect(str(duckdb_path)).close()
    settings = Settings.from_environment({"TAXI_DUCKDB_PATH": str(duckdb_path), "TAXI_LAKE_DIR": str(tmp_path)})
    assert settings.duckdb_path == str(duckdb_path)


# --- a lake file cut short or deleted before the load ---------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_damaged_lake_file_fails_the_load_at_once_naming_it(damage, make_resources, release_url, lake_dir):
    resources = make_resources(release_url)
    assert materialize(resources, GREEN_APRIL).success
    path = lake_file(lake_dir, "green", "2020-04")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.unlink()

    result = dg.materialize(
        TRIP_ASSETS, selection=["warehouse_trips"], partition_key=GREEN_APRIL, resources=resources, raise_on_error=False
    )

    message = failure_message(result, "warehouse_trips")
    assert str(path) in message and "materialize lake_trips_parquet for green|2020-04-01 again" in message
    assert ("is missing" in message) == (damage == "missing")
    assert retried_steps(result) == []
