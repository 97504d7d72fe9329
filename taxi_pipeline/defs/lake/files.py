"""The lake's layout and its writes: where each zone keeps a (color, month), and how a file gets
there whole or not at all, under a local folder or a `gs://` bucket alike."""

import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from upath import UPath

# One file per (color, month) in each zone; `month` is YYYY-MM, the sources' file names. The raw
# zone keeps the file as published: CSV.gz from the course's mirror, parquet from the TLC.
RAW_FILE_TEMPLATE = "raw/{color}/{color}_tripdata_{month}.{file_format}"
# Staging is content-addressed: a folder per (color, month) holding each staged content as
# `{sha256}.parquet` beside its audit's verdict `{sha256}.audit.json`, so a run never reads,
# audits or publishes a file another run wrote over.
STAGING_FILE_TEMPLATE = "staging/{color}/{color}_tripdata_{month}"
LAKE_FILE_TEMPLATE = "data/{color}/{color}_tripdata_{month}.parquet"
# The taxi zone lookup table, one file for all colors and months, kept as published.
ZONES_FILE = "raw/misc/taxi_zone_lookup.csv"

LOCAL_PROTOCOLS = ("", "file", "local")


def raw_file_template(file_format: str) -> str:
    """The raw zone's path template for files of `file_format` (csv.gz or parquet)."""
    return RAW_FILE_TEMPLATE.replace("{file_format}", file_format)


def zone_path(template: str, color: str, month: date) -> str:
    """The path under the lake root of one (color, month) in the zone `template` describes."""
    return template.format(color=color, month=f"{month:%Y-%m}")


HASH_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path | UPath) -> str:
    """The sha256 of a file's bytes (local or in an object store), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StagedFile:
    """One staged content of a month: the file, its sha256, and the release it was converted
    from (course or tlc)."""

    path: UPath
    sha256: str
    source: str

    @property
    def verdict_path(self) -> UPath:
        """Where the audit of exactly this content keeps its verdict."""
        return self.path.with_name(f"{self.sha256}.audit.json")


class LakeFileChangedError(Exception):
    """A lake file no longer holds the bytes a step was to publish or load (another writer, or a
    hand, replaced it): the message names the file and both hashes. A retry would read the same
    bytes, so the step fails at once."""


class LakeWriteError(OSError):
    """A lake file or folder that cannot be written (disk full, permission denied, not a folder);
    the message names the path and the reason."""


def lake_write_error(path, error: OSError) -> LakeWriteError:
    """`error` as a `LakeWriteError` naming the lake `path` (not a temporary file) and the reason."""
    reason = error.strerror or str(error) or type(error).__name__
    return LakeWriteError(error.errno, f"cannot write {path} in the lake (TAXI_LAKE_DIR): {reason}")


# The errors of a write that name no file: a full disk or quota, a file too large, an I/O error.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


@contextmanager
def naming_the_file(path: Path) -> Iterator[None]:
    """Around writes to `path`: an OSError that names no file (a write to an open file on a full
    disk says only "[Errno 28] No space left on device") is raised again naming `path`, and so
    its folder (for temp files, TMPDIR)."""
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno not in WRITE_ERRNOS:
            raise
        raise OSError(e.errno, f"{e.strerror or e} (writing {path})", str(path)) from e


def is_local(path: UPath | Path) -> bool:
    """True for a path on this machine's file system."""
    return not isinstance(path, UPath) or path.protocol in LOCAL_PROTOCOLS


def to_local_path(path: UPath | Path) -> Path:
    """The same path as a plain `pathlib.Path` (local paths only)."""
    return Path(path.path) if isinstance(path, UPath) else Path(path)


def make_folder(path: UPath) -> None:
    """Create a lake folder and its parents; an error names the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise lake_write_error(path, e) from None


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


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextmanager
def _local_replace(path: Path) -> Iterator[Path]:
    """A hidden temporary beside `path` to fill; renamed over `path` when the block succeeds,
    removed when it fails. The rename is atomic on one file system."""
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise lake_write_error(path, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    with _local_replace(to_local_path(path)) as tmp:
        try:
            f = open(tmp, "wb")
        except OSError as e:
            raise lake_write_error(path, e) from None
        with f:
            yield _WriteErrorsNamePath(f, path)
            try:
                f.flush()
            except OSError as e:
                raise lake_write_error(path, e) from None


def _changed(path, expected: str, actual: str) -> LakeFileChangedError:
    return LakeFileChangedError(f"{path} holds sha256 {actual[:12]}…, not the {expected[:12]}… expected")


@dataclass(frozen=True)
class PinnedFile:
    """A lake file held as exactly the bytes of one publication: `path` to read them from, and
    `check_still_published()` (call it just before committing what was read) which raises
    `LakeFileChangedError` once the lake's file is no longer those bytes."""

    path: UPath
    check_still_published: Callable[[], None]


