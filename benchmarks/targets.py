"""Every performance target in one run, side by side with its reference, as one table:

  backfill   nine green 2020 months as one backfill through `dagster dev`'s daemon, against the
             course's Prefect 2.7.7 flow on the same files (target: at most 0.5 x)
  year       yellow 2020 at its published sizes as one backfill against the Prefect parent flow
             (at most 0.15 x), with `c_run` (at most 2 s) and the year's `c_row` (benchmarks.year)
  7 M month  `dagster asset materialize` of a 7 M-row yellow month against the course's pandas
             flow (target: at most 0.20 x, peak RSS at most 700 MiB; its CPU per row, at most
             2.0 µs for a course CSV month)
  fhvhv      a 20 M-row fhvhv month (TLC source) through the trip assets into DuckDB, against
             `pyarrow.parquet.read_table` of it (target: peak RSS at most 1 GiB; its CPU per row, at
             most 1.5 µs for a TLC parquet month)
  Postgres   the same month's lake file loaded by `PostgresWarehouse.load_slice` (target: client
             peak RSS at most 1 GiB)

Needs `make prefect-venv` and PostgreSQL's server binaries (`make bench-targets` sees to both).

    python -m benchmarks.targets [--fhvhv-rows 20000000]
"""

import argparse
import tempfile
from datetime import date
from functools import partial
from pathlib import Path

from benchmarks import fhvhv, postgres_load, run, year
from benchmarks.backfill import run_backfill
from benchmarks.generate_fhvhv import ROW_GROUP_ROWS
from benchmarks.measure import machine_line, markdown_table, measured
from benchmarks.prefect_reference import GREEN_2020_ROWS, green_2020_months, run_prefect_reference
from taxi_pipeline.partitions import trip_partition_key
from taxi_pipeline_tests.support.http_server import QuietHandler, serving

MIB_PER_GIB = 1024
C_RUN_SECONDS = 2.0
C_ROW_CSV_US = 2.0  # CPU-µs per row, a course CSV.gz month end to end into DuckDB
C_ROW_PARQUET_US = 1.5  # the same for a TLC parquet month


def met(value: float, limit: float) -> str:
    """Whether a measure is within its limit, as the table says it."""
    return "yes" if value <= limit else "no"


def cpu_per_row(result: dict, rows: int) -> float:
    """CPU-µs per row of a measured process."""
    return result["cpu_seconds"] / rows * 1e6


def backfill_row(work: Path) -> list[str]:
    """The backfill against the Prefect flow, one round each on the same served files."""
    partitions = [trip_partition_key("green", date(2020, month, 1)) for month in GREEN_2020_ROWS]
    with serving(partial(QuietHandler, directory=str(green_2020_months()))) as url:
        (work / "dagster").mkdir()
        dagster = run_backfill(url, partitions, work / "dagster")
        prefect = run_prefect_reference(url, work / "prefect")
    if sum(dagster.rows.values()) != prefect["rows"]:
        raise RuntimeError(f"the backfill loaded {dagster.rows}, the Prefect flow {prefect['rows']:,} rows")
    ratio = dagster.wall_seconds / prefect["wall_seconds"]
    return [
        f"nine green 2020 months as one backfill ({prefect['rows']:,} rows)",
        f"{dagster.wall_seconds:.1f} s (daemon pick-up {dagster.first_run_created:.1f} s)",
        f"Prefect 2.7.7 flow {prefect['wall_seconds']:.1f} s",
        f"{ratio:.2f}",
        "-",
        "≤ 0.50 ×",
        met(ratio, 0.5),
    ]


