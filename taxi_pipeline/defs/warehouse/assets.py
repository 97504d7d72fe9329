"""Warehouse stage: `warehouse_trips` loads each published lake file as one slice of `trips`;
`taxi_zones` keeps the TLC's zone lookup in the lake and in the table `zones`."""

import dagster as dg
import pyarrow as pa
from upath import UPath

from taxi_pipeline.defs.lake.files import (
    ZONES_FILE,
    LakeFileChangedError,
    local_part_file,
    make_folder,
    pinned,
    publish,
)
from taxi_pipeline.defs.lake.io_managers import run_materialization
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.defs.metadata import table_preview, warehouse_table_schema
from taxi_pipeline.defs.retries import not_retried, retried_on_error
from taxi_pipeline.defs.source.assets import GROUP, download_failures
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.warehouse.contract import SliceOrigin, WarehouseResource
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.parquet import parquet_row_count
from taxi_pipeline.lib.zones import ZONE_COLUMNS, read_zone_file
from taxi_pipeline.partitions import one_partition_per_run, split_partition_key

SLICE_MATCHES_LAKE_FILE = "slice_matches_lake_file"
LOAD_RETRY_DELAY_SECONDS = 5.0


def _republish(reason: str, partition_key: str) -> PermanentError:
    return PermanentError(
        f"{reason}: materialize lake_trips_parquet for {partition_key} again to rewrite it, then load"
    )


def warehouse_trips(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake_trips_parquet: UPath
) -> dg.MaterializeResult:
    """The month's (color, source_month) slice of the warehouse table `trips`, replaced as a
    whole from the lake file: re-running never duplicates rows."""
    # Only the bytes of the publication this run means (its own or a re-executed run's, else the
    # latest) are loaded, held for the load. Transient errors (a concurrent transaction, a 5xx, a
    # server restarting) are retried after about 5, 15, 35 s; a PermanentError fails the step at once.
    with retried_on_error(context, base_seconds=LOAD_RETRY_DELAY_SECONDS, max_retries=3):
        key = context.partition_key
        color, month = split_partition_key(key)
        publication = run_materialization(context.instance, context.run, dg.AssetKey("lake_trips_parquet"), key)
        if publication is None or "sha256" not in publication.metadata:  # none, or an older release's
            raise _republish(f"no publication of {key} with a sha256 is recorded", key)
        sha256, source = publication.metadata["sha256"].value, publication.metadata["source"].value
        context.log.info(f"loading {lake_trips_parquet} ({source}, sha256 {sha256[:12]}…) into {color} {month:%Y-%m}")
        try:
            with pinned(lake_trips_parquet, sha256) as exact:
                lake_rows = parquet_row_count(exact.path)
                load = warehouse.load_slice(
                    exact.path, color, month, SliceOrigin(source, sha256, exact.check_still_published)
                )
        except FileNotFoundError:
            raise _republish(f"the lake file {lake_trips_parquet} is missing", key) from None
        except LakeFileChangedError as e:
            raise _republish(f"the lake file is not the one published: {e}", key) from None
        context.log.info(
            f"{load.table}: slice {color} {month:%Y-%m} holds {load.slice_rows:,} rows "
            f"({load.rows_loaded:,} loaded, {load.rows_replaced:,} replaced)"
        )
        metadata = {
            # Dagster's table keys: the UI shows the table's name, its columns and the slice's rows.
            "dagster/table_name": load.table,
            "dagster/column_schema": warehouse_table_schema(load.column_types),
            "dagster/row_count": load.slice_rows,
            "table": load.table,
            "rows_loaded": load.rows_loaded,
            "rows_replaced": load.rows_replaced,
            "slice_rows": load.slice_rows,
            "source": source,
            "sha256": sha256,
            "preview": table_preview(load.preview),
        }
        if load.previous_source not in (None, source):
            metadata["reloaded_from_another_source"] = f"{source}, was {load.previous_source}"
            context.log.warning(
                f"{color} {month:%Y-%m} re-loaded from {source}; the slice was loaded from {load.previous_source}"
            )
        extra = {"job_id": load.job_id, "bytes_processed": load.bytes_processed}
        metadata |= {name: value for name, value in extra.items() if value is not None}
        check = dg.AssetCheckResult(
            check_name=SLICE_MATCHES_LAKE_FILE,
            passed=load.slice_rows == lake_rows,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"slice_rows": load.slice_rows, "lake_file_rows": lake_rows},
        )
        return dg.MaterializeResult(metadata=metadata, check_results=[check])


def build_warehouse_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """`warehouse_trips` over `partitions_def`."""
    return dg.asset(
        partitions_def=partitions_def,
        backfill_policy=one_partition_per_run,
        group_name=GROUP,
        kinds={"sql"},
        # Loads share one pool; deploy/dagster.yaml limits it to 1 for the single-writer DuckDB file.
        pool="warehouse",
        check_specs=[
            dg.AssetCheckSpec(
                SLICE_MATCHES_LAKE_FILE,
                asset="warehouse_trips",
                description="The (color, source_month) slice holds exactly the lake file's rows",
            )
        ],
    )(warehouse_trips)


# The lake is a resource, not an IO manager: the warehouse loads the file from the lake (BigQuery
# from gs://) within the step, before an IO manager would have stored it.
@dg.asset(group_name=GROUP, kinds={"csv"}, pool="warehouse")
def taxi_zones(
    context: dg.AssetExecutionContext, source: TripSourceResource, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The TLC's taxi zone lookup (`misc/taxi_zone_lookup.csv`), checked, kept in the lake at
    `raw/misc/taxi_zone_lookup.csv` and loaded whole into the table `zones`; a bad file changes neither."""

    def describe(error: Exception) -> str:
        return f"{error}; the lake's {ZONES_FILE} and the warehouse table zones are left as they were"

    lake_path = lake.root() / ZONES_FILE
    with local_part_file("taxi_zone_lookup.", ".csv.part") as local:
        with download_failures(context, source, describe):
            downloaded = source.download_zones(local)
            zones = read_zone_file(local, name=downloaded.url)
        make_folder(lake_path.parent)
        publish(local, lake_path)
    context.log.info(f"loading {len(zones.rows)} zones from {lake_path} into the warehouse table zones")
    with not_retried(context):
        rows = warehouse.replace_zones(lake_path)
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "dagster/row_count": rows,
            "source_url": dg.MetadataValue.url(downloaded.url),
            "sha256": downloaded.sha256,
            "path": str(lake_path),
            "table": "zones",
            "preview": table_preview(pa.table(dict(zip(ZONE_COLUMNS, zip(*zones.rows, strict=True), strict=True)))),
        }
    )
