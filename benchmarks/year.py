"""A year of data as users run it: the twelve months of yellow 2020, generated in the course's 2020
layout at their published row counts, as one backfill of `trips_job` through a real `dagster dev`
(deploy/dagster.yaml: two runs at once), beside the course's Prefect parent flow (Prefect 2.7.7,
`make prefect-venv`) on the same files; exact counts on both sides. With the twenty tiny months of
`benchmarks.fixed_cost` first, it splits the backfill's time as

    T = pick-up + runs x c_run / k + rows x c_row / k        (k = 2 runs at once)

and prints the pick-up, `c_run` (wall per tiny run, k at once) and `c_row` (CPU-µs per row: the
machine's busy CPU during the year's backfill, less the tiny runs' CPU per run, over the rows)
separately.

    python -m benchmarks.year [--no-prefect]          (make bench-year)
"""

import argparse
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

from benchmarks import fixed_cost
from benchmarks.backfill import run_backfill
from benchmarks.generate_trips import generated_mirror
from benchmarks.measure import machine_line, markdown_table
from benchmarks.prefect_reference import run_prefect_reference
from taxi_pipeline.partitions import trip_partition_key
from taxi_pipeline_tests.support.http_server import QuietHandler, serving

OUT = Path(__file__).resolve().parent / "out"
# file_num_rows of the TLC's yellow_tripmetadata_2020.csv (24,649,092 rows; the course's CSV copy of
# the same months holds 24,648,499).
YELLOW_2020_ROWS = {
    1: 6_405_008,
    2: 6_299_367,
    3: 3_007_687,
    4: 238_073,
    5: 348_415,
    6: 549_797,
    7: 800_412,
    8: 1_007_286,
    9: 1_341_017,
    10: 1_681_132,
    11: 1_509_000,
    12: 1_461_898,
}
TARGET_RATIO = 0.15


def yellow_2020_months() -> Path:
    """The mirror folder of yellow/yellow_tripdata_2020-MM.csv.gz, generated once into benchmarks/out/."""
    months = {date(2020, month, 1): rows for month, rows in YELLOW_2020_ROWS.items()}
    return generated_mirror(OUT / "mirror_yellow_2020", "yellow", months)


@dataclass(frozen=True)
class Year:
    """The year's backfill and its terms: seconds of wall, CPU-µs per row, and the Prefect flow's
    seconds on the same files (None when not run)."""

    rows: int
    wall_seconds: float
    pick_up_seconds: float
    c_run: float
    cpu_per_tiny_run: float
    cpu_seconds: float
    c_row: float
    prefect_seconds: float | None

    @property
    def ratio(self) -> float | None:
        return self.wall_seconds / self.prefect_seconds if self.prefect_seconds else None


def measure_year(work: Path, prefect: bool = True) -> Year:
    """The twenty tiny months, then the year as one backfill (and the Prefect flow), in `work`;
    the rows checked on both sides."""
    rows = sum(YELLOW_2020_ROWS.values())
    mirror = yellow_2020_months()
    (work / "tiny").mkdir()
    tiny = fixed_cost.tiny_backfill(work / "tiny")
    cpu_per_run = tiny.cpu_seconds / len(tiny.runs)
    partitions = [trip_partition_key("yellow", date(2020, month, 1)) for month in YELLOW_2020_ROWS]
    with serving(partial(QuietHandler, directory=str(mirror))) as url:
        (work / "dagster").mkdir()
        year = run_backfill(url, partitions, work / "dagster")
        reference = run_prefect_reference(url, work / "prefect", YELLOW_2020_ROWS, "yellow") if prefect else None
    loaded = sum(year.rows.values())
    if loaded != rows or (reference and reference["rows"] != rows):
        raise RuntimeError(f"rows: generated {rows:,}, backfill {loaded:,}, Prefect {reference and reference['rows']}")
    return Year(
        rows=rows,
        wall_seconds=year.wall_seconds,
        pick_up_seconds=year.first_run_created,
        c_run=fixed_cost.c_run(tiny.wall_seconds, tiny.first_run_created, len(tiny.runs)),
        cpu_per_tiny_run=cpu_per_run,
        cpu_seconds=year.cpu_seconds,
        c_row=(year.cpu_seconds - cpu_per_run * len(partitions)) / rows * 1e6,
        prefect_seconds=reference["wall_seconds"] if reference else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-prefect", action="store_true", help="time the Dagster side alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-year-") as temp:
        year = measure_year(Path(temp), prefect=not args.no_prefect)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"yellow 2020, 12 months, {year.rows:,} rows; {machine_line(1)} Load average after: {load}")
    table = [
        ["backfill wall, submission to the last run's end", f"{year.wall_seconds:.1f} s"],
        ["daemon pick-up (submission to the first run)", f"{year.pick_up_seconds:.1f} s"],
        ["c_run: 20 tiny runs, (wall - pick-up) x 2 / 20", f"{year.c_run:.2f} s"],
        ["CPU per tiny run (the machine's, pick-up included)", f"{year.cpu_per_tiny_run:.2f} s"],
        ["c_row: (the year's CPU - 12 x CPU per tiny run) / rows", f"{year.c_row:.2f} CPU-µs"],
        ["the machine's CPU during the year's backfill", f"{year.cpu_seconds:.1f} s"],
    ]
    if year.ratio is not None:
        met = "met" if year.ratio <= TARGET_RATIO else "not met"
        table += [
            ["Prefect 2.7.7 parent flow, same files", f"{year.prefect_seconds:.1f} s"],
            [f"backfill / Prefect (target ≤ {TARGET_RATIO})", f"{year.ratio:.2f} ({met})"],
        ]
    print(markdown_table(["measure", "value"], table))


if __name__ == "__main__":
    main()
