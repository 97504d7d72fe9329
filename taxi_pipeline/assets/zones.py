"""The taxi zone lookup table: one file for every color and month, kept in the lake's raw zone
and loaded whole into the warehouse table `zones`."""

import dagster as dg

from taxi_pipeline.assets.downloads import PERMANENT_SOURCE_ERRORS, download_failures, local_part_file
from taxi_pipeline.assets.ingest import GROUP
from taxi_pipeline.lake import ZONES_FILE, make_folder, publish
from taxi_pipeline.resources.lake import LakeResource
from taxi_pipeline.resources.source import TripSourceResource
from taxi_pipeline.resources.warehouse import ZONES_TABLE, WarehouseResource
from taxi_pipeline.settings import SettingError
from taxi_pipeline.transforms.zones import ZONE_COLUMNS, ZoneFileError, ZoneTable, read_zone_file

PREVIEW_ROWS = 10


def zones_preview(zones: ZoneTable, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first zones, shown by the UI as a table with the warehouse table's columns."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, "int" if name == "location_id" else "string") for name in ZONE_COLUMNS]
    )
    records = [dg.TableRecord(dict(zip(ZONE_COLUMNS, row, strict=True))) for row in zones.rows[:rows]]
    return dg.MetadataValue.table(records=records, schema=schema)


# The lake comes in as the `lake` resource (the same `LakeResource` the IO managers are built
# from), not through an IO manager: the file must be in the lake before the warehouse loads it
# (BigQuery's load job reads it from gs://), and an IO manager stores an output only after the
# step's body has returned. The audit of `cleaned_trips` reads the file through the same resource.
@dg.asset(group_name=GROUP, kinds={"csv"}, pool="warehouse")
def taxi_zones(
    context: dg.AssetExecutionContext, source: TripSourceResource, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The TLC's taxi zone lookup table (`misc/taxi_zone_lookup.csv`): checked (header
    `LocationID,Borough,Zone,service_zone`, integer ids, none twice), kept as published in the
    lake at `raw/misc/taxi_zone_lookup.csv`, and loaded whole into the warehouse table `zones`
    (location_id, borough, zone, service_zone). A bad file changes neither."""

    def describe(error: Exception) -> str:
        return f"{error}; the lake's {ZONES_FILE} and the warehouse table {ZONES_TABLE} are left as they were"

    lake_path = lake.root() / ZONES_FILE
    with local_part_file("taxi_zone_lookup.", ".csv.part") as local:
        with download_failures(context, source, (*PERMANENT_SOURCE_ERRORS, ZoneFileError), describe):
            downloaded = source.download_zones(local)
            zones = read_zone_file(local, name=downloaded.url)
        make_folder(lake_path.parent)
        publish(local, lake_path, keep_source=False)
    context.log.info(f"loading {len(zones.rows)} zones from {lake_path} into the warehouse table {ZONES_TABLE}")
    try:
        rows = warehouse.replace_zones(lake_path)
    except (SettingError, ZoneFileError) as e:
        raise dg.Failure(description=str(e), allow_retries=False) from None
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "dagster/row_count": rows,
            "source_url": dg.MetadataValue.url(downloaded.url),
            "sha256": downloaded.sha256,
            "path": str(lake_path),
            "table": ZONES_TABLE,
            "preview": zones_preview(zones),
        }
    )
