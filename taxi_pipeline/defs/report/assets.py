"""The report: `trips_per_month`, a chart and table of every (color, month) slice in the warehouse,
materialized by its automation condition once after loads."""

import base64
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import dagster as dg
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from taxi_pipeline.defs.source.assets import GROUP
from taxi_pipeline.defs.warehouse.contract import RecordedOrigin, WarehouseResource

# Once after any load since the report was last requested (not since it last ran, as with
# `since_last_handled()`: a load landing during the report may be missing from it), when neither runs.
# A load seen on the same tick as the reset survives it only by its later timestamp, which `since`
# compares when both sides carry one: bare `newly_updated()` and `newly_requested()` do, while
# `any_deps_updated()` and an `|` of conditions are built with boolean operators that drop it (Dagster 1.13).
AFTER_ANY_LOAD = (
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated()).since(
        dg.AutomationCondition.newly_requested()
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
            "source",
            "string",
            description="The release the slice was loaded from (course, tlc; '(generated)' for a file the offline "
            "mirror generated); empty if unrecorded",
        ),
        dg.TableColumn("sha256", "string", description="The loaded lake file's sha256, as the `loads` table records"),
        dg.TableColumn("loaded_at", "string", description="When the slice's load committed (UTC, ISO 8601)"),
    ]
)


# The webserver shows a markdown value in place only under 1,000 characters (dagster-webserver
# 1.13.27, MetadataEntry.tsx): the chart as a data URL (~40 KB) hides behind "[Show Markdown]".
# It serves a run's captured-log files at /logs/<log key>/<extension> (webserver.py,
# download_captured_logs_endpoint), so the PNG saved beside the run's logs shows inline by its path.
CHART_LOG_NAME = "trips_per_month_chart"


def served_chart(context: dg.AssetExecutionContext, draw: Callable[[], bytes]) -> str | None:
    """The path at which this instance's webserver serves the PNG `draw` makes, saved beside the
    run's captured logs; None for an instance that keeps no logs on its disk (an ephemeral one)."""
    logs = context.instance.compute_log_manager
    if not isinstance(logs, LocalComputeLogManager):
        return None
    log_key = [context.run.run_id, "compute_logs", CHART_LOG_NAME]
    path = Path(logs.get_captured_local_path(log_key, "png"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(draw())
    return "/logs/" + "/".join(log_key) + "/png"


@dg.asset(
    deps=["warehouse_trips"],
    group_name=GROUP,
    kinds={"python"},
    pool="warehouse",  # the loads' pool: never opens the single-writer DuckDB file while a load holds it
    automation_condition=AFTER_ANY_LOAD,
)
def trips_per_month(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Rows per (color, month) of the warehouse table `trips`: a chart (a line per color, each month
    marked by its source) and the table of slices with source, file hash and load time."""
    from taxi_pipeline.defs.report.chart import trips_per_month_png  # matplotlib: ~1 s, not at load

    counts, origins = warehouse.slice_counts(), warehouse.slice_origins()
    total = sum(rows for *_, rows in counts)
    if counts:
        context.log.info(f"{len(counts)} slices, {total:,} rows in the warehouse")
    else:
        context.log.warning("the warehouse holds no trips yet: the report says so")
    records = []
    for color, month, rows in counts:
        origin = origins.get((color, month), RecordedOrigin(None, None, None))
        loaded_at = origin.loaded_at and origin.loaded_at.astimezone(UTC).isoformat(sep=" ", timespec="seconds")
        record = {"color": color, "month": f"{month:%Y-%m}", "rows": rows, "source": origin.source}
        records.append(dg.TableRecord({**record, "sha256": origin.sha256, "loaded_at": loaded_at}))
    per_source = Counter(record.data["source"] or "unrecorded" for record in records)
    sources = {key: origin.source for key, origin in origins.items()}
    png = trips_per_month_png(counts, sources)
    embedded = dg.MetadataValue.md(f"![trips per month](data:image/png;base64,{base64.b64encode(png).decode()})")
    # The served chart, sized for the metadata table, shows in place; the PNG itself travels with
    # the event (chart_png), for a webserver that cannot read this run's disk or serves the UI
    # under a path prefix.
    link = served_chart(context, lambda: trips_per_month_png(counts, sources, compact=True))
    chart = {"chart": dg.MetadataValue.md(f"![trips per month]({link})"), "chart_png": embedded} if link else {}
    return dg.MaterializeResult(
        metadata={
            **(chart or {"chart": embedded}),
            "slices": dg.MetadataValue.table(records=records, schema=SLICES_SCHEMA),
            "slices_by_source": ", ".join(f"{source}: {n}" for source, n in sorted(per_source.items())),
            "total_rows": total,
            "slice_count": len(counts),
            "dagster/row_count": total,
        }
    )


report_automation_sensor = dg.AutomationConditionSensorDefinition(
    "trips_per_month_automation",
    target=dg.AssetSelection.assets(trips_per_month),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Dagster's default is 30 s; a tick reads only the report's condition, so the chart can follow
    # the loads sooner at little cost.
    minimum_interval_seconds=10,
    description=(
        "Requests trips_per_month once after warehouse loads (its automation condition "
        "after_any_load), looking every 10 s. Running by default: Dagster 1.13's default automation condition sensor "
        "starts stopped, and this sensor takes its place for the report. It needs the daemon "
        "(dagster dev runs one)."
    ),
)
