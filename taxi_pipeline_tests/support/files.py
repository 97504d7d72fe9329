"""Files the tests write and look for: plain parquet files for a warehouse to load, temporaries
left by the atomic writers, files holding a secret."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath


def write_parquet(table: pa.Table, path) -> UPath:
    """Write `table` as a parquet file at `path` (a local path or any UPath, such as gs://) with
    pyarrow's defaults, not through the product's writers; returns the path as a UPath."""
    path = UPath(path)
    with path.open("wb") as f:
        pq.write_table(table, f)
    return path


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of the atomic writers left in a folder tree, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.name.endswith(".tmp"))


def files_holding(folder: Path, needle: str) -> list[Path]:
    """Every file in a folder tree whose bytes contain `needle` (UTF-8 encoded)."""
    return [p for p in Path(folder).rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]
