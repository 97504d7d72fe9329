"""The lake's raw zone: each month's source file kept byte for byte."""

from pathlib import Path

import dagster as dg
from pydantic import Field
from upath import UPath

from taxi_pipeline.io_managers.lake_file import LakeFileIOManager, written_file_metadata
from taxi_pipeline.lake import publish
from taxi_pipeline.resources.lake import LakeResource


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
