"""A cheap look at a downloaded month file, so that what is not a trip file fails at the download."""

import zlib
from pathlib import Path

from taxi_pipeline.errors import PermanentError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"  # at the start and at the end of every parquet file
SNIFF_BYTES = 64 << 10


class NotATripFileError(PermanentError):
    """Downloaded bytes that cannot be a trip file: empty, an HTML page, binary, a broken gzip."""


def check_downloaded_file(path: Path, file_format: str = "csv.gz") -> None:
    """`NotATripFileError` unless `path` is a file of `file_format`: for csv.gz, gzip or plain CSV
    text whose first 64 KiB decompress; for parquet, one with parquet's marker at both ends."""
    if problem := _problem(path, file_format):
        raise NotATripFileError(problem)


def _problem(path: Path, file_format: str) -> str | None:
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        f.seek(max(f.seek(0, 2) - len(PARQUET_MAGIC), 0))
        tail = f.read()
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
