"""The offline mirrors `make dev-demo` and `make dev-tlc-demo` open the UI on: every partition of a
source's range as a file where and as the source publishes it, the bundled real months byte for byte
and, for every other (color, month), a small generated month in the layout of that color and year,
marked as generated inside the file (`taxi_pipeline.lib.source_file.GENERATED_MARK`).

    python -m deploy.mirror course data/mirror/course
    TAXI_FIRST_MONTH=2024-01 python -m deploy.mirror tlc data/mirror/tlc

Made once, then only what is missing (a TLC month published since); remade whole when this
generator changes. Run from the project folder (it imports `benchmarks`).
"""

import argparse
import hashlib
import os
import shutil
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.generate_fhvhv import generate_fhvhv_rows
from benchmarks.generate_trips import generate_month
from taxi_pipeline.defs.source.releases import RELEASES, TripRelease
from taxi_pipeline.lib.layouts import LAYOUTS
from taxi_pipeline.lib.source_file import GENERATED_MARK, GZIP_FCOMMENT, GZIP_MAGIC
from taxi_pipeline.partitions import build_trip_partitions, split_partition_key
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
BUNDLED = {  # the real files of each source, laid out as its release (the TLC's under their own names)
    "course": PROJECT_DIR / "taxi_pipeline_tests" / "data" / "release",
    "tlc": PROJECT_DIR / "taxi_pipeline_tests" / "data" / "tlc",
}
# A bundled TLC file that holds a part of its month, under a name that says so.
BUNDLED_TLC_PARTS = {("yellow", "2025-01"): "yellow_tripdata_2025-01.first5.parquet"}
# Where the mirror's files go under its folder: the TLC's host keeps trip-data/ beside misc/.
TRIP_FOLDER = {"course": ".", "tlc": "trip-data"}
ZONES = "misc/taxi_zone_lookup.csv"
FEWEST_ROWS, MORE_ROWS = 200, 300  # a generated month holds 200 to 500 rows, by its seed
# The course's fhv files spell these columns so from 2020 (2019: dropOff_datetime, PUlocationID, DOlocationID).
FHV_FROM_2020 = {"dropOff_datetime": "dropoff_datetime", "PUlocationID": "PULocationID", "DOlocationID": "DOLocationID"}
# The TLC's parquet types until 2023-02 (pandas: ids int64, codes double, strings `string`, all-empty
# columns Arrow's null) and after (ids int32, codes int64, strings `large_string`, all-empty double).
TLC_TYPE_SWITCH = date(2023, 2, 1)
TLC_IDS = {"vendor_id", "pickup_location_id", "dropoff_location_id"}
TLC_CBD_FEE_FROM = date(2025, 1, 1)
STAMP = ".generator-sha256"  # the generator's code the files were made by


@dataclass(frozen=True)
class Mirror:
    """A mirror folder: its TAXI_SOURCE_URL, and how many of its months are real, generated, new."""

    source_url: str
    real: int
    generated: int
    made: int


def seed_and_rows(color: str, month: date) -> tuple[int, int]:
    """The generator's seed of one (color, month), and the rows it generates: fixed, a few hundred."""
    seed = zlib.crc32(f"{color}|{month:%Y-%m}".encode())
    return seed, FEWEST_ROWS + seed % (MORE_ROWS + 1)


def generated_note(rows: int, seed: int, release: TripRelease) -> str:
    """What a generated file says of itself in its mark."""
    return f"{rows} rows made by deploy/mirror.py (seed {seed}), not a file of the {release.description}"


def gzip_with_comment(data: bytes, comment: str) -> bytes:
    """`data` as one gzip member whose header carries `comment` (Python's gzip writes none); no
    time stamp, so the same data gives the same bytes."""
    header = GZIP_MAGIC + bytes([8, GZIP_FCOMMENT]) + struct.pack("<I", 0) + b"\x00\xff"
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return header + comment.encode("latin-1") + b"\x00" + body + struct.pack("<II", zlib.crc32(data), len(data))


