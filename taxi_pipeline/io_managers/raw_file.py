"""The lake's raw zone: each month's source file kept byte for byte."""

import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field
from upath import UPath

from taxi_pipeline.io_managers.lake_paths import (
    TemplatedPartitionPathMixin,
    atomic_put,
    is_local,
    to_local_path,
    written_file_metadata,
)


class RawFileIOManager(TemplatedPartitionPathMixin, dg.UPathIOManager):
    """Stores an output given as a local file path (moved or uploaded, all or nothing) and
    gives downstream assets a local path to read."""

    def __init__(self, base_path: UPath, path_template: str):
        super().__init__(base_path=base_path)
        self.path_template = path_template

    def dump_to_path(self, context: dg.OutputContext, obj: Path, path: UPath) -> None:
        atomic_put(Path(obj), path)
        context.add_output_metadata(written_file_metadata(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Path:
        if is_local(path):
            return to_local_path(path)
        local = Path(tempfile.mkdtemp(prefix="taxi-raw-")) / path.name
        path.fs.get_file(path.path, str(local))
        return local


class RawFileIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """The raw zone under a lake root (a folder or `gs://bucket`), placed by a path template."""

    base_path: str = Field(description="Lake root: a local folder or gs://bucket")
    path_template: str = Field(description="Path under the root, with {color} and {month} (YYYY-MM)")

    def create_io_manager(self, context) -> RawFileIOManager:
        return RawFileIOManager(UPath(self.base_path), self.path_template)
