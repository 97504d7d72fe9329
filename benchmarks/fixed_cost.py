"""The fixed cost of a one-partition run (`c_run`): twenty tiny green months (200 generated rows
each, 2019-01 to 2020-08) as one backfill of `trips_job` through a real `dagster dev` with
`deploy/dagster.yaml` (two runs at once), so almost all of each run is what it costs whatever
its rows. `c_run = (wall - daemon pick-up) x 2 / runs`, with each run's start-up (launch to
RUN_START: a new process, imports, the definitions) and its steps (RUN_START to the end).

    python -m benchmarks.fixed_cost [--repeats 2]
"""

import argparse
import os
import statistics
import sys
import tempfile
from datetime import date
from functools import partial
from pathlib import Path

from benchmarks.backfill import BackfillTiming, run_backfill
from benchmarks.generate_trips import generated_mirror
from benchmarks.measure import machine_line, markdown_table
from taxi_pipeline.partitions import trip_partition_key
from taxi_pipeline_tests.support.http_server import QuietHandler, serving

OUT = Path(__file__).resolve().parent / "out"
ROWS = 200
MONTHS = [date(2019 + (m // 12), m % 12 + 1, 1) for m in range(20)]
RUNS_AT_ONCE = 2  # deploy/dagster.yaml's max_concurrent_runs


def tiny_months() -> Path:
    """A mirror folder of the twenty green months at ROWS rows each, cached in benchmarks/out/."""
    return generated_mirror(OUT / f"mirror_green_tiny_{ROWS}", "green", dict.fromkeys(MONTHS, ROWS))


def c_run(wall_seconds: float, pick_up_seconds: float, runs: int) -> float:
    """Seconds of wall per run, with RUNS_AT_ONCE runs at a time, the daemon's pick-up left out."""
    return (wall_seconds - pick_up_seconds) * RUNS_AT_ONCE / runs


def tiny_backfill(work: Path) -> BackfillTiming:
    """The twenty tiny months as one backfill in a fresh `work` folder, its row count checked."""
    partitions = [trip_partition_key("green", month) for month in MONTHS]
    with serving(partial(QuietHandler, directory=str(tiny_months()))) as url:
        timing = run_backfill(url, partitions, work)
    if sum(timing.rows.values()) != ROWS * len(MONTHS):
        raise RuntimeError(f"the warehouse holds {timing.rows}, not {ROWS * len(MONTHS):,} rows")
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        for repeat in range(1, args.repeats + 1):
            work = Path(temp) / f"round_{repeat}"
            work.mkdir()
            timing = tiny_backfill(work)
            per_run = c_run(timing.wall_seconds, timing.first_run_created, len(MONTHS))
            rows.append(
                [
                    str(repeat),
                    f"{timing.wall_seconds:.1f}",
                    f"{timing.first_run_created:.1f}",
                    f"{per_run:.2f}",
                    *(
                        f"{statistics.median(times):.2f}"
                        for times in (timing.queue_waits, timing.start_ups, timing.runs)
                    ),
                    " ".join(f"{x:.2f}" for x in os.getloadavg()),
                ]
            )
            print(f"round {repeat}: c_run {per_run:.2f} s", file=sys.stderr)
    print(f"{len(MONTHS)} green months of {ROWS} rows as one backfill; {machine_line(args.repeats)}")
    header = ["round", "wall s", "daemon pick-up s", "c_run s", "median queue wait s", "median start-up s"]
    print(markdown_table([*header, "median run s", "load"], rows))


if __name__ == "__main__":
    main()
