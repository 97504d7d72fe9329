"""The code location: trip assets wired to the resources of the selected target."""

import os

from taxi_pipeline.settings import install_one_line_errors

# First, before any setting is read: a wrong setting (or --partition) ends
# `dagster asset materialize` with one line naming it, not a traceback.
install_one_line_errors()

import dagster as dg  # noqa: E402

from taxi_pipeline.assets import TRIP_ASSETS, TRIP_CHECKS  # noqa: E402
from taxi_pipeline.assets.warehouse import warehouse_trips
from taxi_pipeline.jobs import trips_job
from taxi_pipeline.schedules import monthly_trips_schedule
from taxi_pipeline.sensors import new_month_sensor, run_failure_webhook
from taxi_pipeline.targets import RESOURCES_BY_TARGET
from taxi_pipeline.settings import (
    DEFAULT_LAKE_DIR,
    check_writable_location,
    pipeline_target,
    warehouse_kind,
)
from taxi_pipeline.resources.source import check_source_url


def build_definitions(target: str) -> dg.Definitions:
    """Definitions for one target (`local`, ...): the same assets, that target's resources; the
    warehouse asset's kind tag names the warehouse `TAXI_WAREHOUSE` chose (duckdb, bigquery, postgres)."""
    kind = warehouse_kind(target)
    assets = dg.map_asset_specs(
        lambda spec: spec.merge_attributes(kinds={kind}) if spec.key == warehouse_trips.key else spec,
        TRIP_ASSETS,
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=TRIP_CHECKS,
        jobs=[trips_job],
        schedules=[monthly_trips_schedule],
        sensors=[new_month_sensor, run_failure_webhook],
        resources=RESOURCES_BY_TARGET[target](),
        # Runs are one partition each; in-process steps save ~5 s of imports per step, and
        # backfills get their parallelism from running many runs at once.
        executor=dg.in_process_executor,
    )


def check_settings(target: str) -> None:
    """Fail at load, naming the variable, on settings no run could work with."""
    if os.getenv("TAXI_SOURCE_URL"):
        check_source_url(os.environ["TAXI_SOURCE_URL"])
    if target == "local":
        check_writable_location("TAXI_LAKE_DIR", os.getenv("TAXI_LAKE_DIR") or DEFAULT_LAKE_DIR, folder=True)
        if os.getenv("TAXI_DUCKDB_PATH") and warehouse_kind(target) == "duckdb":
            check_writable_location("TAXI_DUCKDB_PATH", os.environ["TAXI_DUCKDB_PATH"], folder=False)


_target = pipeline_target()
check_settings(_target)
defs = build_definitions(_target)
