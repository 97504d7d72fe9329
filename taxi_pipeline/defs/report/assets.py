"""Report stage: a picture of the warehouse, the rows of every (color, month) slice charted.

Not partitioned: one report over every slice, read through the `warehouse` resource. Dagster's
automation materializes it once after loads (`AFTER_ANY_LOAD`), evaluated by the sensor
`sensors.report_automation_sensor`; no job holds it (`trips_job` is partitioned).
"""

import base64
from collections import Counter
from datetime import UTC, date

import dagster as dg

from taxi_pipeline.defs.source.assets import GROUP
from taxi_pipeline.defs.warehouse.contract import RecordedOrigin, WarehouseResource

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
        dg.TableColumn(
            "source", "string", description="The release the slice was loaded from (course, tlc); empty if unrecorded"
        ),
        dg.TableColumn("sha256", "string", description="The loaded lake file's sha256, as the `loads` table records"),
        dg.TableColumn("loaded_at", "string", description="When the slice's load committed (UTC, ISO 8601)"),
    ]
)


def chart_markdown(png: bytes) -> dg.MetadataValue:
    """The PNG inlined in markdown, which the UI renders as the image."""
    return dg.MetadataValue.md(f"![trips per month](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def report_metadata(
    counts: list[tuple[str, date, int]], png: bytes, origins: dict[tuple[str, date], RecordedOrigin] | None = None
) -> dict[str, object]:
    """The report's metadata from (color, source_month, rows) slices, the origin the `loads` table
    records for each, and their chart: the chart, the table of slices with their sources, the
    slices per source, the total rows and the number of slices; `dagster/row_count` is the total,
    the trips the warehouse holds."""
    origins = origins or {}
    total = sum(rows for *_, rows in counts)
    records = []
    for color, month, rows in counts:
        origin = origins.get((color, month), RecordedOrigin(None, None, None))
        loaded_at = origin.loaded_at and origin.loaded_at.astimezone(UTC).isoformat(sep=" ", timespec="seconds")
        records.append(
            dg.TableRecord(
                {
                    "color": color,
                    "month": f"{month:%Y-%m}",
                    "rows": rows,
                    "source": origin.source,
                    "sha256": origin.sha256,
                    "loaded_at": loaded_at,
                }
            )
        )
    per_source = Counter(record.data["source"] or "unrecorded" for record in records)
    return {
        "chart": chart_markdown(png),
        "slices": dg.MetadataValue.table(records=records, schema=SLICES_SCHEMA),
        "slices_by_source": ", ".join(f"{source}: {n}" for source, n in sorted(per_source.items())),
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
    the months, each month marked by the source it was loaded from) and the table of slices with
    each one's source, file hash and load time, with the total; an empty warehouse gives a chart
    saying no trips are loaded yet."""
    # Imported here: matplotlib costs ~1 s, which loading the definitions must not pay.
    from taxi_pipeline.defs.report.chart import trips_per_month_png

    counts = warehouse.slice_counts()
    origins = warehouse.slice_origins()
    if counts:
        context.log.info(f"{len(counts)} slices, {sum(r for *_, r in counts):,} rows in the warehouse")
    else:
        context.log.warning("the warehouse holds no trips yet: the report says so")
    sources = {key: origin.source for key, origin in origins.items()}
    return dg.MaterializeResult(metadata=report_metadata(counts, trips_per_month_png(counts, sources), origins))


# The report's automation: Dagster 1.13.27 adds a `default_automation_condition_sensor` for assets
# no other automation sensor targets, but with default_status STOPPED, so the report would wait
# for someone to switch it on in the UI. This one targets the report alone and starts running.
report_automation_sensor = dg.AutomationConditionSensorDefinition(
    "trips_per_month_automation",
    target=dg.AssetSelection.assets(trips_per_month),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests trips_per_month once after warehouse loads (its automation condition "
        "after_any_load). Running by default: Dagster 1.13's default automation condition sensor "
        "starts stopped, and this sensor takes its place for the report. It needs the daemon "
        "(dagster dev runs one)."
    ),
)
