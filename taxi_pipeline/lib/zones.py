"""The taxi zone lookup table (`taxi_zone_lookup.csv`): its checks, and its zone ids for the audit."""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from upath import UPath

from taxi_pipeline.errors import PermanentError
from taxi_pipeline.schema import ZONES_SCHEMA

ZONE_HEADER = ("LocationID", "Borough", "Zone", "service_zone")
ZONE_COLUMNS = tuple(ZONES_SCHEMA.names)  # the warehouse table's columns, in the file's order


class ZoneFileError(PermanentError):
    """A zone table that is not `LocationID,Borough,Zone,service_zone` with unique integer ids."""


@dataclass(frozen=True)
class ZoneTable:
    """The checked rows of a zone lookup file: (location_id, borough, zone, service_zone)."""

    rows: list[tuple[int, str, str, str]]

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.rows]


def read_zone_file(path: Path | UPath, name: str | None = None) -> ZoneTable:
    """The rows of the zone table at `path` (local or gs://), or `ZoneFileError` naming the file
    (as `name` when given, e.g. its URL) and its first problem."""
    shown = name or str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ZoneFileError(f"{shown}: not UTF-8 text (byte {e.start})") from None
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, [])
    if [name.strip().lower() for name in header] != [name.lower() for name in ZONE_HEADER]:
        found = f"header is {','.join(header)}" if header else "the file is empty"
        raise ZoneFileError(f"{shown}: {found}, expected {','.join(ZONE_HEADER)}")
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
        rows.append((location_id, *record[1:]))
    if not rows:  # else every trip's location would count as "not a zone" and block its month
        raise ZoneFileError(f"{shown}: no zones, only a header")
    return ZoneTable(rows)
