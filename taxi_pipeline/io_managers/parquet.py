"""Parquet files of the canonical trip schema, one per (color, month), on local disk or gs://."""

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from taxi_pipeline.io_managers.lake_paths import (
    TemplatedPartitionPathMixin,
    atomic_put,
    atomic_writer,
    written_file_metadata,
)
from taxi_pipeline.resources.lake import LakeResource
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.lake_file import write_lake_parquet
from taxi_pipeline.transforms.quality import schema_differences

if TYPE_CHECKING:
    import pandas as pd

COPY_CHUNK_BYTES = 8 << 20


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


def copy_canonical_parquet(source: UPath, path: UPath) -> None:
    """Publish an existing parquet file of the canonical schema under `path`, byte for byte and
    atomically, without decoding it; a file of another schema is refused, naming the difference."""
    with source.open("rb") as f:
        differences = schema_differences(pq.read_schema(f))
    if differences:
        raise ValueError(f"{source} is not a canonical trip file: {'; '.join(differences)}")
    with source.open("rb") as src, atomic_writer(path) as out:
        shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)


def move_canonical_parquet(staged: Path, path: UPath) -> None:
    """Move (local lake) or upload (object store) a staged parquet file of the canonical schema
    to `path`, atomically; a file of another schema is refused, naming the difference."""
    differences = schema_differences(pq.read_schema(staged))
    if differences:
        raise ValueError(f"{staged} is not a canonical trip file: {'; '.join(differences)}")
    atomic_put(staged, path)


class TripsParquetIOManager(TemplatedPartitionPathMixin, dg.UPathIOManager):
    """Writes a month of trips (a DataFrame, an Arrow table, a lake file's `UPath` to copy, or a
    staged local parquet file's `Path` to move) as one parquet file, atomically; reads it back as a pandas DataFrame with Arrow
    dtypes, or hands over its path to an input annotated `UPath`."""

    def __init__(self, base_path: UPath, path_template: str):
        super().__init__(base_path=base_path)
        self.path_template = path_template

    def dump_to_path(
        self, context: dg.OutputContext, obj: "pd.DataFrame | pa.Table | UPath | Path", path: UPath
    ) -> None:
        if isinstance(obj, UPath):  # a file of the lake: copied
            copy_canonical_parquet(obj, path)
        elif isinstance(obj, Path):  # a local file the asset staged and hands over: moved
            move_canonical_parquet(obj, path)
        else:
            table = to_canonical_table(obj)
            with atomic_writer(path) as f:
                write_lake_parquet(table, f)
        context.add_output_metadata(written_file_metadata(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> "pd.DataFrame | UPath":
        if context.dagster_type.typing_type is UPath:
            return path
        import pandas as pd  # only here: pandas adds ~0.7 s to every import of the definitions

        with path.open("rb") as f:
            return pq.read_table(f).to_pandas(types_mapper=pd.ArrowDtype)


class TripsParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Trip parquet files under the lake root (a folder or `gs://bucket`), placed by a path template."""

    lake: LakeResource = Field(description="Where the lake lives: a local folder or a GCS bucket")
    path_template: str = Field(
        description="Path under the root, with {color}, {month} (YYYY-MM) and {asset}",
    )

    def create_io_manager(self, context) -> TripsParquetIOManager:
        return TripsParquetIOManager(self.lake.root(), self.path_template)
