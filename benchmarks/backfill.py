"""A backfill of small months as users run one, against the course's Prefect flow on the same
files: the nine green 2020 months (03, 05-12, generated at their published sizes) submitted as one
backfill to a real `dagster dev` (webserver and daemon) with `deploy/dagster.yaml`, timed from
submission to the last run's end, with where the time goes (the backfill daemon, the run queue,
each run's start-up and steps); then `etl_parent_flow` under Prefect 2.7.7 (`make prefect-venv`).

    python -m benchmarks.backfill [--repeats 2] [--dagster-yaml FILE]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef  # opens the deployment's DAGSTER_HOME

from benchmarks.measure import machine_cpu_seconds, machine_line, markdown_table
from benchmarks.prefect_reference import GREEN_2020_ROWS, green_2020_months, run_prefect_reference
from taxi_pipeline.partitions import trip_partition_key
from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.http_server import QuietHandler, serving
from taxi_pipeline_tests.support.runs import deployed_env
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows


@dataclass
class BackfillTiming:
    """Seconds from submitting a backfill to its last run's end, and where they went."""

    wall_seconds: float  # submission to the last run's end
    first_run_created: float  # submission to the backfill daemon creating the first run
    queue_waits: list[float]  # per run: created to launched by the run queue
    start_ups: list[float]  # per run: launched to RUN_START (a new process, imports, the definitions)
    runs: list[float]  # per run: RUN_START to its end (resources, steps, event writes)
    rows: dict[tuple[str, str], int]
    cpu_seconds: float  # of the whole machine from submission to the last run's end

    def summary(self) -> dict[str, float]:
        """The medians and totals of the timing, for a table."""
        return {
            "wall_seconds": round(self.wall_seconds, 1),
            "first_run_created_seconds": round(self.first_run_created, 1),
            "median_queue_wait_seconds": round(statistics.median(self.queue_waits), 1),
            "median_run_start_up_seconds": round(statistics.median(self.start_ups), 1),
            "median_run_seconds": round(statistics.median(self.runs), 1),
            "runs": len(self.runs),
            "rows": sum(self.rows.values()),
        }


def _event_time(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> float:
    [first, *_] = instance.all_logs(run_id, of_type=event_type)
    return first.timestamp


def run_backfill(
    mirror_url: str, partitions: list[str], work: Path, dagster_yaml: Path | None = None
) -> BackfillTiming:
    """Start `dagster dev` on a fresh instance (`dagster_yaml`, default deploy/dagster.yaml) whose
    source is `mirror_url`, submit one backfill of `partitions` of `trips_job`, wait for every
    run to end, and time it."""
    env = deployed_env(work, mirror_url, dagster_yaml)
    server = start_dagster_dev(env, work / "dagster-dev.log")
    try:
        submitted, cpu_before = time.time(), machine_cpu_seconds()
        launched = server.launch_backfill(partitions, "benchmark backfill")
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"the backfill was not launched: {launched}")
        tag = ("dagster/backfill", launched["backfillId"])
        finished = server.wait_for_runs(tag, count=len(partitions), timeout=1800)
        cpu_seconds = machine_cpu_seconds() - cpu_before
    finally:
        stop_dagster_dev(server)
    failed = [r for r in finished if r["status"] != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} runs did not succeed; see {work / 'dagster-dev.log'}")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(tags={tag[0]: tag[1]}))
        created = [r.create_timestamp.timestamp() for r in records]
        ids = [r.dagster_run.run_id for r in records]
        launched = [_event_time(instance, run_id, dg.DagsterEventType.RUN_STARTING) for run_id in ids]
        starts = [_event_time(instance, run_id, dg.DagsterEventType.RUN_START) for run_id in ids]
        ends = [r.end_time for r in records]
    return BackfillTiming(
        wall_seconds=max(ends) - submitted,
        first_run_created=min(created) - submitted,
        queue_waits=[s - c for s, c in zip(launched, created, strict=True)],
        start_ups=[s - la for s, la in zip(starts, launched, strict=True)],
        runs=[e - s for e, s in zip(ends, starts, strict=True)],
        rows=warehouse_rows(env["TAXI_DUCKDB_PATH"]),
        cpu_seconds=cpu_seconds,
    )


def ratio(dagster: dict, prefect: dict) -> float:
    """The Dagster backfill's wall time over the Prefect flow's."""
    return dagster["wall_seconds"] / prefect["wall_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dagster-yaml", type=Path, default=None, help="instead of deploy/dagster.yaml")
    parser.add_argument("--no-prefect", action="store_true", help="time the Dagster backfill alone")
    args = parser.parse_args()
    mirror = green_2020_months()
    partitions = [trip_partition_key("green", date(2020, month, 1)) for month in GREEN_2020_ROWS]
    rows: list[list[str]] = []
    with serving(partial(QuietHandler, directory=str(mirror))) as url, tempfile.TemporaryDirectory() as temp:
        for repeat in range(1, args.repeats + 1):
            work = Path(temp) / f"dagster_{repeat}"
            work.mkdir()
            timing = run_backfill(url, partitions, work, args.dagster_yaml)
            if sum(timing.rows.values()) != sum(GREEN_2020_ROWS.values()):
                raise RuntimeError(f"the warehouse holds {timing.rows}, not {sum(GREEN_2020_ROWS.values()):,} rows")
            summary = timing.summary()
            print(f"dagster round {repeat}: {summary}", file=sys.stderr)
            prefect = None if args.no_prefect else run_prefect_reference(url, Path(temp) / f"prefect_{repeat}")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            versus = (
                ["-", "-"] if prefect is None else [f"{prefect['wall_seconds']:.1f}", f"{ratio(summary, prefect):.2f}"]
            )
            rows.append(
                [
                    str(repeat),
                    f"{summary['wall_seconds']:.1f}",
                    f"{summary['first_run_created_seconds']:.1f}",
                    f"{summary['median_queue_wait_seconds']:.1f}",
                    f"{summary['median_run_start_up_seconds']:.1f}",
                    f"{summary['median_run_seconds']:.1f}",
                    *versus,
                    load,
                ]
            )
    print(f"Nine green 2020 months, {sum(GREEN_2020_ROWS.values()):,} rows; {machine_line(args.repeats)}")
    header = ["round", "dagster backfill wall s", "to first run s", "median queue wait s", "median run start-up s"]
    header += ["median run s", "prefect wall s", "dagster / prefect", "load average"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
