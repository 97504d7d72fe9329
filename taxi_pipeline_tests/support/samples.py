"""The bundled release mirror (`taxi_pipeline_tests/data/release`) and where its files land.

The rows of each bundled real file are the facts the tests hold the pipeline to (see
`data/README.md`); `release_file`, `raw_file` and `lake_file` name a month's file in a release
mirror and in a local lake.
"""

import shutil
from pathlib import Path

from taxi_pipeline.lake import LAKE_FILE_TEMPLATE, ZONES_FILE, raw_file_template

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


def copy_release(folder: Path) -> Path:
    """A copy of the bundled release mirror in `folder`, for a test to change; returns `folder`."""
    shutil.copytree(RELEASE_DIR, folder)
    return folder


def mirror_with_two_colors_in_april(folder: Path) -> Path:
    """A copy of the bundled mirror in which the yellow sample also stands in for yellow 2020-04,
    so that two colors share one month (its rows are kept whole, counted as outside the month)."""
    copy_release(folder)
    shutil.copy(release_file("yellow", "2021-01"), release_file("yellow", "2020-04", folder))
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
