"""What the tests look for in folders: temporaries left by the atomic writers, files holding a
secret."""

from pathlib import Path


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of the atomic writers left in a folder tree, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.name.endswith(".tmp"))


def files_holding(folder: Path, needle: str) -> list[Path]:
    """Every file in a folder tree whose bytes contain `needle` (UTF-8 encoded)."""
    return [p for p in Path(folder).rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]
