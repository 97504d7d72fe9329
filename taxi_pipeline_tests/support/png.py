"""What a PNG is, read with Pillow (matplotlib's own dependency): its pixel size, once every chunk
is checked."""

import base64
import io
import re

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INLINE_PNG = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG whose chunks all pass their CRC; an error for anything else."""
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        image.verify()
        return image.size


def inline_png(markdown: str) -> bytes:
    """The bytes of the one PNG a markdown text inlines as `![...](data:image/png;base64,...)`."""
    [encoded] = _INLINE_PNG.findall(markdown)
    return base64.b64decode(encoded, validate=True)
