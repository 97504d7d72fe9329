"""The four assets end to end into Postgres: a real HTTP server, a local lake, a real cluster."""

from datetime import date
from urllib.parse import urlsplit

import dagster as dg
import pytest

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.defs.warehouse.assets import taxi_zones
from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, TRIP_CHECKS, metadata_of, only_step_failure
from taxi_pipeline_tests.support.samples import (
    YELLOW_APRIL_ROWS,
    ZONES_ROWS,
    lake_zones,
    mirror_with_two_colors_in_april,
    release_zones,
)

pytestmark = pytest.mark.postgres

APRIL = date(2020, 4, 1)


@pytest.fixture
def postgres_env(monkeypatch, release_url, lake_dir, postgres_url):
    """The environment of a local-target run that loads into Postgres."""
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", "local")
    monkeypatch.setenv("TAXI_WAREHOUSE", "postgres")
    monkeypatch.setenv("TAXI_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("TAXI_SOURCE_URL", release_url)
    monkeypatch.setenv("TAXI_LAKE_DIR", str(lake_dir))
    return postgres_url


def materialize(partition_key: str) -> dg.ExecuteInProcessResult:
    """The assets with the resources the definitions build from the environment."""
    resources = build_definitions(Settings.from_environment()).resources
    return dg.materialize(
        TRIP_ASSETS + TRIP_CHECKS, partition_key=partition_key, resources=resources, raise_on_error=False
    )


def test_the_definitions_load_into_postgres_when_the_setting_says_so(postgres_env):
    defs = build_definitions(Settings.from_environment())

    assert defs.resources["warehouse"] == PostgresWarehouse(url=dg.EnvVar("TAXI_POSTGRES_URL"))
    [spec] = [s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("warehouse_trips")]
    assert "postgres" in spec.kinds and "duckdb" not in spec.kinds


def test_green_april_lands_every_row_and_rematerializing_keeps_the_count(postgres_env):
    first = materialize("green|2020-04-01")
    again = materialize("green|2020-04-01")

    assert first.success and again.success
    warehouse = PostgresWarehouse(url=postgres_env)
    assert warehouse.slice_counts() == [("green", APRIL, 35_612)]
    loaded, reloaded = metadata_of(first, "warehouse_trips"), metadata_of(again, "warehouse_trips")
    assert (loaded["rows_loaded"], loaded["rows_replaced"], loaded["slice_rows"]) == (35_612, 0, 35_612)
    assert (reloaded["rows_loaded"], reloaded["rows_replaced"], reloaded["slice_rows"]) == (35_612, 35_612, 35_612)
    database = urlsplit(postgres_env).path.lstrip("/")
    assert loaded["table"] == loaded["dagster/table_name"] == f"{database}.public.trips"
    [check] = [e for e in again.get_asset_check_evaluations() if e.check_name == "slice_matches_lake_file"]
    assert check.passed and check.metadata["lake_file_rows"].value == 35_612
    assert loaded["sha256"] == reloaded["sha256"] and loaded["source"] == "course"
    password = postgres_env.split(":")[2].split("@")[0]
    assert password not in repr(loaded) and password not in repr(reloaded)


def test_two_colors_of_one_month_coexist(postgres_env, monkeypatch, tmp_path):
    # The TLC's sample of yellow 2020-04 beside the green month, in a mirror made for this test.
    monkeypatch.setenv("TAXI_SOURCE_URL", mirror_with_two_colors_in_april(tmp_path / "mirror").as_uri())

    assert materialize("green|2020-04-01").success
    assert materialize("yellow|2020-04-01").success

    assert PostgresWarehouse(url=postgres_env).slice_counts() == [
        ("green", APRIL, 35_612),
        ("yellow", APRIL, YELLOW_APRIL_ROWS),
    ]


def test_wrong_credentials_fail_the_load_at_once_without_the_password(postgres_env, monkeypatch):
    secret = "not-the-Passw0rd"
    user = postgres_env.split("//")[1].split(":")[0]
    monkeypatch.setenv(
        "TAXI_POSTGRES_URL", postgres_env.replace(postgres_env.split("//")[1].split("@")[0], f"{user}:{secret}")
    )

    result = materialize("green|2020-04-01")

    assert not result.success
    failure = only_step_failure(result)
    assert failure.step_key == "warehouse_trips"
    error = failure.step_failure_data.error
    assert "(TAXI_POSTGRES_URL)" in error.message and "password authentication failed" in error.message
    assert failure.step_failure_data.user_failure_data is not None  # dg.Failure: no retries
    assert secret not in repr(failure.step_failure_data) and all(secret not in str(e) for e in result.all_events)


def test_taxi_zones_loads_the_zone_table_into_postgres_and_replaces_it_whole(postgres_env, lake_dir):
    import psycopg

    resources = build_definitions(Settings.from_environment()).resources
    first = dg.materialize([taxi_zones], resources=resources, raise_on_error=False)
    again = dg.materialize([taxi_zones], resources=resources, raise_on_error=False)

    assert first.success and again.success
    assert metadata_of(again, "taxi_zones")["dagster/row_count"] == ZONES_ROWS
    assert lake_zones(lake_dir).read_bytes() == release_zones().read_bytes()
    with psycopg.connect(postgres_env) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT location_id) FROM zones").fetchone() == (265, 265)
        assert conn.execute("SELECT zone FROM zones WHERE location_id = 265").fetchone() == ("NA",)
