"""The base of the lake's IO managers: one file per (color, month) partition, placed by a path
template under the lake root (a folder or `gs://bucket`)."""

from datetime import date

import dagster as dg
from upath import UPath

from taxi_pipeline.lake import is_local, make_folder, zone_path
from taxi_pipeline.schema import COLORS

# How many of a partition's latest materializations are searched for a run's own.
RUN_LOOKBACK = 50


def color_and_month(partition: str) -> tuple[str, date]:
    """The (color, month) of a partition as `UPathIOManager` hands it to `get_path_for_partition`.

    Dagster formats a multi-partition key it holds as a `MultiPartitionKey` with "/"
    (`green/2020-04-01`), and passes one it holds as a plain string, as when loading through a
    partition mapping, as is (`green|2020-04-01`); both order the dimensions by name.
    """
    color, _, month = partition.replace("|", "/").partition("/")
    if color not in COLORS:
        raise ValueError(f"partition {partition!r} names no known color ({', '.join(COLORS)})")
    return color, date.fromisoformat(month)


def run_materialization(
    instance: dg.DagsterInstance, run: dg.DagsterRun | None, asset_key: dg.AssetKey, partition_key: str
) -> dg.AssetMaterialization | None:
    """The materialization of one partition of an asset that a run means: the one made in the run
    or in the run it re-executes (its parent or root), else the latest (a run that did not
    select the asset uses what is there now); None when there is none. Which run made a
    materialization, not which finished last, decides: runs of the same month may overlap."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=RUN_LOOKBACK
    ).records
    own = {run.run_id, run.parent_run_id, run.root_run_id} - {None} if run is not None else set()
    for record in records:
        if record.run_id in own:
            return record.asset_materialization
    return records[0].asset_materialization if records else None


def written_file_metadata(path: UPath) -> dict[str, dg.MetadataValue]:
    """Size (and, for object stores, the URI) of a written lake file; `UPathIOManager` adds `path`."""
    metadata = {"bytes": dg.MetadataValue.int(path.stat().st_size)}
    if not is_local(path):
        metadata["uri"] = dg.MetadataValue.text(str(path))
    if path.protocol == "gs":
        console = f"https://console.cloud.google.com/storage/browser/_details/{path.path}"
        metadata["console"] = dg.MetadataValue.url(console)
    return metadata


class LakeFileIOManager(dg.UPathIOManager):
    """Stores each partition of an asset as one lake file at `path_template` (with `{color}` and
    `{month}`, YYYY-MM) under `lake_root`; subclasses say how an output becomes that file."""

    def __init__(self, lake_root: UPath, path_template: str):
        super().__init__(base_path=lake_root)
        self.lake_root = lake_root
        self.path_template = path_template

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        color, month = color_and_month(partition)
        return self.lake_root / zone_path(self.path_template, color, month)

    def make_directory(self, path: UPath) -> None:
        make_folder(path)
