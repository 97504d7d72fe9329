"""Parquet files of the canonical trip schema, one per (color, month), on local disk or gs://."""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, get_args, get_origin

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import (
    LakeFileChangedError,
    StagedFile,
    atomic_writer,
    is_local,
    make_folder,
    publish,
    publish_verified,
    zone_path,
)
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.defs.quality.verdict import not_published_line
from taxi_pipeline.lib.parquet import write_lake_parquet
from taxi_pipeline.lib.quality import schema_differences
from taxi_pipeline.schema import CANONICAL_SCHEMA, COLORS, schema_version

if TYPE_CHECKING:
    import pandas as pd


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


def to_canonical_table(obj: "pd.DataFrame | pa.Table") -> pa.Table:
    """The object as an Arrow table in exactly the canonical schema, or an error naming the column."""
    table = obj if isinstance(obj, pa.Table) else pa.Table.from_pandas(obj, preserve_index=False)
    missing = [name for name in CANONICAL_SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(f"trip data lacks canonical column(s): {', '.join(missing)}")
    table = table.select(CANONICAL_SCHEMA.names)
    for fld in CANONICAL_SCHEMA:
        if table.schema.field(fld.name).type != fld.type:
            raise ValueError(f"column {fld.name!r} is {table.schema.field(fld.name).type}, expected {fld.type}")
    return table.replace_schema_metadata(None).cast(CANONICAL_SCHEMA)


def check_canonical_parquet(path: Path | UPath) -> None:
    """Raise `ValueError` naming each difference unless the parquet file at `path` has exactly
    the canonical schema, today's or an older version's (which still loads); reads the footer."""
    with path.open("rb") as f:
        schema = pq.read_schema(f)
    differences = schema_differences(schema)
    if differences and schema_version(schema) is None:
        raise ValueError(f"{path} is not a canonical trip file: {'; '.join(differences)}")


def _wants_paths(context: dg.InputContext) -> bool:
    """Whether the input is annotated `UPath`, or `dict[str, UPath]` for several partitions."""
    wanted = context.dagster_type.typing_type
    if get_origin(wanted) is dict:
        wanted = get_args(wanted)[1]
    return wanted is UPath


class TripsParquetIOManager(LakeFileIOManager):
    """Stores a month of trips as one parquet file, atomically: a DataFrame or Arrow table is
    written; a parquet file of the canonical schema (a `Path` or `UPath`) is published byte for
    byte, copied or moved as `keep_source` says; a `StagedFile` is copied only if its bytes are
    still those its sha256 names. Loads a pandas DataFrame with Arrow dtypes, or
    the file's path for an input annotated `UPath`."""

    def __init__(self, lake_root: UPath, path_template: str, keep_source: bool):
        super().__init__(lake_root, path_template)
        self.keep_source = keep_source

    def dump_to_path(
        self, context: dg.OutputContext, obj: "pd.DataFrame | pa.Table | StagedFile | Path | UPath", path: UPath
    ) -> None:
        if isinstance(obj, StagedFile):
            try:
                publish_verified(obj.path, path, obj.sha256)
            except LakeFileChangedError as e:
                # The audited bytes were changed under their name: nothing to retry, nothing published.
                raise dg.Failure(
                    description=not_published_line(context.asset_partition_key, [str(e)]), allow_retries=False
                ) from None
        elif isinstance(obj, Path | UPath):
            check_canonical_parquet(obj)
            publish(obj, path, keep_source=self.keep_source)
        else:
            table = to_canonical_table(obj)
            with atomic_writer(path) as f:
                write_lake_parquet(table, f)
        context.add_output_metadata(written_file_metadata(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> "pd.DataFrame | UPath":
        return path if _wants_paths(context) else _read_dataframe(path)


def _run_of(context: dg.InputContext) -> dg.DagsterRun | None:
    try:
        return context.step_context.dagster_run
    except dg.DagsterInvariantViolationError:  # loaded outside a run (`load_asset_value`)
        return None


def _read_dataframe(path: UPath) -> "pd.DataFrame":
    import pandas as pd  # only here: pandas adds ~0.7 s to every import of the definitions

    with path.open("rb") as f:
        return pq.read_table(f).to_pandas(types_mapper=pd.ArrowDtype)


class StagingIOManager(LakeFileIOManager):
    """The staging zone, content-addressed: each (color, month) is a folder (`path_template`)
    holding every staged content as `{sha256}.parquet`. Stores a `StagedFile` (a local file the
    step wrote, its sha256 and source) by moving it in; loads the content the run means (the
    one it staged, else the latest staged, `run_materialization`) as a `StagedFile` for an input
    annotated so, else as a pandas DataFrame with Arrow dtypes."""

    def dump_to_path(self, context: dg.OutputContext, obj: StagedFile, path: UPath) -> None:
        check_canonical_parquet(obj.path)
        make_folder(path)
        staged = path / f"{obj.sha256}.parquet"
        publish(obj.path, staged, keep_source=False)
        context.add_output_metadata(
            {"staged_sha256": obj.sha256, "source": obj.source, "staged_file": dg.MetadataValue.path(str(staged))}
        )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> "StagedFile | pd.DataFrame":
        staged = run_materialization(context.instance, _run_of(context), context.asset_key, context.asset_partition_key)
        if staged is None or "staged_sha256" not in staged.metadata:
            raise FileNotFoundError(f"{context.asset_partition_key}: nothing staged in {path}")
        sha256 = staged.metadata["staged_sha256"].value
        staged_file = StagedFile(path / f"{sha256}.parquet", sha256, staged.metadata["source"].value)
        return staged_file if context.dagster_type.typing_type is StagedFile else _read_dataframe(staged_file.path)


class StagingIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """The content-addressed staging zone under the lake root (a folder or `gs://bucket`)."""

    lake: LakeResource = Field(description="Where the lake lives: a local folder or a GCS bucket")
    path_template: str = Field(description="Folder under the root, with {color} and {month} (YYYY-MM)")

    def create_io_manager(self, context) -> StagingIOManager:
        return StagingIOManager(self.lake.root(), self.path_template)


class TripsParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Trip parquet files under the lake root (a folder or `gs://bucket`), placed by a path template."""

    lake: LakeResource = Field(description="Where the lake lives: a local folder or a GCS bucket")
    path_template: str = Field(description="Path under the root, with {color} and {month} (YYYY-MM)")
    keep_source: bool = Field(
        description="Whether a file handed over stays where it was (copied: a lake file published from another "
        "zone) or goes (moved: a file the step wrote for this output)",
    )

    def create_io_manager(self, context) -> TripsParquetIOManager:
        return TripsParquetIOManager(self.lake.root(), self.path_template, self.keep_source)


class RawFileIOManager(LakeFileIOManager):
    """Stores an output given as a local file (the download) by moving or uploading it, all or
    nothing, and gives downstream assets the stored file's path."""

    def dump_to_path(self, context: dg.OutputContext, obj: Path, path: UPath) -> None:
        publish(obj, path, keep_source=False)
        context.add_output_metadata(written_file_metadata(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> UPath:
        # The path, not the bytes: readers stream it (natively when it is local).
        return path


class RawFileIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """The raw zone under the lake root (a folder or `gs://bucket`), placed by a path template."""

    lake: LakeResource = Field(description="Where the lake lives: a local folder or a GCS bucket")
    path_template: str = Field(description="Path under the root, with {color} and {month} (YYYY-MM)")

    def create_io_manager(self, context) -> RawFileIOManager:
        return RawFileIOManager(self.lake.root(), self.path_template)


# How many of a partition's latest materializations are searched for a run's own.
