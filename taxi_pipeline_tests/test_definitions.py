import itertools

import dagster as dg
import pytest

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.definitions import defs as load_definitions
from taxi_pipeline.partitions import course_partitions, split_partition_key, trip_partition_key
from taxi_pipeline.settings import SettingError, Settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    """The code location as Dagster loads it, with the environment the tests run in."""
    return load_definitions()


def definitions_for(monkeypatch, target: str) -> dg.Definitions:
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", target)
    if target == "gcp":
        monkeypatch.setenv("GCS_BUCKET", "taxi-lake")
        monkeypatch.setenv("GCP_PROJECT", "taxi-project")
    return build_definitions(Settings.from_environment())


ASSET_NAMES = ["raw_trips", "cleaned_trips", "lake_trips_parquet", "warehouse_trips"]
ZONE_ASSET = "taxi_zones"  # not partitioned: a single table for every color and month
REPORT_ASSET = "trips_per_month"  # not partitioned either: one report over every loaded slice


def test_definitions_load_and_validate(defs):
    dg.Definitions.validate_loadable(defs)


def test_four_partitioned_assets_the_zone_table_and_the_report_in_one_group_with_descriptions_and_kinds(defs):
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}

    assert sorted(specs) == sorted([*ASSET_NAMES, ZONE_ASSET, REPORT_ASSET])
    for name in [*ASSET_NAMES, ZONE_ASSET, REPORT_ASSET]:
        assert specs[name].group_name == "nyc_taxi"
        assert specs[name].description
        assert specs[name].kinds
    for name in ASSET_NAMES:
        assert specs[name].partitions_def == course_partitions
    assert specs[ZONE_ASSET].partitions_def is None
    assert "duckdb" in specs["warehouse_trips"].kinds
    assert specs[ZONE_ASSET].kinds == {"csv", "duckdb"}
    assert specs[REPORT_ASSET].partitions_def is None
    assert specs[REPORT_ASSET].kinds == {"python", "duckdb"}


def test_the_report_reads_warehouse_trips_and_runs_by_automation_not_in_a_job(defs):
    graph = defs.resolve_asset_graph()
    report = graph.get(dg.AssetKey(REPORT_ASSET))

    assert report.parent_keys == {dg.AssetKey("warehouse_trips")}
    assert report.automation_condition.get_label() == "after_any_load"
    assert all(
        dg.AssetKey(REPORT_ASSET) not in job.asset_layer.selected_asset_keys
        for job in (defs.resolve_job_def("trips_job"), defs.resolve_job_def("zones_job"))
    )
    # Dagster's default automation sensor would start stopped; the report's own starts running
    # and is the only automation sensor, so no default one is added beside it.
    sensors = defs.get_repository_def().sensor_defs
    automation = [s for s in sensors if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert [s.name for s in automation] == ["trips_per_month_automation"]
    assert automation[0].default_status == dg.DefaultSensorStatus.RUNNING
    assert automation[0].asset_selection.resolve(graph) == {dg.AssetKey(REPORT_ASSET)}


def test_trips_job_holds_the_monthly_chain_and_zones_job_the_zone_table(defs):
    trips, zones = defs.resolve_job_def("trips_job"), defs.resolve_job_def("zones_job")

    assert {key.to_user_string() for key in trips.asset_layer.selected_asset_keys} == set(ASSET_NAMES)
    assert trips.partitions_def == course_partitions
    assert {key.to_user_string() for key in zones.asset_layer.selected_asset_keys} == {ZONE_ASSET}


def test_assets_form_one_chain(defs):
    graph = defs.resolve_asset_graph()

    for upstream, downstream in itertools.pairwise(ASSET_NAMES):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys


def test_partition_keys_read_color_pipe_month():
    keys = course_partitions.get_partition_keys()

    assert trip_partition_key("yellow", "2021-01-01") == "yellow|2021-01-01"
    assert "yellow|2021-01-01" in keys and "fhv|2019-01-01" in keys and "green|2018-12-01" not in keys
    assert split_partition_key("green|2020-04-01") == ("green", __import__("datetime").date(2020, 4, 1))


def test_default_target_is_local(monkeypatch):
    monkeypatch.delenv("TAXI_PIPELINE_TARGET", raising=False)

    assert Settings.from_environment().target == "local"
    assert set(definitions_for(monkeypatch, "local").resources) >= {
        "source",
        "raw_io_manager",
        "staging_io_manager",
        "lake_io_manager",
        "lake",
        "warehouse",
    }


def test_unknown_target_names_the_setting(monkeypatch):
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", "mainframe")

    with pytest.raises(SettingError, match="TAXI_PIPELINE_TARGET='mainframe'.*local"):
        Settings.from_environment()


def test_settings_from_the_environment_show_as_env_vars(monkeypatch):
    monkeypatch.setenv("TAXI_LAKE_DIR", "/somewhere/lake")
    monkeypatch.delenv("TAXI_DUCKDB_PATH", raising=False)

    resources = definitions_for(monkeypatch, "local").resources

    assert resources["lake_io_manager"].lake.base_path == dg.EnvVar("TAXI_LAKE_DIR")
    assert resources["warehouse"].duckdb_resource.database == "data/warehouse.duckdb"


def warehouse_of(defs: dg.Definitions) -> tuple[str, set[str]]:
    [spec] = [s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("warehouse_trips")]
    [zones] = [s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(ZONE_ASSET)]
    assert set(zones.kinds) - {"csv"} == set(spec.kinds) - {"sql"}  # both load the same warehouse
    return type(defs.resources["warehouse"]).__name__, set(spec.kinds) - {"sql"}


@pytest.mark.parametrize(
    "target, setting, expected",
    [
        ("local", None, ("DuckDBWarehouse", {"duckdb"})),
        ("local", "postgres", ("PostgresWarehouse", {"postgres"})),
        ("gcp", None, ("BigQueryWarehouse", {"bigquery"})),
        ("gcp", "postgres", ("PostgresWarehouse", {"postgres"})),
    ],
)
def test_taxi_warehouse_picks_the_warehouse_and_its_kind(target, setting, expected, monkeypatch):
    if setting is None:
        monkeypatch.delenv("TAXI_WAREHOUSE", raising=False)
    else:
        monkeypatch.setenv("TAXI_WAREHOUSE", setting)
        monkeypatch.setenv("TAXI_POSTGRES_URL", "postgresql://taxi:not-used@127.0.0.1:5432/taxi")

    defs = definitions_for(monkeypatch, target)

    assert warehouse_of(defs) == expected
    if setting == "postgres":
        assert defs.resources["warehouse"].url == dg.EnvVar("TAXI_POSTGRES_URL")  # the UI shows the name only


@pytest.mark.parametrize("target, value", [("local", "oracle"), ("local", "bigquery"), ("gcp", "duckdb")])
def test_a_warehouse_the_target_cannot_use_names_the_setting(target, value, monkeypatch):
    monkeypatch.setenv("TAXI_WAREHOUSE", value)

    with pytest.raises(SettingError) as raised:
        definitions_for(monkeypatch, target)

    allowed = "duckdb, postgres" if target == "local" else "bigquery, postgres"
    assert (
        str(raised.value)
        == f"TAXI_WAREHOUSE={value!r} is not a warehouse of the {target} target; use one of: {allowed}"
    )


def test_the_definitions_import_no_database_driver_they_do_not_use():
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TAXI_")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, taxi_pipeline.definitions as d; d.defs(); "
            "print(sorted({'psycopg', 'google.cloud.bigquery'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )

    assert done.stdout.strip() == "[]"
