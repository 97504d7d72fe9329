"""The code location: trip assets wired to the resources of the selected target."""

import dagster as dg

from taxi_pipeline.assets import TRIP_ASSETS, TRIP_CHECKS
from taxi_pipeline.assets.warehouse import warehouse_trips
from taxi_pipeline.jobs import trips_job
from taxi_pipeline.schedules import monthly_trips_schedule
from taxi_pipeline.sensors import new_month_sensor, run_failure_webhook
from taxi_pipeline.targets import RESOURCES_BY_TARGET
from taxi_pipeline.settings import pipeline_target, warehouse_kind


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


defs = build_definitions(pipeline_target())
