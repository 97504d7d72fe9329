"""Where a partition lives in the lake, and writes that never leave a partial file behind."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import dagster as dg
from upath import UPath

from taxi_pipeline.partitions import split_partition_key

LOCAL_PROTOCOLS = ("", "file", "local")


class LakeWriteError(OSError):
    """A lake file or folder that cannot be written (disk full, permission denied, not a folder);
    the message names the path and the reason."""


def lake_write_error(path, error: OSError) -> LakeWriteError:
    reason = error.strerror or str(error) or type(error).__name__
    return LakeWriteError(error.errno, f"cannot write {path} in the lake (TAXI_LAKE_DIR): {reason}")


class _WriteErrorsNamePath:
    """A binary file whose write errors (ENOSPC, EFBIG, EIO) name the lake path, not the temporary."""

    def __init__(self, f: IO[bytes], path):
        self._f, self._path = f, path

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            raise lake_write_error(self._path, e) from None

    def __getattr__(self, name):
        return getattr(self._f, name)


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

    def make_directory(self, path: UPath) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise lake_write_error(path, e) from None

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        color, month = split_partition_key(context.asset_partition_key)
        relative = self.path_template.format(color=color, month=f"{month:%Y-%m}", asset=context.asset_key.path[-1])
        return self._base_path / relative


def _temporary_sibling(path: UPath) -> UPath:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextmanager
def atomic_writer(path: UPath) -> Iterator[IO[bytes]]:
    """A binary file to write into; it appears under `path` only when the block succeeds.

    Local: a hidden sibling renamed over the target. Object store: a local temporary file
    uploaded once complete; an upload creates the object only when it finishes, so a failed
    write leaves the previous object or none.
    """
    if not is_local(path):
        with tempfile.NamedTemporaryFile(prefix="taxi-lake-", suffix=path.suffix) as staged:
            yield staged
            staged.flush()
            path.fs.put_file(staged.name, path.path)
        return
    tmp = _temporary_sibling(path)
    try:
        try:
            f = open(to_local_path(tmp), "wb")
        except OSError as e:
            raise lake_write_error(path, e) from None
        with f:
            yield _WriteErrorsNamePath(f, path)
            try:
                f.flush()
            except OSError as e:
                raise lake_write_error(path, e) from None
        try:
            os.replace(to_local_path(tmp), to_local_path(path))  # atomic on one file system
        except OSError as e:
            raise lake_write_error(path, e) from None
    except BaseException:
        to_local_path(tmp).unlink(missing_ok=True)
        raise


def atomic_put(local_file: Path, path: UPath) -> None:
    """Move (local) or upload (object store) `local_file` to `path`, all or nothing."""
    if not is_local(path):
        path.fs.put_file(str(local_file), path.path)
        local_file.unlink()
        return
    tmp = _temporary_sibling(path)
    try:
        shutil.move(local_file, to_local_path(tmp))
        os.replace(to_local_path(tmp), to_local_path(path))
    except OSError as e:
        to_local_path(tmp).unlink(missing_ok=True)
        raise lake_write_error(path, e) from None
    except BaseException:
        to_local_path(tmp).unlink(missing_ok=True)
        raise


def written_file_metadata(path: UPath) -> dict[str, dg.MetadataValue]:
    """Size (and, for object stores, the URI) of a written lake file; `UPathIOManager` adds `path`."""
    metadata = {"bytes": dg.MetadataValue.int(path.stat().st_size)}
    if path.protocol == "gs":
        metadata["uri"] = dg.MetadataValue.text(str(path))
        metadata["console"] = dg.MetadataValue.url(f"https://console.cloud.google.com/storage/browser/_details/{path.path}")
    elif not is_local(path):
        metadata["uri"] = dg.MetadataValue.text(str(path))
    return metadata
