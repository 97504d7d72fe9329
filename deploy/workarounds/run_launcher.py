"""The run launcher of the one-machine deployment (deploy/dagster.yaml): Dagster's
`DefaultRunLauncher` plus a health check of its run workers for the run monitoring daemon, so that
a run whose worker died (`dagster dev` killed with its process group, the machine rebooted) is
failed (and retried) instead of staying STARTED for ever.

Works around dagster-io/dagster#4319 (open; dagster 1.13.27): `DefaultRunLauncher` has no worker
health check (`supports_check_run_worker_health` is False), so run monitoring never looks at its
STARTED runs. The check reads the worker's pid from the run's "Started process for run (pid: N)."
event and asks the operating system whether that process still lives: valid only when the daemon
runs on the machine that runs the workers, as `dagster dev` does. Remove it once the pinned
Dagster checks its own workers.
"""

import os
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

# What the run worker logs first, with its pid in the metadata (dagster/_grpc/impl.py).
STARTED_PROCESS = "Started process for run (pid: "


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the run's worker and when it said it started, from the run's last "Started
    process" event; None when there is none (a run executed in another process, e.g. the CLI)."""
    found = None
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if record.message.startswith(STARTED_PROCESS):
            pid = record.dagster_event.engine_event_data.metadata.get("pid")
            if pid is not None:
                found = (int(pid.value), record.timestamp)
    return found


def _linux_start_time(pid: int) -> float | None:
    """When a process started (seconds since the epoch), from /proc; None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        lines = Path("/proc/stat").read_text().splitlines()
        boot = next(float(line.split()[1]) for line in lines if line.startswith("btime"))
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie: dead, not yet reaped
        return float("inf")
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int, started_before: float) -> bool:
    """Whether process `pid` exists and is the one that logged at `started_before` (a process
    started later reuses a dead worker's pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        pass
    if sys.platform.startswith("linux"):
        started = _linux_start_time(pid)
        if started is not None and started > started_before + 2:  # /proc's clock ticks, rounding
            return False
    return True


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose run workers the run monitoring daemon checks by process id."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        found = run_worker_pid(self._instance, run.run_id)
        if found is None:
            # Not launched by this launcher (e.g. `dagster asset materialize` in a shell): nothing
            # to check, so never fail it.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker pid to check")
        pid, logged_at = found
        if process_alive(pid, logged_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"run worker pid {pid} (started {time.strftime('%H:%M:%S', time.localtime(logged_at))}) no longer exists",
        )