def year_rows(work: Path) -> list[list[str]]:
    """The year against the Prefect flow, and the fixed cost per run and CPU per row it splits out."""
    measured_year = year.measure_year(work)
    return [
        [
            f"yellow 2020 as one backfill ({measured_year.rows:,} rows)",
            f"{measured_year.wall_seconds:.1f} s (daemon pick-up {measured_year.pick_up_seconds:.1f} s)",
            f"Prefect 2.7.7 parent flow {measured_year.prefect_seconds:.1f} s",
            f"{measured_year.ratio:.2f}",
            "-",
            f"≤ {year.TARGET_RATIO} ×",
            met(measured_year.ratio, year.TARGET_RATIO),
        ],
        [
            "c_run: wall per one-partition run, 20 tiny months, 2 at once",
            f"{measured_year.c_run:.2f} s",
            "-",
            "-",
            "-",
            f"≤ {C_RUN_SECONDS:g} s",
            met(measured_year.c_run, C_RUN_SECONDS),
        ],
        [
            "c_row: the year's machine CPU per row, less the runs' fixed CPU (CPU-µs)",
            f"{measured_year.c_row:.2f}",
            "-",
            "-",
            "-",
            f"≤ {C_ROW_CSV_US} µs",
            met(measured_year.c_row, C_ROW_CSV_US),
        ],
    ]


def big_month_rows() -> list[list[str]]:
    """The 7 M-row yellow month: wall ratio and peak RSS against the course's pandas flow."""
    results = run.bench_size(7_000_000, 1)
    dagster, reference = results["dagster"][0], results["reference"][0]
    ratio = dagster["wall_seconds"] / reference["wall_seconds"]
    what = "7 M-row yellow month, whole `dagster asset materialize`"
    wall = f"{dagster['wall_seconds']:.1f} s"
    versus = f"course flow {reference['wall_seconds']:.1f} s"
    rss = f"{dagster['peak_rss_mib']:.0f}"
    per_row = cpu_per_row(dagster, 7_000_000)
    return [
        [what, wall, versus, f"{ratio:.2f}", rss, "≤ 0.20 ×", met(ratio, 0.2)],
        [what, wall, versus, f"{ratio:.2f}", rss, "≤ 700 MiB", met(dagster["peak_rss_mib"], 700)],
        [
            "its CPU per row, the whole process (CPU-µs)",
            f"{per_row:.2f}",
            "-",
            "-",
            "-",
            f"≤ {C_ROW_CSV_US} µs",
            met(per_row, C_ROW_CSV_US),
        ],
    ]


def fhvhv_rows(rows: int, work: Path) -> list[list[str]]:
    """The generated fhvhv month into DuckDB against read_table, and its lake file into Postgres."""
    month, _ = fhvhv.month_files(fhvhv.OUT, rows, ROW_GROUP_ROWS)
    dagster, _ = fhvhv.pipeline_run(month, rows, work / "fhvhv")
    read = measured(fhvhv.step_command("read", month))
    lake = work / "lake_fhvhv.parquet"
    measured(fhvhv.step_command("convert", month, lake))
    postgres = postgres_load.bench(lake, rows, 1, ["load_slice"], "fhvhv", fhvhv.MONTH)["load_slice"][0]
    duckdb_rss, client_rss = dagster["peak_rss_mib"], postgres["peak_rss_mib"]
    return [
        [
            f"{rows:,}-row fhvhv month into DuckDB",
            f"{dagster['wall_seconds']:.1f} s",
            f"read_table {read['wall_seconds']:.1f} s, {read['peak_rss_mib']:.0f} MiB",
            f"{dagster['wall_seconds'] / read['wall_seconds']:.2f}",
            f"{duckdb_rss:.0f}",
            "≤ 1 GiB",
            met(duckdb_rss, MIB_PER_GIB),
        ],
        [
            "its CPU per row, the whole process (CPU-µs)",
            f"{cpu_per_row(dagster, rows):.2f}",
            "-",
            "-",
            "-",
            f"≤ {C_ROW_PARQUET_US} µs",
            met(cpu_per_row(dagster, rows), C_ROW_PARQUET_US),
        ],
        [
            "the same month into Postgres (client)",
            f"{postgres['wall_seconds']:.1f} s",
            "-",
            "-",
            f"{client_rss:.0f}",
            "≤ 1 GiB",
            met(client_rss, MIB_PER_GIB),
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fhvhv-rows", type=int, default=20_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as temp:
        work = Path(temp)
        (work / "year").mkdir()
        lines = [backfill_row(work), *year_rows(work / "year"), *big_month_rows(), *fhvhv_rows(args.fhvhv_rows, work)]
    print(machine_line(1))
    print()
    print(markdown_table(["target", "measured", "reference", "ratio", "peak RSS MiB", "limit", "met"], lines))


if __name__ == "__main__":
    main()
