"""A cheap look at a downloaded month file, so that a source sending something that is not a
trip file fails at the download, naming the URL, instead of deep inside the CSV reader."""

import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"  # at the start and at the end of every parquet file
SNIFF_BYTES = 64 << 10


class NotATripFileError(ValueError):
    """The downloaded bytes cannot be a trip file: empty, an HTML page, binary, or a gzip stream
    whose first block does not decompress. A retry will not change it."""


def _printable(head: bytes) -> str:
    return repr(head[:24])


def check_downloaded_file(path: Path, file_format: str = "csv.gz") -> None:
    """Raise `NotATripFileError` when `path` is not a file of `file_format`: for csv.gz,
    gzip-compressed or plain CSV text; for parquet, a file that starts and ends with parquet's
    marker (a download cut short lacks the footer).

    Reads at most the first 64 KiB: a CSV file cut short further in is caught by the CSV reader
    ("Truncated compressed stream"), which names the file too.
    """
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        if file_format == "parquet" and head:
            f.seek(-min(len(PARQUET_MAGIC), f.seek(0, 2)), 2)
            tail = f.read()
    if not head:
        raise NotATripFileError("the file is empty (0 bytes)")
    if file_format == "parquet":
        if not head.startswith(PARQUET_MAGIC):
            raise NotATripFileError(f"it is not a parquet file (it starts with {_printable(head)})")
        if tail != PARQUET_MAGIC or len(head) < 2 * len(PARQUET_MAGIC):
            raise NotATripFileError("the parquet file is truncated: it lacks its footer")
        return
    if head.startswith(GZIP_MAGIC):
        stream = zlib.decompressobj(wbits=31)
        try:
            text = stream.decompress(head, 4096)
        except zlib.error as e:
            raise NotATripFileError(f"the gzip data is corrupt ({e})") from None
        if not text and stream.eof:
            raise NotATripFileError("the file is empty (gzip of 0 bytes)")
        if not text and len(head) < SNIFF_BYTES:
            raise NotATripFileError(f"the gzip data is truncated: {len(head)} bytes hold no complete block")
        return
    # Not gzip: plain CSV text is accepted (a mirror may hold uncompressed files); an HTML error
    # page or binary data is not.
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" in head or stripped.startswith(b"<"):
        raise NotATripFileError(f"it is neither gzip-compressed nor CSV text (it starts with {_printable(stripped)})")
