"""The lake's IO managers, one per zone (raw, staging, published), each keeping a partition as one
file or folder under the lake's root, a local folder or a `gs://` bucket."""

from pathlib import Path
from typing import TYPE_CHECKING, get_args, get_origin

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake import files
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.defs.quality.checks import refuse_publication
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline.lib.quality import schema_differences
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline.schema import CANONICAL_SCHEMA, schema_version

if TYPE_CHECKING:
    import pandas as pd


def run_materialization(
    instance: dg.DagsterInstance, run: dg.DagsterRun | None, asset_key: dg.AssetKey, partition_key: str
) -> dg.AssetMaterialization | None:
    """The materialization of an asset's partition that a run means: the one made in the run or in
    the run it re-executes, else the latest; None when there is none."""
    records = instance.fetch_materializations(  # the run's own is among the partition's latest 50
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=50
    ).records
    own = {run.run_id, run.parent_run_id, run.root_run_id} if run is not None else set()
    record = next((record for record in records if record.run_id in own), records[0] if records else None)
    return record.asset_materialization if record is not None else None


def written_file_metadata(path: UPath) -> dict[str, dg.MetadataValue]:
    """Size (and, in a GCS bucket, the URI and console page) of a written lake file; `UPathIOManager` adds `path`."""
    metadata = {"bytes": dg.MetadataValue.int(path.stat().st_size)}
    if path.protocol == "gs":
        console = f"https://console.cloud.google.com/storage/browser/_details/{path.path}"
        metadata |= {"uri": dg.MetadataValue.text(str(path)), "console": dg.MetadataValue.url(console)}
    return metadata


def to_canonical_table(obj: "pd.DataFrame | pa.Table") -> pa.Table:
    """The object as an Arrow table in exactly the canonical schema, or an error naming the column."""
    table = obj if isinstance(obj, pa.Table) else pa.Table.from_pandas(obj, preserve_index=False)
    if missing := [name for name in CANONICAL_SCHEMA.names if name not in table.column_names]:
        raise PermanentError(f"trip data lacks canonical column(s): {', '.join(missing)}")
    for fld in CANONICAL_SCHEMA:
        if (kind := table.schema.field(fld.name).type) != fld.type:
            raise PermanentError(f"column {fld.name!r} is {kind}, expected {fld.type}")
    return table.select(CANONICAL_SCHEMA.names).replace_schema_metadata(None).cast(CANONICAL_SCHEMA)


class LakeFileIOManager(dg.UPathIOManager):
    """Keeps each partition as one lake file (or folder) of its zone, which writes and reads it; an input
    annotated otherwise than with the zone's type (or a dict of it) loads as a DataFrame of the file."""

    def __init__(self, zone: "_LakeZoneFactory"):
        super().__init__(base_path=zone.lake.root())
        self.zone = zone

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        # `green/2020-04-01` from a MultiPartitionKey, `green|2020-04-01` from a string (through a partition mapping)
        color, month = split_partition_key(partition.replace("/", "|"))
        return self._base_path / files.zone_path(self.zone.path_template, color, month)

    def make_directory(self, path: UPath) -> None:
        files.make_folder(path)

    def dump_to_path(self, context: dg.OutputContext, obj, path: UPath) -> None:
        self.zone.dump(context, obj, path)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> "UPath | files.StagedFile | pd.DataFrame":
        value = self.zone.load(context, path)
        wanted = context.dagster_type.typing_type
        if get_origin(wanted) is dict:
            wanted = get_args(wanted)[1]
        if wanted in (UPath, files.StagedFile):
            return value
        import pandas as pd  # here only: pandas slows every import of the definitions

        with (value.path if isinstance(value, files.StagedFile) else value).open("rb") as f:
            return pq.read_table(f).to_pandas(types_mapper=pd.ArrowDtype)


class _LakeZoneFactory(dg.ConfigurableIOManagerFactory):
    """One zone of the lake (a local folder or a `gs://` bucket): its IO manager over `lake`'s root."""

    lake: LakeResource = Field(description="Where the lake lives: a local folder or a GCS bucket")
    path_template: str = Field(description="Path under the root, with {color} and {month} (YYYY-MM)")

    def create_io_manager(self, context) -> LakeFileIOManager:
        return LakeFileIOManager(self)

    def load(self, context: dg.InputContext, path: UPath) -> UPath | files.StagedFile:
        return path


class RawFileIOManagerFactory(_LakeZoneFactory):
    """The raw zone: files as downloaded, each moved in from a local file; the zone's own file,
    unchanged at the source, is kept as it is."""

    def dump(self, context: dg.OutputContext, obj: "Path | UPath", path: UPath) -> None:
        if obj != path:
            files.publish(obj, path)
        context.add_output_metadata(written_file_metadata(path))


class StagingIOManagerFactory(_LakeZoneFactory):
    """The content-addressed staging zone: a folder per (color, month) of `{sha256}.parquet` files. Moves a
    canonical `StagedFile` in; loads the content the run means (`run_materialization`), or a DataFrame of it."""

    def dump(self, context: dg.OutputContext, obj: files.StagedFile, path: UPath) -> None:
        schema = pq.read_schema(obj.path)  # a local file: the step's output
        # An older version of the canonical schema still loads (its newer columns read null).
        if (differences := schema_differences(schema)) and schema_version(schema) is None:
            raise PermanentError(f"{obj.path} is not a canonical trip file: {'; '.join(differences)}")
        files.make_folder(path)
        staged = path / f"{obj.sha256}.parquet"
        files.publish(obj.path, staged)
        context.add_output_metadata(
            {"staged_sha256": obj.sha256, "source": obj.source, "staged_file": dg.MetadataValue.path(str(staged))}
        )

    def load(self, context: dg.InputContext, path: UPath) -> files.StagedFile:
        try:
            run = context.step_context.dagster_run
        except dg.DagsterInvariantViolationError:  # loaded outside a run (`load_asset_value`)
            run = None
        staged = run_materialization(context.instance, run, context.asset_key, context.asset_partition_key)
        if staged is None or "staged_sha256" not in staged.metadata:
            raise PermanentError(f"{context.asset_partition_key}: nothing staged in {path}")
        sha256 = staged.metadata["staged_sha256"].value
        return files.StagedFile(path / f"{sha256}.parquet", sha256, staged.metadata["source"].value)


class TripsParquetIOManagerFactory(_LakeZoneFactory):
    """The published trip parquet files: a `StagedFile` copied if its bytes are still its sha256's, or a
    canonical DataFrame or Arrow table written."""

    def dump(self, context: dg.OutputContext, obj: "files.StagedFile | pd.DataFrame | pa.Table", path: UPath) -> None:
        if isinstance(obj, files.StagedFile):
            try:
                files.publish_verified(obj.path, path, obj.sha256)
            except files.LakeFileChangedError as e:  # the audited bytes were changed under their name
                refuse_publication(context.log, context.asset_partition_key, [str(e)])
        else:
            with files.atomic_writer(path) as f:
                write_lake_parquet(to_canonical_table(obj), f)
        context.add_output_metadata(written_file_metadata(path))
