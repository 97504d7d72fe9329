"""The taxi zone lookup table (`taxi_zone_lookup.csv`): its checks, and its zone ids for the audit."""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from upath import UPath

from taxi_pipeline.schema import ZONES_SCHEMA

ZONE_HEADER = ("LocationID", "Borough", "Zone", "service_zone")
# The warehouse table's columns, in the file's order, and their SQL types by warehouse.
ZONE_COLUMNS = tuple(ZONES_SCHEMA.names)
MAX_ZONE_FILE_BYTES = 1 << 20  # the published table is ~12 KB; anything much larger is not it


class ZoneFileError(ValueError):
    """A zone table that is not `LocationID,Borough,Zone,service_zone` with unique integer ids;
    the message names the file and the problem."""


@dataclass(frozen=True)
class ZoneTable:
    """The checked rows of a zone lookup file: (location_id, borough, zone, service_zone)."""

    path: str
    rows: list[tuple[int, str, str, str]]

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.rows]


def _read_bytes(path: Path | UPath, shown: str) -> bytes:
    with path.open("rb") as f:
        data = f.read(MAX_ZONE_FILE_BYTES + 1)
    if len(data) > MAX_ZONE_FILE_BYTES:
        raise ZoneFileError(f"{shown}: larger than {MAX_ZONE_FILE_BYTES:,} bytes, not a taxi zone table")
    return data


def read_zone_file(path: Path | UPath, name: str | None = None) -> ZoneTable:
    """The rows of the zone table at `path` (local or gs://), or `ZoneFileError` naming the file
    (as `name`, e.g. the URL it came from, when given) and the first problem: the header must be
    `LocationID,Borough,Zone,service_zone` (any case), every id an integer, no id twice, every
    row four fields."""
    shown = name or str(path)
    try:
        text = _read_bytes(path, shown).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ZoneFileError(f"{shown}: not UTF-8 text (byte {e.start})") from None
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if header is None:
        raise ZoneFileError(f"{shown}: empty file, expected the header {','.join(ZONE_HEADER)}")
    if [name.strip().lower() for name in header] != [name.lower() for name in ZONE_HEADER]:
        raise ZoneFileError(f"{shown}: header is {','.join(header)}, expected {','.join(ZONE_HEADER)}")
    rows, seen = [], {}
    for line, record in enumerate(records, start=2):
        if not record:
            continue  # a blank line, e.g. at the end
        if len(record) != len(ZONE_HEADER):
            raise ZoneFileError(f"{shown}: line {line} has {len(record)} fields, expected {len(ZONE_HEADER)}")
        raw_id = record[0].strip()
        # Digits only (Python's int() would take "1_0" and "+1"), and within a 32-bit INTEGER.
        if not re.fullmatch(r"[0-9]{1,9}", raw_id):
            raise ZoneFileError(f"{shown}: line {line}: LocationID {raw_id!r} is not an integer")
        location_id = int(raw_id)
        if location_id in seen:
            raise ZoneFileError(f"{shown}: line {line}: LocationID {location_id} repeats line {seen[location_id]}")
        seen[location_id] = line
        rows.append((location_id, record[1], record[2], record[3]))
    if not rows:
        raise ZoneFileError(f"{shown}: no zones, only a header")
    return ZoneTable(shown, rows)
