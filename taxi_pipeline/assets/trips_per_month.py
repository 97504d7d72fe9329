"""Report stage: a picture of the warehouse, the rows of every (color, month) slice charted.

Not partitioned: one report over every slice, read through the `warehouse` resource. Dagster's
automation materializes it once after loads (`AFTER_ANY_LOAD`), evaluated by the sensor
`sensors.report_automation_sensor`; no job holds it (`trips_job` is partitioned).
"""

import base64
from datetime import date

import dagster as dg

from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.resources.warehouse import WarehouseResource

WAREHOUSE_TRIPS = dg.AssetKey("warehouse_trips")

# Once after one or more `warehouse_trips` partitions were updated since the report was last
# requested, when no load is running (a backfill is reported at its end) and the report itself
# is not. The report's own materialization does not reset it (as `since_last_handled()` would):
# a load that lands while a requested report runs may not be in what it read, so it asks again.
# `AutomationCondition.eager()` would never fire here: its `~any_deps_missing()` is false while
# any (color, month) of the parent was never loaded.
AFTER_ANY_LOAD = (
    dg.AutomationCondition.any_deps_updated().since(
        dg.AutomationCondition.newly_requested() | dg.AutomationCondition.initial_evaluation()
    )
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after_any_load")

SLICES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("color", "string", description="The service: yellow, green, fhv, fhvhv"),
        dg.TableColumn("month", "string", description="The source file's month, YYYY-MM"),
        dg.TableColumn("rows", "int", description="Rows of the slice in the table `trips`"),
    ]
)


def chart_markdown(png: bytes) -> dg.MetadataValue:
    """The PNG inlined in markdown, which the UI renders as the image."""
    return dg.MetadataValue.md(f"![trips per month](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def report_metadata(counts: list[tuple[str, date, int]], png: bytes) -> dict[str, object]:
    """The report's metadata from (color, source_month, rows) slices and their chart: the chart,
    the table of slices, the total rows and the number of slices; `dagster/row_count` is the
    total, the trips the warehouse holds."""
    total = sum(rows for *_, rows in counts)
    records = [
        dg.TableRecord({"color": color, "month": f"{month:%Y-%m}", "rows": rows}) for color, month, rows in counts
    ]
    return {
        "chart": chart_markdown(png),
        "slices": dg.MetadataValue.table(records=records, schema=SLICES_SCHEMA),
        "total_rows": total,
        "slice_count": len(counts),
        "dagster/row_count": total,
    }


@dg.asset(
    deps=[WAREHOUSE_TRIPS],
    group_name=GROUP,
    kinds={"python"},
    # It reads the warehouse: in the loads' pool, so that it never opens the single-writer
    # DuckDB file while a load holds it.
    pool="warehouse",
    automation_condition=AFTER_ANY_LOAD,
)
def trips_per_month(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Rows per (color, month) of the warehouse table `trips`: a chart (one line per color over
    the months) and the table of slices, with the total; an empty warehouse gives a chart saying
    no trips are loaded yet."""
    # Imported here: matplotlib costs ~1 s, which loading the definitions must not pay.
    from taxi_pipeline.charts import trips_per_month_png

    counts = warehouse.slice_counts()
    if counts:
        context.log.info(f"{len(counts)} slices, {sum(r for *_, r in counts):,} rows in the warehouse")
    else:
        context.log.warning("the warehouse holds no trips yet: the report says so")
    return dg.MaterializeResult(metadata=report_metadata(counts, trips_per_month_png(counts)))
