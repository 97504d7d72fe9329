"""Measures a generated fhvhv month (tens of millions of rows) through the four trip assets into
DuckDB, against a plain `pyarrow.parquet.read_table` of the same file, and the conversion step
alone on the same rows in ~1 M-row row groups and in ONE row group.

  read_table          `pq.read_table` of the month's file (the reference: the whole month in memory)
  dagster             `dagster asset materialize` of raw_trips, cleaned_trips, lake_trips_parquet and
                      warehouse_trips (and their checks) for `fhvhv|2025-01-01` with TAXI_SOURCE=tlc,
                      from a `file://` mirror into a fresh lake, DuckDB file and DAGSTER_HOME
  convert             `convert_parquet_to_lake` of the month's file (~1 M-row row groups)
  convert, one group  `convert_parquet_to_lake` of the same rows rewritten as a single row group

Each command runs in a fresh process under `benchmarks.measure` (wall, CPU, peak RSS of the
process tree from the OS), interleaved round by round. After each pipeline run the run must have
succeeded and DuckDB's fhvhv 2025-01 slice must hold exactly `--rows` rows. Months are cached in
`data/bench/` (gitignored); the table goes to stdout and `data/bench/fhvhv_results.md`.

    python -m benchmarks.fhvhv --rows 20000000 --repeats 1
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from benchmarks.generate_fhvhv import ROW_GROUP_ROWS
from benchmarks.measure import PROJECT, machine_line, measured, medians
from taxi_pipeline_tests.support.runs import MONTHLY_CHAIN, cli_env, materialize_command, run_records

OUT = PROJECT / "data" / "bench"
MONTH = "2025-01"
PARTITION = f"fhvhv|{MONTH}-01"
VARIANTS = ("read_table", "dagster", "convert", "convert, one group")


def step_command(*args) -> list[str]:
    return [sys.executable, "-m", "benchmarks.fhvhv_steps", *map(str, args)]


def _cached(path: Path, rows: int, make) -> Path:
    """`path` when it holds `rows` rows, else made by `make(part_path)` and renamed into place, so
    an interrupted run never leaves a partial file under the cached name."""
    if path.exists() and pq.read_metadata(path).num_rows == rows:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    print(f"making {path} ({rows:,} rows)", file=sys.stderr)
    make(part)
    part.replace(path)
    return path


def month_files(out: Path, rows: int, group_rows: int) -> tuple[Path, Path]:
    """The generated month in a TLC mirror folder (`.../trip-data/fhvhv_tripdata_2025-01.parquet`,
    row groups of `group_rows`) and the same rows as one row group beside the mirror."""
    folder = out / f"fhvhv_{rows}_g{group_rows}"
    month = folder / "trip-data" / f"fhvhv_tripdata_{MONTH}.parquet"
    generate = [sys.executable, "-m", "benchmarks.generate_fhvhv", str(rows), MONTH]
    _cached(month, rows, lambda part: subprocess.run([*generate, str(part), f"--group-rows={group_rows}"], check=True))
    one_group = _cached(
        folder / "one_row_group.parquet", rows, lambda part: measured(step_command("one-group", month, part))
    )
    return month, one_group


def row_groups(path: Path) -> str:
    """'N x rows' of a parquet file's row groups (the largest group's rows)."""
    metadata = pq.read_metadata(path)
    largest = max(metadata.row_group(i).num_rows for i in range(metadata.num_row_groups))
    return f"{metadata.num_row_groups} x ≤{largest:,}"


def slice_rows(duckdb_path: Path) -> int:
    """Rows of the fhvhv 2025-01 slice of `trips` in a DuckDB file."""
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        query = "SELECT count(*) FROM trips WHERE color = 'fhvhv' AND source_month = DATE '2025-01-01'"
        return conn.execute(query).fetchone()[0]


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """Seconds of each successful step of the one run in `dagster_home`, after checking it succeeded."""
    [(run, events)] = run_records(dagster_home)
    if run.status != dg.DagsterRunStatus.SUCCESS:
        raise RuntimeError(f"run {run.run_id} ended {run.status}")
    return {
        e.dagster_event.step_key: e.dagster_event.event_specific_data.duration_ms / 1000
        for e in events
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS
    }


def pipeline_run(month: Path, rows: int, work: Path) -> tuple[dict, dict[str, float]]:
    """One measured `dagster asset materialize` of the trip assets into fresh folders under `work`,
    verified: the run succeeded and the slice holds `rows` rows; (measures, step seconds)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = cli_env(
        work,
        month.parent.as_uri(),
        TAXI_SOURCE="tlc",
        TAXI_FIRST_MONTH=MONTH,
        # This checkout's package, whichever checkout the virtual environment was installed from.
        PYTHONPATH=str(PROJECT),
    )
    result = measured(materialize_command(PARTITION, select=MONTHLY_CHAIN), env)
    steps = step_seconds(work / "dagster_home")
    loaded = slice_rows(work / "warehouse.duckdb")
    if loaded != rows:
        raise RuntimeError(f"the warehouse's fhvhv {MONTH} slice holds {loaded:,} rows, not {rows:,}")
    shutil.rmtree(work)
    return result, steps


