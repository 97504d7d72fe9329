import dagster as dg
import pytest

from taxi_pipeline.definitions import build_definitions, defs
from taxi_pipeline.partitions import split_partition_key, trip_partition_key, trip_partitions
from taxi_pipeline.settings import SettingError, pipeline_target

ASSET_NAMES = ["raw_trips_csv", "cleaned_trips", "lake_trips_parquet", "warehouse_trips"]


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)


def test_four_assets_in_one_group_with_descriptions_kinds_and_partitions():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}

    assert sorted(specs) == sorted(ASSET_NAMES)
    for name in ASSET_NAMES:
        assert specs[name].group_name == "nyc_taxi"
        assert specs[name].description
        assert specs[name].kinds
        assert specs[name].partitions_def == trip_partitions
    assert "duckdb" in specs["warehouse_trips"].kinds


def test_assets_form_one_chain():
    graph = defs.resolve_asset_graph()

    for upstream, downstream in zip(ASSET_NAMES, ASSET_NAMES[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys


def test_partition_keys_read_color_pipe_month():
    keys = trip_partitions.get_partition_keys()

    assert trip_partition_key("yellow", "2021-01-01") == "yellow|2021-01-01"
    assert "yellow|2021-01-01" in keys and "fhv|2019-01-01" in keys and "green|2018-12-01" not in keys
    assert split_partition_key("green|2020-04-01") == ("green", __import__("datetime").date(2020, 4, 1))


def test_default_target_is_local(monkeypatch):
    monkeypatch.delenv("TAXI_PIPELINE_TARGET", raising=False)

    assert pipeline_target() == "local"
    assert set(build_definitions("local").resources) >= {"source", "raw_io_manager", "staging_io_manager", "lake_io_manager", "warehouse"}


def test_unknown_target_names_the_setting(monkeypatch):
    monkeypatch.setenv("TAXI_PIPELINE_TARGET", "mainframe")

    with pytest.raises(SettingError, match="TAXI_PIPELINE_TARGET='mainframe'.*local"):
        pipeline_target()


def test_settings_from_the_environment_show_as_env_vars(monkeypatch):
    monkeypatch.setenv("TAXI_LAKE_DIR", "/somewhere/lake")
    monkeypatch.delenv("TAXI_DUCKDB_PATH", raising=False)

    resources = build_definitions("local").resources

    assert resources["lake_io_manager"].lake.base_path == dg.EnvVar("TAXI_LAKE_DIR")
    assert resources["warehouse"].database == "data/warehouse.duckdb"
