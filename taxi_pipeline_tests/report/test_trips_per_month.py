"""The report asset over real loads: bundled months loaded into DuckDB, then `trips_per_month`
materialized by hand and requested by its automation condition on a real instance."""

from datetime import UTC, date

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from taxi_pipeline.defs.report.assets import CHART_LOG_NAME, trips_per_month
from taxi_pipeline.defs.warehouse.contract import SliceOrigin
from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.png import inline_png, png_size
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, TRIP_CHECKS, materialize, metadata_of
from taxi_pipeline_tests.support.trips import cleaned_sample

REPORT = trips_per_month.key


def slice_table(metadata: dict) -> list[dict]:
    return [record.data for record in metadata["slices"].records]


def test_the_report_of_three_loaded_months(release_url, make_resources):
    resources = make_resources(release_url)
    for key in ("green|2020-04-01", "yellow|2021-01-01", "fhv|2019-01-01"):
        assert materialize(resources, key).success

    result = dg.materialize([trips_per_month], resources={"warehouse": resources["warehouse"]})

    assert result.success
    metadata = metadata_of(result, "trips_per_month")
    # Each slice's origin is the load's to record (test_the_report_shows_where_each_slice_came_from).
    assert [{k: record[k] for k in ("color", "month", "rows")} for record in slice_table(metadata)] == [
        {"color": "fhv", "month": "2019-01", "rows": 18},
        {"color": "green", "month": "2020-04", "rows": 35_612},
        {"color": "yellow", "month": "2021-01", "rows": 22_792},
    ]
    assert [c.name for c in metadata["slices"].schema.columns] == [
        "color",
        "month",
        "rows",
        "source",
        "sha256",
        "loaded_at",
    ]
    assert metadata["total_rows"] == metadata["dagster/row_count"] == 18 + 35_612 + 22_792
    assert metadata["slice_count"] == 3
    assert png_size(inline_png(metadata["chart"])) == (900, 450)


def test_an_empty_warehouse_gives_an_empty_report_and_a_chart_saying_so(duckdb_path):
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path)))

    result = dg.materialize([trips_per_month], resources={"warehouse": warehouse})

    assert result.success
    metadata = metadata_of(result, "trips_per_month")
    assert slice_table(metadata) == []
    assert (metadata["total_rows"], metadata["slice_count"], metadata["dagster/row_count"]) == (0, 0, 0)
    assert png_size(inline_png(metadata["chart"])) == (900, 450)


def test_the_report_shows_where_each_slice_came_from(duckdb_path, tmp_path):
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path)))
    for color, sample, origin in (
        ("green", "2020-04", SliceOrigin("course", "a" * 64)),
        ("yellow", "2021-01", SliceOrigin("tlc", "b" * 64)),
        ("fhv", "2019-01", None),
    ):
        month = date.fromisoformat(f"{sample}-01")
        lake = write_parquet(cleaned_sample(color, sample), tmp_path / f"{color}.parquet")
        warehouse.load_slice(lake, color, month, origin)
    loaded_at = {
        color: origin.loaded_at.astimezone(UTC).isoformat(sep=" ", timespec="seconds")
        for (color, _), origin in warehouse.slice_origins().items()
    }

    result = dg.materialize([trips_per_month], resources={"warehouse": warehouse})

    metadata = metadata_of(result, "trips_per_month")
    assert slice_table(metadata) == [
        {"color": "fhv", "month": "2019-01", "rows": 18, "source": None, "sha256": None, "loaded_at": loaded_at["fhv"]},
        {
            "color": "green",
            "month": "2020-04",
            "rows": 35_612,
            "source": "course",
            "sha256": "a" * 64,
            "loaded_at": loaded_at["green"],
        },
        {
            "color": "yellow",
            "month": "2021-01",
            "rows": 22_792,
            "source": "tlc",
            "sha256": "b" * 64,
            "loaded_at": loaded_at["yellow"],
        },
    ]
    assert metadata["slices_by_source"] == "course: 1, tlc: 1, unrecorded: 1"
    assert png_size(inline_png(metadata["chart"])) == (900, 450)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def load(instance: dg.DagsterInstance, resources: dict, partition_key: str) -> None:
    result = dg.materialize(
        TRIP_ASSETS + TRIP_CHECKS, partition_key=partition_key, resources=resources, instance=instance
    )
    assert result.success


def with_eager(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())


def test_automation_requests_the_report_once_after_each_load(release_url, make_resources, instance):
    resources = make_resources(release_url)
    defs = dg.Definitions(assets=[*TRIP_ASSETS, trips_per_month], resources=resources)
    # The same report under eager(), beside it, to show why the report cannot use it.
    eager_defs = dg.Definitions(
        assets=[*TRIP_ASSETS, *dg.map_asset_specs(with_eager, [trips_per_month])], resources=resources
    )

    def evaluate(cursor, evaluated=defs):
        result = dg.evaluate_automation_conditions(defs=evaluated, instance=instance, cursor=cursor)
        return result.get_num_requested(REPORT), result.cursor

    requested, cursor = evaluate(None)
    _, eager_cursor = evaluate(None, eager_defs)
    assert requested == 0  # nothing loaded yet

    # One (color, month) of the course's 93 loaded, the others missing.
    load(instance, resources, "green|2020-04-01")
    requested, cursor = evaluate(cursor)
    assert requested == 1
    assert evaluate(eager_cursor, eager_defs)[0] == 0  # eager() waits for every missing month

    requested, cursor = evaluate(cursor)
    assert requested == 0  # requested already: not again without a new load

    # The report's run, as the sensor would launch it; then nothing new, then a second load.
    assert dg.materialize([trips_per_month], resources={"warehouse": resources["warehouse"]}, instance=instance).success
    requested, cursor = evaluate(cursor)
    assert requested == 0

    load(instance, resources, "fhv|2019-01-01")
    requested, cursor = evaluate(cursor)
    assert requested == 1
    # A load that lands between the tick that requested the report and the next tick (when the
    # request resets the condition): the report's run may have read the warehouse before it.
    load(instance, resources, "fhv|2020-01-01")
    requested, cursor = evaluate(cursor)
    assert requested == 1
    requested, cursor = evaluate(cursor)
    assert requested == 0

    # A load that lands after the report was requested and before its run read the warehouse:
    # the run may have missed it, so the report is asked for once more.
    load(instance, resources, "yellow|2021-01-01")
    assert dg.materialize([trips_per_month], resources={"warehouse": resources["warehouse"]}, instance=instance).success
    requested, cursor = evaluate(cursor)
    assert requested == 1
    assert dg.materialize([trips_per_month], resources={"warehouse": resources["warehouse"]}, instance=instance).success
    requested, cursor = evaluate(cursor)
    assert requested == 0


def test_on_an_instance_the_chart_is_a_short_link_to_the_png_saved_beside_the_runs_logs(duckdb_path, instance):
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=str(duckdb_path)))

    result = dg.materialize([trips_per_month], resources={"warehouse": warehouse}, instance=instance)

    metadata = metadata_of(result, "trips_per_month")
    # Under the 1,000 characters the UI renders in place; the webserver's /logs route serves the file.
    assert metadata["chart"] == f"![trips per month](/logs/{result.run_id}/compute_logs/trips_per_month_chart/png)"
    saved = instance.compute_log_manager.get_captured_local_path([result.run_id, "compute_logs", CHART_LOG_NAME], "png")
    with open(saved, "rb") as png:
        assert png_size(png.read()) == (560, 380)  # the compact chart, for the metadata table
    assert png_size(inline_png(metadata["chart_png"])) == (900, 450)
