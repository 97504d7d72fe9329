"""The bundled release mirror (`taxi_pipeline_tests/data/release`) and where its files land.

The rows of each bundled real file are the facts the tests hold the pipeline to (see
`data/README.md`); `release_file`, `raw_file` and `lake_file` name a month's file in a release
mirror and in a local lake.
"""

import csv
import gzip
import io
import shutil
from pathlib import Path

from taxi_pipeline.defs.lake.files import LAKE_FILE_TEMPLATE, ZONES_FILE, raw_file_template

RELEASE_DIR = Path(__file__).resolve().parents[1] / "data" / "release"

# Rows of the bundled real files (see data/README.md), the facts the tests hold the pipeline to.
SAMPLE_ROWS = {
    "green|2020-04-01": 35_612,  # the whole published green 2020-04 file
    "yellow|2021-01-01": 22_792,  # the first 22,792 rows of yellow 2021-01
    "fhv|2019-01-01": 18,  # head of fhv 2019-01, TLC's older 6-column header
    "fhv|2020-01-01": 16,  # head of fhv 2020-01, same older header
}

ZONES_ROWS = 265  # the taxi zones of misc/taxi_zone_lookup.csv


def release_zones(mirror: Path = RELEASE_DIR) -> Path:
    """The taxi zone lookup table in a release mirror, the bundled one unless `mirror` names another."""
    return mirror / "misc" / "taxi_zone_lookup.csv"


def release_file(color: str, month: str, mirror: Path = RELEASE_DIR) -> Path:
    """A month's file in a release mirror, the bundled one unless `mirror` names another folder,
    e.g. release_file("green", "2020-04")."""
    return mirror / color / f"{color}_tripdata_{month}.csv.gz"


def release_lines(color: str, month: str, rows: int | None = None) -> list[str]:
    """The header and the first `rows` trips (default all) of a bundled real file."""
    with gzip.open(release_file(color, month), "rt", encoding="latin-1") as f:
        lines = f.read().splitlines()
    return lines if rows is None else lines[: rows + 1]


def mirror_of_lines(folder: Path, color: str, month: str, lines: list[str], encoding: str = "utf-8") -> str:
    """A release mirror in `folder` holding one (color, month) file made of `lines` (a real
    file changed as a test needs); returns its file:// URL."""
    path = release_file(color, month, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding=encoding, newline="") as f:
        f.write("\n".join(lines) + "\n")
    return folder.as_uri()


def copy_release(folder: Path) -> Path:
    """A copy of the bundled release mirror in `folder`, for a test to change; returns `folder`."""
    shutil.copytree(RELEASE_DIR, folder)
    return folder


# Rows of the TLC's own sample of yellow 2020-04 (data/tlc/samples-2020-04), which the course's
# mirror lacks: written in the course's layout, it makes yellow 2020-04 beside green 2020-04.
YELLOW_APRIL_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "tlc" / "samples-2020-04" / "yellow_tripdatasample_2020-04.csv"
)
YELLOW_APRIL_ROWS = 1_000


def mirror_with_two_colors_in_april(folder: Path) -> Path:
    """A copy of the bundled mirror with a yellow 2020-04 beside green 2020-04: the TLC's real
    sample of that month in the course's 2020 layout (its 18 columns, whole seconds)."""
    copy_release(folder)
    with open(YELLOW_APRIL_SAMPLE, newline="") as f:
        rows = list(csv.reader(f))
    keep = rows[0].index("airport_fee")  # the course's 2020 files end at congestion_surcharge
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        writer.writerow([value.removesuffix(".000000") for value in row[:keep]])
    release_file("yellow", "2020-04", folder).write_bytes(gzip.compress(text.getvalue().encode()))
    return folder


def lake_file(lake_dir: Path, color: str, month: str) -> Path:
    """Where the published parquet of a (color, YYYY-MM) lies in a local lake."""
    return lake_dir / LAKE_FILE_TEMPLATE.format(color=color, month=month)


def raw_file(lake_dir: Path, color: str, month: str) -> Path:
    """Where the raw CSV.gz of a (color, YYYY-MM) lies in a local lake."""
    return lake_dir / raw_file_template("csv.gz").format(color=color, month=month)


def lake_zones(lake_dir: Path) -> Path:
    """Where the raw zone lookup table lies in a local lake."""
    return lake_dir / ZONES_FILE
