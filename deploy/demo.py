"""`make demo`: the bundled months run on one machine as `make dev` runs them: a daemon of its own
takes runs of `zones_job` and `trips_job` from the instance's queue (deploy/dagster.yaml), and the
report `trips_per_month` follows from its automation sensor. Runs made this way carry their code
location, so the UI's timeline, job and partition views show them; `dg launch` runs in process
and records runs the timeline cannot place.

    python deploy/demo.py --log data/demo.log 'green|2020-04-01' 'fhv|2019-01-01' ...
"""

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg

BIN = Path(sys.executable).parent
PROJECT_DIR = Path(__file__).resolve().parents[1]
REPORT = dg.AssetKey("trips_per_month")


def launch(job: str, log, tags: dict[str, str] | None = None) -> str:
    """Queue a run of `job` in the instance (as the UI's Launch button does); its run id."""
    run_id = str(uuid.uuid4())
    command = [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", job, "--run-id", run_id]
    if tags:
        command += ["--tags", json.dumps(tags)]
    subprocess.run(command, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, check=True)
    return run_id


def wait_for_runs(instance: dg.DagsterInstance, run_ids: list[str], timeout: float) -> None:
    """Wait until every run ended, printing each as it ends; exit naming a run that did not succeed."""
    pending, deadline = list(run_ids), time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            sys.exit(f"demo: runs still not done after {timeout:.0f} s: {', '.join(pending)}")
        for run_id in list(pending):
            run = instance.get_run_by_id(run_id)
            if run is None or not run.is_finished:
                continue
            pending.remove(run_id)
            what = f"{run.job_name} {run.tags.get('dagster/partition', '')}".strip()
            print(f"  {what}: {run.status.value}")
            if run.status != dg.DagsterRunStatus.SUCCESS:
                sys.exit(f"demo: run {run_id} ({what}) ended {run.status.value}; its log is in the UI (make dev)")
        time.sleep(0.5)


def wait_for_report(instance: dg.DagsterInstance, after: float, timeout: float) -> None:
    """Wait until the automation sensor's run materialized the report after `after` (a timestamp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = instance.get_latest_materialization_event(REPORT)
        if event is not None and event.timestamp > after:
            print(f"  trips_per_month: materialized by its automation sensor (run {event.run_id[:8]})")
            return
        time.sleep(1)
    sys.exit(f"demo: trips_per_month was not materialized within {timeout:.0f} s of the loads")


def main() -> None:
    """Run the demo's months through a daemon of its own, then stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("partitions", nargs="+", help="trip partition keys, color|YYYY-MM-01")
    parser.add_argument("--log", type=Path, required=True, help="where the daemon's and launches' output go")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each stage")
    args = parser.parse_args()
    with open(args.log, "a") as log, dg.DagsterInstance.get() as instance:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=PROJECT_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            print("zones_job (the audit checks location ids against the zone table):")
            wait_for_runs(instance, [launch("zones_job", log)], args.timeout)
            print("trips_job, one run per partition, two at a time:")
            runs = [launch("trips_job", log, {"dagster/partition": key}) for key in args.partitions]
            wait_for_runs(instance, runs, args.timeout)
            loaded = max(instance.get_run_record_by_id(run_id).end_time for run_id in runs)
            wait_for_report(instance, loaded, args.timeout)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