@contextmanager
def pinned(path: UPath, sha256: str) -> Iterator[PinnedFile]:
    """The lake file at `path`, held for the block as exactly the bytes `sha256` names.

    Local: a hidden hard link beside it (a lake file is only ever replaced by rename, so the link
    keeps these bytes whatever is published meanwhile), checked and yielded, removed after; the
    lake's file is still them while it is the same inode. Object store: the object is read and
    checked; it is still them while its generation is the same (a generation's bytes never
    change). Raises `LakeFileChangedError` when the bytes differ.
    """
    if is_local(path):
        local = to_local_path(path)
        link = _temporary_sibling(local)
        try:
            _local_copy(local, link)
            actual = file_sha256(link)
            if actual != sha256:
                raise _changed(path, sha256, actual)
            held = link.stat()

            def check_still_published() -> None:
                try:
                    now = local.stat()
                except FileNotFoundError:
                    now = None
                if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
                    raise LakeFileChangedError(f"{path} was published again while it was loaded: load it again")

            yield PinnedFile(UPath(link), check_still_published)
        finally:
            link.unlink(missing_ok=True)
        return
    generation = path.fs.info(path.path).get("generation")
    actual = file_sha256(path)
    if actual != sha256:
        raise _changed(path, sha256, actual)

    def check_generation() -> None:
        if path.fs.info(path.path, refresh=True).get("generation") != generation:
            raise LakeFileChangedError(f"{path} was published again while it was loaded: load it again")

    yield PinnedFile(path, check_generation)
    check_generation()


def publish_verified(source: UPath, path: UPath, sha256: str) -> None:
    """Put a copy of the file `source` under the lake `path`, all or nothing, only if the bytes
    copied are exactly those `sha256` names (else `LakeFileChangedError`, and the lake keeps its
    previous file). The bytes are checked where they are renamed (local) or uploaded (object
    store) from, so no writer of `source` can slip others in between. A local lake publishes
    local files only."""
    if is_local(path):
        with _local_replace(to_local_path(path)) as tmp:
            try:
                _local_copy(to_local_path(source), tmp)
            except OSError as e:
                raise lake_write_error(path, e) from None
            if (actual := file_sha256(tmp)) != sha256:
                raise _changed(source, sha256, actual)
        return
    with tempfile.TemporaryDirectory(prefix="taxi-publish-") as scratch:
        local = to_local_path(source) if is_local(source) else Path(scratch) / "staged.parquet"
        if not is_local(source):
            source.fs.get_file(source.path, str(local))
        if (actual := file_sha256(local)) != sha256:
            raise _changed(source, sha256, actual)
        path.fs.put_file(str(local), path.path)


def _local_copy(source: Path, destination: Path) -> None:
    # A hard link publishes the same bytes without writing them twice; every lake write replaces
    # a file by rename, never in place, so the two names can never see each other's changes.
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed: copy the bytes
        shutil.copyfile(source, destination)


def publish(source: Path | UPath, path: UPath, *, keep_source: bool) -> None:
    """Put the complete file `source` under the lake `path`, all or nothing: the previous file
    stays until the new one is whole. `keep_source` says whether `source` stays (a copy: a lake
    file published from another zone) or goes (a move: a local file a step produced).

    Local sources and destinations, and `gs://` ones through fsspec, in any combination but
    object store to local disk.
    """
    if is_local(path):
        if not is_local(source):
            raise ValueError(f"cannot publish {source} from an object store to the local lake path {path}")
        src = to_local_path(source)
        with _local_replace(to_local_path(path)) as tmp:
            try:
                _local_copy(src, tmp) if keep_source else shutil.move(src, tmp)
            except OSError as e:
                raise lake_write_error(path, e) from None
    elif is_local(source):
        path.fs.put_file(str(to_local_path(source)), path.path)
        if not keep_source:
            to_local_path(source).unlink()
    else:
        # A server-side copy: the object appears under its name only once complete.
        path.fs.copy(source.path, path.path)
        if not keep_source:
            source.unlink()
