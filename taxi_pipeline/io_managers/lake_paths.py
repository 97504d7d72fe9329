"""Where a partition lives in the lake, and writes that never leave a partial file behind."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import dagster as dg
from upath import UPath

from taxi_pipeline.partitions import split_partition_key

LOCAL_PROTOCOLS = ("", "file", "local")


def is_local(path: UPath) -> bool:
    """True for a path on this machine's file system."""
    return path.protocol in LOCAL_PROTOCOLS


def to_local_path(path: UPath) -> Path:
    """The same path as a plain `pathlib.Path` (local paths only)."""
    return Path(path.path)


class TemplatedPartitionPathMixin:
    """A UPathIOManager part that places each (color, month) partition by a path template.

    The template may use `{color}`, `{month}` (YYYY-MM) and `{asset}` (the asset key's last
    part), e.g. `data/{color}/{color}_tripdata_{month}.parquet`; the extension belongs in it.
    """

    path_template: str

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        color, month = split_partition_key(context.asset_partition_key)
        relative = self.path_template.format(color=color, month=f"{month:%Y-%m}", asset=context.asset_key.path[-1])
        return self._base_path / relative


def _temporary_sibling(path: UPath) -> UPath:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _publish(tmp: UPath, path: UPath) -> None:
    if is_local(path):
        os.replace(to_local_path(tmp), to_local_path(path))  # atomic on one file system
    else:
        # Object stores have no rename; a copy is atomic per object, and the final name
        # appears only once the copy is complete.
        tmp.fs.mv(tmp.path, path.path)


@contextmanager
def atomic_writer(path: UPath) -> Iterator[IO[bytes]]:
    """A binary file to write into; it appears under `path` only when the block succeeds."""
    tmp = _temporary_sibling(path)
    try:
        with tmp.open("wb") as f:
            yield f
        _publish(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_put(local_file: Path, path: UPath) -> None:
    """Move (local) or upload (remote) `local_file` to `path`, all or nothing."""
    tmp = _temporary_sibling(path)
    try:
        if is_local(path):
            shutil.move(local_file, to_local_path(tmp))
        else:
            tmp.fs.put_file(str(local_file), tmp.path)
        _publish(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def written_file_metadata(path: UPath) -> dict[str, dg.MetadataValue]:
    """Size (and, for object stores, the URI) of a written lake file; `UPathIOManager` adds `path`."""
    metadata = {"bytes": dg.MetadataValue.int(path.stat().st_size)}
    if not is_local(path):
        metadata["uri"] = dg.MetadataValue.url(str(path))
    return metadata
