"""`make demo`: the bundled months run on one machine as `make dev-demo` runs them: runs of
`zones_job` and `trips_job` are queued in the demo's instance (deploy/dagster.yaml) and taken by a
daemon, and the report `trips_per_month` follows from its automation sensor. The daemon is the UI's
when `make dev-demo` is running on the same instance (same settings, made by the same Makefile
variables), else one of the demo's own, started here and stopped after. Runs made this way carry
their code location, so the UI's timeline, job and partition views show them.

    python deploy/demo.py --log data/demo/demo.log 'green|2020-04-01' 'fhv|2019-01-01' ...
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
# The daemon that takes queued runs, and how old its last heartbeat may be (it beats every 30 s).
RUN_QUEUE_DAEMON, HEARTBEAT_SECONDS = "QUEUED_RUN_COORDINATOR", 75


def daemon_running(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon of this instance (the UI's, or another demo's) takes queued runs now."""
    heartbeat = instance.get_daemon_heartbeats().get(RUN_QUEUE_DAEMON)
    return heartbeat is not None and time.time() - heartbeat.timestamp < HEARTBEAT_SECONDS


class Daemon:
    """The demo's own daemon, started only while no other daemon of the instance takes runs."""

    def __init__(self, instance: dg.DagsterInstance, log):
        self.instance, self.log, self.process = instance, log, None

    def ensure(self) -> None:
        if self.process is None and not daemon_running(self.instance):
            print("  (no daemon runs on this instance: the demo starts one of its own)")
            self.process = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                cwd=PROJECT_DIR,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            # Its last heartbeat would tell a demo started right after that a daemon still runs.
            self.instance.wipe_daemon_heartbeats()


def launch(job: str, log, tags: dict[str, str] | None = None) -> str:
    """Queue a run of `job` in the instance (as the UI's Launch button does); its run id."""
    run_id = str(uuid.uuid4())
    command = [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", job, "--run-id", run_id]
    if tags:
        command += ["--tags", json.dumps(tags)]
    subprocess.run(command, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, check=True)
    return run_id


def partition_tags(key: str) -> dict[str, str]:
    """A run's tags for one (color, month) key, with the dimensions' own, as the UI's launches carry
    them (the job page's run-duration graph reads those)."""
    color, month = key.split("|")
    return {"dagster/partition": key, "dagster/partition/color": color, "dagster/partition/month": month}


def wait_for_runs(instance: dg.DagsterInstance, daemon: Daemon, run_ids: list[str], timeout: float) -> None:
    """Wait until every run ended, printing each as it ends; exit naming a run that did not succeed.
    A daemon that stops meanwhile (the UI closed) is replaced by the demo's own."""
    pending, deadline = list(run_ids), time.monotonic() + timeout
    while pending:
        daemon.ensure()
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
                sys.exit(f"demo: run {run_id} ({what}) ended {run.status.value}; its log is in the UI (make dev-demo)")
        time.sleep(0.5)


def wait_for_report(instance: dg.DagsterInstance, daemon: Daemon, after: float, timeout: float) -> None:
    """Wait until the automation sensor's run materialized the report after `after` (a timestamp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.ensure()
        event = instance.get_latest_materialization_event(REPORT)
        if event is not None and event.timestamp > after:
            print(f"  trips_per_month: materialized by its automation sensor (run {event.run_id[:8]})")
            return
        time.sleep(1)
    sys.exit(f"demo: trips_per_month was not materialized within {timeout:.0f} s of the loads")


def main() -> None:
    """Queue the demo's months and wait for them, run by the UI's daemon or one of the demo's own."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("partitions", nargs="+", help="trip partition keys, color|YYYY-MM-01")
    parser.add_argument("--log", type=Path, required=True, help="where the daemon's and launches' output go")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each stage")
    args = parser.parse_args()
    with open(args.log, "a") as log, dg.DagsterInstance.get() as instance:
        daemon = Daemon(instance, log)
        if daemon_running(instance):
            print("the UI's daemon (make dev-demo) runs the demo's runs: same instance, same settings")
        try:
            print("zones_job (the audit checks location ids against the zone table):")
            wait_for_runs(instance, daemon, [launch("zones_job", log)], args.timeout)
            print("trips_job, one run per partition, two at a time:")
            runs = [launch("trips_job", log, partition_tags(key)) for key in args.partitions]
            wait_for_runs(instance, daemon, runs, args.timeout)
            loaded = max(instance.get_run_record_by_id(run_id).end_time for run_id in runs)
            wait_for_report(instance, daemon, loaded, args.timeout)
        finally:
            daemon.stop()


if __name__ == "__main__":
    main()
