"""The course's Prefect flow over the nine green 2020 months, timed as a reference.

Runs benchmarks/prefect_flow.py in .venv-prefect (`make prefect-venv`) under measure.py, against
generated months at the real sizes served from 127.0.0.1, then checks the DuckDB table holds every
row. From the project's venv:

    .venv/bin/python -m benchmarks.prefect_reference --repeats 2

`green_2020_months()` and `run_prefect_reference(url, work)` let another benchmark run the same
months side by side.
"""

import argparse
import os
import shutil
import tempfile
from datetime import date
from functools import partial
from pathlib import Path

import duckdb

from benchmarks.generate_trips import generated_mirror
from benchmarks.measure import PROJECT, measured
from taxi_pipeline_tests.support.http_server import QuietHandler, serving

OUT = Path(__file__).resolve().parent / "out"
PREFECT_PYTHON = PROJECT / ".venv-prefect" / "bin" / "python"
# The published row counts of green 2020's months 03 and 05-12, which the benchmark generates.
GREEN_2020_ROWS = {
    3: 223_406,
    5: 57_360,
    6: 63_109,
    7: 72_257,
    8: 81_063,
    9: 87_987,
    10: 95_120,
    11: 88_605,
    12: 83_130,
}


def green_2020_months() -> Path:
    """The mirror folder holding green/green_tripdata_2020-MM.csv.gz for the nine months, generated
    at the real sizes once and cached in benchmarks/out/."""
    months = {date(2020, month, 1): rows for month, rows in GREEN_2020_ROWS.items()}
    return generated_mirror(OUT / "mirror_green_2020", "green", months)


def run_prefect_reference(
    months_dir_url: str,
    work_dir: Path,
    months: dict[int, int] = GREEN_2020_ROWS,
    color: str = "green",
    year: int = 2020,
) -> dict:
    """Run the Prefect flow over `months` (month -> rows) of `color` `year` read from `months_dir_url`
    (a base URL serving e.g. green/green_tripdata_2020-MM.csv.gz) into a fresh `work_dir`;
    measure.py's wall, CPU and peak RSS plus the rows, checked against the DuckDB table."""
    if not PREFECT_PYTHON.exists():
        raise RuntimeError(f"{PREFECT_PYTHON} is missing: run `make prefect-venv` first")
    work_dir = Path(work_dir)
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    warehouse = work_dir / "rides.duckdb"
    # A fresh PREFECT_HOME (no cached fetch from an earlier run) and no API URL: the ephemeral API.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(work_dir / "prefect-home")
    command = [str(PREFECT_PYTHON), "-m", "benchmarks.prefect_flow", "--base-url", months_dir_url]
    command += ["--color", color, "--year", str(year), "--months", *map(str, months)]
    command += ["--work", str(work_dir / "flow"), "--duckdb", str(warehouse)]
    result = measured(command, env)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute("SELECT count(*) FROM dezoomcamp.rides").fetchone()[0]
    if loaded != sum(months.values()):
        raise RuntimeError(f"the DuckDB table holds {loaded:,} rows, not {sum(months.values()):,}")
    return {**result, "rows": loaded, "months": len(months)}


def main() -> None:
    """Time the flow over the nine months `--repeats` times and print each run's measures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    mirror = green_2020_months()
    with serving(partial(QuietHandler, directory=str(mirror))) as url, tempfile.TemporaryDirectory() as temp:
        for run in range(1, args.repeats + 1):
            result = run_prefect_reference(url, Path(temp) / f"run_{run}")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"prefect run {run}: {result['months']} months, {result['rows']:,} rows: "
                f"wall {result['wall_seconds']:.1f} s, CPU {result['cpu_seconds']:.1f} s, "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB (load average {load})"
            )


if __name__ == "__main__":
    main()
