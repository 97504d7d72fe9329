"""Parquet files of the canonical trip schema, one per (color, month), on local disk or gs://."""

from pathlib import Path
from typing import TYPE_CHECKING, get_args, get_origin

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from taxi_pipeline.io_managers.lake_file import LakeFileIOManager, written_file_metadata
from taxi_pipeline.lake import atomic_writer, publish
from taxi_pipeline.resources.lake import LakeResource
from taxi_pipeline.schema import CANONICAL_SCHEMA, schema_version
from taxi_pipeline.transforms.lake_file import write_lake_parquet
from taxi_pipeline.transforms.quality import schema_differences

if TYPE_CHECKING:
    import pandas as pd


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
    byte, copied or moved as `keep_source` says. Loads a pandas DataFrame with Arrow dtypes, or
    the file's path for an input annotated `UPath`."""

    def __init__(self, lake_root: UPath, path_template: str, keep_source: bool):
        super().__init__(lake_root, path_template)
        self.keep_source = keep_source

    def dump_to_path(
        self, context: dg.OutputContext, obj: "pd.DataFrame | pa.Table | Path | UPath", path: UPath
    ) -> None:
        if isinstance(obj, Path | UPath):
            check_canonical_parquet(obj)
            publish(obj, path, keep_source=self.keep_source)
        else:
            table = to_canonical_table(obj)
            with atomic_writer(path) as f:
                write_lake_parquet(table, f)
        context.add_output_metadata(written_file_metadata(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> "pd.DataFrame | UPath":
        if _wants_paths(context):
            return path
        import pandas as pd  # only here: pandas adds ~0.7 s to every import of the definitions

        with path.open("rb") as f:
            return pq.read_table(f).to_pandas(types_mapper=pd.ArrowDtype)


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
