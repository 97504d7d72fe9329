"""A cheap look at a downloaded month file, so that what is not a trip file fails at the download, and
what its first and last bytes tell: its uncompressed size, and whether the offline mirror generated it."""

import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from taxi_pipeline.errors import PermanentError

GZIP_MAGIC = b"\x1f\x8b"
GZIP_FEXTRA, GZIP_FNAME, GZIP_FCOMMENT = 0x04, 0x08, 0x10  # gzip header flags (RFC 1952)
PARQUET_MAGIC = b"PAR1"  # at the start and at the end of every parquet file
SNIFF_BYTES = 64 << 10
# The mark of a file the offline mirror (deploy/mirror.py) generated: a parquet footer's key, or
# the start of a gzip member's comment (`GENERATED_MARK: what was generated`). Published files carry none.
GENERATED_MARK = "taxi_pipeline.generated"


class NotATripFileError(PermanentError):
    """Downloaded bytes that cannot be a trip file: empty, an HTML page, binary, a broken gzip."""


@dataclass(frozen=True)
class TripFileFacts:
    """What a trip file's header and trailer (or parquet footer) say of it, without reading it whole."""

    uncompressed_bytes: int
    # What `uncompressed_bytes` counts: "uncompressed" (a CSV's bytes: the gzip trailer's ISIZE, or the
    # file's size if not gzipped) or "column_chunks_uncompressed" (parquet: the footer's column chunks).
    uncompressed_name: str
    generated: str | None  # the offline mirror's note on a file it generated; None for a published file


def check_downloaded_file(path: Path, file_format: str = "csv.gz") -> TripFileFacts:
    """The facts of `path`, or `NotATripFileError` unless it is a file of `file_format`: for csv.gz,
    gzip or plain CSV text whose first 64 KiB decompress; for parquet, one with parquet's marker at both ends."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        size = f.seek(0, 2)
        f.seek(max(size - len(PARQUET_MAGIC), 0))
        tail = f.read()
        if problem := _problem(head, tail, file_format):
            raise NotATripFileError(problem)
        if file_format == "parquet":
            f.seek(0)
            try:
                footer = pq.read_metadata(f)
            except pa.ArrowException as e:
                raise NotATripFileError(f"the parquet footer cannot be read ({e})") from None
            chunks = sum(
                group.column(i).total_uncompressed_size
                for group in (footer.row_group(g) for g in range(footer.num_row_groups))
                for i in range(group.num_columns)
            )
            note = (footer.metadata or {}).get(GENERATED_MARK.encode())
            return TripFileFacts(chunks, "column_chunks_uncompressed", note and note.decode())
    if not head.startswith(GZIP_MAGIC):
        return TripFileFacts(size, "uncompressed", None)
    # ISIZE, the last four bytes: the size mod 2**32 of the last gzip member (the whole of a one-member file).
    return TripFileFacts(int.from_bytes(tail, "little"), "uncompressed", _gzip_note(head))


def _gzip_note(head: bytes) -> str | None:
    """The generated mark's note in the comment of the gzip header at the start of `head`, if any."""
    flags, at = head[3], 10
    if flags & GZIP_FEXTRA:
        at += 2 + int.from_bytes(head[at : at + 2], "little")
    if flags & GZIP_FNAME:
        at = head.find(b"\x00", at) + 1
    end = head.find(b"\x00", at)
    if not flags & GZIP_FCOMMENT or not at or end < 0:  # no comment, or a header longer than `head`
        return None
    comment = head[at:end].decode("latin-1")
    mark, colon, note = comment.partition(":")
    return note.strip() if colon and mark == GENERATED_MARK else None


def _problem(head: bytes, tail: bytes, file_format: str) -> str | None:
    if not head:
        return "the file is empty (0 bytes)"
    if file_format == "parquet":
        if not head.startswith(PARQUET_MAGIC):
            return f"it is not a parquet file (it starts with {head[:24]!r})"
        if tail != PARQUET_MAGIC or len(head) < 2 * len(PARQUET_MAGIC):
            return "the parquet file is truncated: it lacks its footer"
        return None
    if head.startswith(GZIP_MAGIC):
        stream = zlib.decompressobj(wbits=31)
        try:
            text = stream.decompress(head, 4096)
        except zlib.error as e:
            return f"the gzip data is corrupt ({e})"
        if not text and stream.eof:
            return "the file is empty (gzip of 0 bytes)"
        if not text and len(head) < SNIFF_BYTES:
            return f"the gzip data is truncated: {len(head)} bytes hold no complete block"
        return None
    # Plain CSV text is accepted (a mirror may hold uncompressed files).
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" in head or stripped.startswith(b"<"):
        return f"it is neither gzip-compressed nor CSV text (it starts with {stripped[:24]!r})"
    return None