def bench(out: Path, rows: int, group_rows: int, repeats: int) -> tuple[dict[str, list[dict]], list[dict]]:
    """Every variant `repeats` times, interleaved; (measures per variant, step seconds per run)."""
    month, one_group = month_files(out, rows, group_rows)
    work = out / f"work_fhvhv_{rows}"
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    steps: list[dict] = []
    for round_number in range(repeats):
        for variant in VARIANTS:
            if variant == "dagster":
                result, run_steps = pipeline_run(month, rows, work)
                steps.append(run_steps)
            else:
                work.mkdir(parents=True, exist_ok=True)
                lake = work / "lake.parquet"
                source = one_group if variant == "convert, one group" else month
                result = measured(
                    step_command("read", month) if variant == "read_table" else step_command("convert", source, lake)
                )
                lake.unlink(missing_ok=True)
            result["row_groups"] = row_groups(one_group if variant == "convert, one group" else month)
            results[variant].append(result)
            print(f"{rows:,} round {round_number + 1} {variant}: {result['wall_seconds']:.1f} s", file=sys.stderr)
    return results, steps


def load_line() -> str:
    """The 1, 5 and 15-minute load averages, as `uptime` shows them."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def table(rows: int, results: dict[str, list[dict]], steps: list[dict], repeats: int, loads: tuple[str, str]) -> str:
    """The markdown report: machine and load, then a row per variant with its ratios to read_table."""
    med = medians({v: [{k: r[k] for k in r if k != "row_groups"} for r in runs] for v, runs in results.items()})
    ref = med["read_table"]
    lines = [
        machine_line(repeats),
        f"Load average before: {loads[0]}; after: {loads[1]}.",
        "",
        "| rows | path | row groups | wall s | CPU s | peak RSS MiB | wall / read_table | RSS / read_table |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        m = med[v]
        lines.append(
            f"| {rows:,} | {v} | {results[v][0]['row_groups']} | {m['wall_seconds']:.1f} | {m['cpu_seconds']:.1f} | "
            f"{m['peak_rss_mib']:.0f} | {m['wall_seconds'] / ref['wall_seconds']:.2f} | "
            f"{m['peak_rss_mib'] / ref['peak_rss_mib']:.2f} |"
        )
    for number, run_steps in enumerate(steps, 1):
        described = ", ".join(f"{step} {seconds:.1f}" for step, seconds in run_steps.items())
        lines += ["", f"Dagster steps of run {number}, s: {described}."]
    return "\n".join(lines)


def main() -> None:
    """Generate or reuse the month, run every variant, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--group-rows", type=int, default=ROW_GROUP_ROWS, help="row group rows of the month's file")
    parser.add_argument("--out", type=Path, default=OUT, help="cache and results folder")
    args = parser.parse_args()
    before = load_line()
    results, steps = bench(args.out, args.rows, args.group_rows, args.repeats)
    markdown = table(args.rows, results, steps, args.repeats, (before, load_line()))
    (args.out / "fhvhv_results.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
