"""The lake's raw zone: each month's source file kept byte for byte."""

from pathlib import Path

import dagster as dg
from pydantic import Field
from upath import UPath

from taxi_pipeline.io_managers.lake_paths import (
    TemplatedPartitionPathMixin,
    atomic_put,
    written_file_metadata,
)
from taxi_pipeline.resources.lake import LakeResource


class RawFileIOManager(TemplatedPartitionPathMixin, dg.UPathIOManager):
    """Stores an output given as a local file path (moved or uploaded, all or nothing) and
    gives downstream assets the stored file's path."""

    def __init__(self, base_path: UPath, path_template: str):
        super().__init__(base_path=base_path)
        self.path_template = path_template

    def dump_to_path(self, context: dg.OutputContext, obj: Path, path: UPath) -> None:
        atomic_put(Path(obj), path)
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
