"""The code location: trip assets wired to the resources of the target the settings select,
built when Dagster loads it (`dagster ... -m taxi_pipeline.definitions`, `dg`, workspace.yaml)."""

import warnings

import dagster as dg

from taxi_pipeline.cli_errors import describe_partitions, install_one_line_errors, remember_step_failure
from taxi_pipeline.partitions import build_trip_partitions, partition_key_hint
from taxi_pipeline.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for one set of settings: the trip assets partitioned by the source's services
    and months (`TAXI_SOURCE`, `TAXI_FIRST_MONTH`), the target's resources; the warehouse
    assets' kind tag (`warehouse_trips`, `taxi_zones`, and the report `trips_per_month` that reads
    it) names the warehouse `TAXI_WAREHOUSE` chose (duckdb, bigquery, postgres)."""
    # Imported here, after `defs` set the warning filters: the asset decorators warn when run.
    from taxi_pipeline.assets import REPORT_ASSETS, ZONE_ASSETS, build_trip_assets
    from taxi_pipeline.assets.trips_per_month import trips_per_month
    from taxi_pipeline.assets.zones import taxi_zones
    from taxi_pipeline.jobs import trips_job, zones_job
    from taxi_pipeline.schedules import monthly_trips_schedule
    from taxi_pipeline.sensors import build_new_month_sensor, report_automation_sensor, run_failure_webhook
    from taxi_pipeline.targets import build_resources

    release = settings.release
    trips = build_trip_assets(
        build_trip_partitions(release, settings.first_month), release.file_format, settings.row_drop
    )
    uses_warehouse = {dg.AssetKey("warehouse_trips"), taxi_zones.key, trips_per_month.key}
    assets = dg.map_asset_specs(
        lambda spec: spec.merge_attributes(kinds={settings.warehouse}) if spec.key in uses_warehouse else spec,
        [*trips.assets, *ZONE_ASSETS, *REPORT_ASSETS],
    )
    # Every step notes why it failed, so that a command line ends with the reason (cli_errors).
    assets = [a.with_hooks({remember_step_failure}) if isinstance(a, dg.AssetsDefinition) else a for a in assets]
    return dg.Definitions(
        assets=assets,
        asset_checks=[check.with_hooks({remember_step_failure}) for check in trips.checks],
        jobs=[trips_job, zones_job],
        schedules=[monthly_trips_schedule],
        sensors=[build_new_month_sensor(trips.partitions_def, release), run_failure_webhook, report_automation_sensor],
        resources=build_resources(settings),
        # Runs are one partition each; in-process steps save ~5 s of imports per step, and
        # backfills get their parallelism from running many runs at once.
        executor=dg.in_process_executor,
    )


def filter_known_warnings() -> None:
    """Silence, once for the process, the notices of Dagster features this project relies on on
    purpose: `backfill_policy` (beta) and partitioned asset checks (preview)."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


@dg.definitions
def defs() -> dg.Definitions:
    """The code location. The settings are read and checked here, once: a wrong one ends a
    command-line process with one line naming it."""
    filter_known_warnings()
    install_one_line_errors()
    settings = Settings.from_environment()
    # The same partitions the assets get: cheap to build, and no job needs resolving for them.
    describe_partitions(partition_key_hint(build_trip_partitions(settings.release, settings.first_month)))
    return build_definitions(settings)
