"""The lake's layout and its writes, free of Dagster: where each zone keeps a (color, month), and
how a file gets there whole or not at all, in a local folder or a `gs://` bucket alike."""

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from errno import EDQUOT, EFBIG, EIO, ENOSPC
from pathlib import Path
from typing import IO

from upath import UPath

from taxi_pipeline.errors import PermanentError

# One file per (color, month) in each zone, `month` YYYY-MM; staging is a folder per (color, month)
# of `{sha256}.parquet` files, each beside its audit's verdict `{sha256}.audit.json`.
RAW_FILE_TEMPLATE = "raw/{color}/{color}_tripdata_{month}.{file_format}"
STAGING_FILE_TEMPLATE = "staging/{color}/{color}_tripdata_{month}"
LAKE_FILE_TEMPLATE = "data/{color}/{color}_tripdata_{month}.parquet"
ZONES_FILE = "raw/misc/taxi_zone_lookup.csv"  # one file for all colors and months, as published


def raw_file_template(file_format: str) -> str:
    """The raw zone's path template for files of `file_format` (csv.gz or parquet)."""
    return RAW_FILE_TEMPLATE.replace("{file_format}", file_format)


def zone_path(template: str, color: str, month: date) -> str:
    """The path under the lake root of one (color, month) in the zone `template` describes."""
    return template.format(color=color, month=f"{month:%Y-%m}")


def file_sha256(path: Path | UPath) -> str:
    """The sha256 of a file's bytes, local or in an object store."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class StagedFile:
    """One staged content of a month: the file, its sha256, and the release it came from."""

    path: UPath
    sha256: str
    source: str

    @property
    def verdict_path(self) -> UPath:
        """Where the audit of exactly this content keeps its verdict."""
        return self.path.with_name(f"{self.sha256}.audit.json")


class LakeFileChangedError(PermanentError):
    """A lake file no longer holds the bytes a step was to publish or load."""


class LakeWriteError(OSError):
    """A lake file or folder that cannot be written; the message names the lake path and the reason."""


def is_local(path: UPath | Path) -> bool:
    """True for a path on this machine's file system."""
    return not isinstance(path, UPath) or path.protocol in ("", "file", "local")


def to_local_path(path: UPath | Path) -> Path:
    """The same local path as a plain `pathlib.Path`."""
    return Path(path.path) if isinstance(path, UPath) else Path(path)


@contextmanager
def _writing(path: UPath) -> Iterator[None]:
    """An OSError in the block, writing the local lake `path`, raised as a `LakeWriteError` naming it."""
    try:
        yield
    except OSError as e:
        if not is_local(path):
            raise
        raise LakeWriteError(e.errno, f"cannot write {path} in the lake (TAXI_LAKE_DIR): {e.strerror or e}") from None


def parts_folder() -> Path:
    """This user's folder of part files (a download or a conversion being written) under TMPDIR."""
    folder = Path(tempfile.gettempdir()) / f"taxi_pipeline-parts-{os.getuid()}"
    folder.mkdir(mode=0o755, exist_ok=True)
    return folder