def course_month(color: str, month: date, path: Path) -> None:
    """A generated month of the course's release: CSV in the color's and year's header, gzipped."""
    seed, rows = seed_and_rows(color, month)
    table = generate_month(color, rows, month, seed)
    if color == "fhv" and month.year >= 2020:
        table = table.rename_columns([FHV_FROM_2020.get(name, name) for name in table.column_names])
    text = pa.BufferOutputStream()
    text.write((",".join(table.column_names) + "\n").encode())  # unquoted, like the release
    pacsv.write_csv(table, text, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    note = generated_note(rows, seed, RELEASES["course"])
    path.write_bytes(gzip_with_comment(text.getvalue().to_pybytes(), f"{GENERATED_MARK}: {note}"))


def _tlc_column(service: str, name: str, column: pa.ChunkedArray, month: date) -> pa.ChunkedArray | pa.Array:
    """A column of the service's layout in the physical type the TLC's file of `month` gives it."""
    canonical = CANONICAL_SCHEMA.field(LAYOUTS[service].columns[name.lower()]).type
    newer = month >= TLC_TYPE_SWITCH
    if column.null_count == len(column) and not newer:
        return pa.nulls(len(column))
    if canonical == pa.int32():
        if LAYOUTS[service].columns[name.lower()] in TLC_IDS:
            kind = pa.int32() if newer else pa.int64()
        else:
            kind = pa.int64() if newer else pa.float64()
    elif pa.types.is_string(canonical):
        kind = pa.large_string() if newer else pa.string()
    else:
        kind = pa.timestamp("us") if pa.types.is_timestamp(canonical) else canonical
    return column.cast(kind)


def tlc_month(service: str, month: date, path: Path) -> None:
    """A generated month of the TLC's release: parquet in the service's columns and the month's types."""
    seed, rows = seed_and_rows(service, month)
    if service == "fhvhv":
        table = generate_fhvhv_rows(rows, month, seed)
    else:
        table = generate_month(service, rows, month, seed)
        if service == "yellow":  # `Airport_fee` from 2023-02, as the TLC spells it
            fee = pa.array([0.0, 1.75] * (rows // 2) + [0.0] * (rows % 2))
            table = table.append_column("Airport_fee" if month >= TLC_TYPE_SWITCH else "airport_fee", fee)
        if service in ("yellow", "green") and month >= TLC_CBD_FEE_FROM:
            table = table.append_column("cbd_congestion_fee", pa.array([0.75] * rows))
    if month < TLC_CBD_FEE_FROM and "cbd_congestion_fee" in table.column_names:
        table = table.drop_columns("cbd_congestion_fee")
    columns = {name: _tlc_column(service, name, table[name], month) for name in table.column_names}
    note = generated_note(rows, seed, RELEASES["tlc"])
    table = pa.table(columns).replace_schema_metadata({GENERATED_MARK: note})
    pq.write_table(table, path, compression="zstd")


MONTH_MAKERS = {"course": course_month, "tlc": tlc_month}


def generator_sha256() -> str:
    """The sha256 of the code that generates the files: a change remakes the mirror."""
    digest = hashlib.sha256()
    for module in (Path(__file__), *(PROJECT_DIR / "benchmarks" / f"generate_{n}.py" for n in ("trips", "fhvhv"))):
        digest.update(module.read_bytes())
    return digest.hexdigest()


def _write(path: Path, make) -> None:
    """`make(tmp)` then rename: an interrupted run leaves no half file the cache would keep."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    make(tmp)
    os.replace(tmp, path)


def build_mirror(source: str, folder: Path, first_month: date | None = None) -> Mirror:
    """The mirror of `source` in `folder`, made or completed: a file for every partition of its range
    (from `first_month`, the TLC's), and the zone table."""
    release, bundled = RELEASES[source], BUNDLED[source]
    stamp, sha256 = folder / STAMP, generator_sha256()
    if folder.exists() and (not stamp.is_file() or stamp.read_text() != sha256):
        shutil.rmtree(folder)
    trips = folder / TRIP_FOLDER[source]
    made = real = generated = 0
    for key in build_trip_partitions(release, first_month).get_partition_keys():
        color, month = split_partition_key(key)
        if month < release.service_start[color]:
            continue  # the source cannot have it: the pipeline says so without a request
        name = release.file_template.format(color=color, month=f"{month:%Y-%m}")
        published = bundled / BUNDLED_TLC_PARTS.get((color, f"{month:%Y-%m}"), name)
        real += published.is_file()
        generated += not published.is_file()
        if (trips / name).is_file():
            continue
        if published.is_file():
            _write(trips / name, lambda tmp, published=published: shutil.copyfile(published, tmp))
        else:
            _write(trips / name, lambda tmp, c=color, m=month: MONTH_MAKERS[source](c, m, tmp))
        made += 1
    zones = folder / ZONES
    if not zones.is_file():
        _write(zones, lambda tmp: shutil.copyfile(bundled / ZONES, tmp))
    stamp.write_text(sha256)
    return Mirror(trips.resolve().as_uri(), real, generated, made)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=sorted(RELEASES), help="the source whose release the mirror copies")
    parser.add_argument("folder", type=Path, help="where the mirror goes (data/mirror/<source>)")
    args = parser.parse_args()
    # TAXI_FIRST_MONTH, checked where every setting is, sets where the TLC's range begins.
    environment = {**os.environ, "TAXI_SOURCE": args.source}
    if args.source == "course":
        environment.pop("TAXI_FIRST_MONTH", None)
    first_month = Settings.from_environment(environment, today=datetime.now(UTC).date()).first_month
    started = time.monotonic()
    mirror = build_mirror(args.source, args.folder, first_month)
    print(
        f"offline {args.source} mirror {args.folder}: {mirror.real} real months, {mirror.generated} generated "
        f"({mirror.made} files made in {time.monotonic() - started:.1f} s); TAXI_SOURCE_URL={mirror.source_url}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
