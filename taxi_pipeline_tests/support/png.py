"""What a PNG file is, read from its bytes without an image library: signature and pixel size."""

import base64
import re
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INLINE_PNG = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, from its IHDR chunk, which must come first and whose
    CRC must match; a ValueError for anything that is not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"not a PNG: starts with {data[:8]!r}")
    length, kind = struct.unpack(">I4s", data[8:16])
    body, crc = data[16 : 16 + length], struct.unpack(">I", data[16 + length : 20 + length])[0]
    if kind != b"IHDR" or zlib.crc32(kind + body) != crc:
        raise ValueError("not a PNG: no valid IHDR chunk first")
    return struct.unpack(">II", body[:8])


def inline_png(markdown: str) -> bytes:
    """The bytes of the one PNG a markdown text inlines as `![...](data:image/png;base64,...)`."""
    [encoded] = _INLINE_PNG.findall(markdown)
    return base64.b64decode(encoded, validate=True)