@contextmanager
def local_part_file(prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty file in `parts_folder()` named after this process, removed if the block fails;
    parts left by dead processes (SIGKILL runs no cleanup) are removed first."""
    folder = parts_folder()
    for part in folder.glob("*.part"):
        if writer := re.search(r"\.pid(\d+)-", part.name):
            try:
                os.kill(int(writer[1]), 0)  # signal 0 only asks whether the process exists
            except ProcessLookupError:
                part.unlink(missing_ok=True)
            except PermissionError:  # it exists, another user's
                pass
    fd, name = tempfile.mkstemp(prefix=f"{prefix}pid{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    path = Path(name)
    path.chmod(0o644)  # mkstemp makes it owner-only
    try:
        yield path
    except BaseException as e:
        path.unlink(missing_ok=True)
        # A write error that names no file (a full disk's "[Errno 28] No space left on device") names it.
        if isinstance(e, OSError) and e.filename is None and e.errno in (ENOSPC, EDQUOT, EFBIG, EIO):
            raise OSError(e.errno, f"{e.strerror or e} (writing {path})", str(path)) from e
        raise


def make_folder(path: UPath) -> None:
    """Create a lake folder and its parents."""
    with _writing(path):
        path.mkdir(parents=True, exist_ok=True)


def _temporary(path: UPath) -> Path:
    """A hidden local name for a file on its way to `path`: beside it when local, else in TMPDIR."""
    folder = to_local_path(path).parent if is_local(path) else Path(tempfile.gettempdir())
    return folder / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"


@contextmanager
def _into(path: UPath) -> Iterator[Path]:
    """A local temporary file renamed over (or uploaded to: an object appears whole) the lake's
    `path` when the block succeeds, removed otherwise; a local write error names `path`."""
    tmp = _temporary(path)
    try:
        with _writing(path):
            yield tmp
            if is_local(path):
                os.replace(tmp, to_local_path(path))
            else:
                path.fs.put_file(str(tmp), path.path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: UPath) -> Iterator[IO[bytes]]:
    """A binary file to write into; it appears under the lake `path` only when the block succeeds."""
    with _into(path) as tmp, open(tmp, "wb") as f:
        yield f


def _link_or_copy(source: Path, destination: Path) -> None:
    # Every lake write replaces a file by rename, never in place, so two names of one inode never
    # see each other's changes: a hard link is a copy that writes nothing.
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, destination)


def _check_sha256(path: Path | UPath, sha256: str, named: object) -> None:
    if (actual := file_sha256(path)) != sha256:
        raise LakeFileChangedError(f"{named} holds sha256 {actual[:12]}…, not the {sha256[:12]}… expected")


def publish(source: Path, path: UPath) -> None:
    """Move the complete local file `source` to the lake `path`, all or nothing (to copy: `publish_verified`)."""
    with _into(path) as tmp:
        shutil.move(to_local_path(source), tmp)


def publish_verified(source: UPath, path: UPath, sha256: str) -> None:
    """Copy `source` to the lake `path`, all or nothing, only if the copy's bytes (what is hashed,
    so no writer of `source` slips others in) are those `sha256` names, else `LakeFileChangedError`."""
    with _into(path) as tmp:
        if is_local(source):
            _link_or_copy(to_local_path(source), tmp)
        else:
            source.fs.get_file(source.path, str(tmp))
        _check_sha256(tmp, sha256, named=source)


@dataclass(frozen=True)
class PinnedFile:
    """A lake file held as one publication's bytes: read `path`; call `check_still_published()` before committing."""

    path: UPath
    check_still_published: Callable[[], None]


@contextmanager
def pinned(path: UPath, sha256: str) -> Iterator[PinnedFile]:
    """The lake file at `path` held for the block as exactly the bytes `sha256` names (else
    `LakeFileChangedError`): locally a hidden hard link; in an object store the object itself."""
    local = is_local(path)
    link = _temporary(path) if local else path
    try:
        if local:
            _link_or_copy(to_local_path(path), link)
            held = link.stat()
        else:
            generation = path.fs.info(path.path).get("generation")
        _check_sha256(link, sha256, named=path)

        def check_still_published() -> None:
            if local:  # the name still is the link's inode, or holds the same bytes (published again)
                with suppress(FileNotFoundError):
                    if os.path.samestat(to_local_path(path).stat(), held) or file_sha256(path) == sha256:
                        return
            elif path.fs.info(path.path, refresh=True).get("generation") == generation:
                return
            raise LakeFileChangedError(f"{path} was published again while it was loaded: load it again")

        yield PinnedFile(UPath(link) if local else path, check_still_published)
        if not local:
            check_still_published()
    finally:
        if local:
            link.unlink(missing_ok=True)
