"""A real Dagster deployment for tests: `dagster dev` (webserver + daemon) on 127.0.0.1."""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy.demo import partition_tags
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.processes import log_tail, wait_until_ready
from taxi_pipeline_tests.support.runs import BIN, PROJECT_DIR

LOCATION = "taxi_pipeline"
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
# What a webserver that is still starting answers (or fails with) before its location loads.
NOT_YET = (urllib.error.URLError, OSError, KeyError, RuntimeError)

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


def _reset_signals() -> None:
    # dagster dev maps SIGTERM onto SIGINT's handler; a child that inherits SIGINT ignored (as from
    # a background shell) would then ignore both, so give it default handlers and no mask.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


@dataclass
class DagsterWebserver:
    """A Dagster webserver that answers GraphQL at `url`, and the log to read when it fails."""

    url: str
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """The `data` of a GraphQL query to the webserver; RuntimeError with its errors, if any."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise RuntimeError(json.dumps(answer["errors"]))
        return answer["data"]

    def location_loaded(self) -> bool:
        """Whether the webserver has the project's code location LOADED."""
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
        entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
        return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries)

    def launch_backfill(self, partitions: list[str], title: str) -> dict:
        """`launchPartitionBackfill` of `trips_job`'s partitions, as the UI's backfill dialog
        sends it; the mutation's answer (`__typename`, and `backfillId` when it succeeded)."""
        params = {
            "partitionNames": partitions,
            "selector": {
                "partitionSetName": "trips_job_partition_set",
                "repositorySelector": {"repositoryName": "__repository__", "repositoryLocationName": LOCATION},
            },
            "title": title,
        }
        return self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]

    def launch_run(self, partition: str) -> dict:
        """`launchRun` of `trips_job` for one partition, as the UI's Launchpad sends it; the
        mutation's answer (`__typename`, and `run { runId }` when it succeeded)."""
        tags = partition_tags(partition)
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "jobName": "trips_job",
            },
            "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
        }
        return self.graphql(LAUNCH_RUN, {"params": params})["launchRun"]

    def runs(self, tag: tuple[str, str] | None = None) -> list[dict]:
        """Runs with their status and tags, optionally only those carrying a tag."""
        run_filter = {"tags": [{"key": tag[0], "value": tag[1]}]} if tag else {}
        data = self.graphql(
            "query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs {"
            " results { runId status tags { key value } } } } }",
            {"filter": run_filter},
        )
        return data["runsOrError"]["results"]

    def run_events(self, run_id: str) -> list[dict]:
        """A run's events in order: `__typename`, `message` and `timestamp` (ms since the epoch)."""
        data = self.graphql(
            "query Logs($id: ID!) { logsForRun(runId: $id) { ... on EventConnection {"
            " events { __typename ... on MessageEvent { message timestamp } } } } }",
            {"id": run_id},
        )
        return data["logsForRun"]["events"]

    def backfill(self, partitions: list[str], title: str) -> list[dict]:
        """`launch_backfill`, then its runs once every one is finished."""
        launched = self.launch_backfill(partitions, title)
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        return self.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=len(partitions))

    def wait_for_runs(self, tag: tuple[str, str], count: int, timeout: float = 600) -> list[dict]:
        """Wait until `count` runs with the tag exist and all are finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(tag)
            if len(runs) >= count and all(r["status"] in TERMINAL_RUN_STATUSES for r in runs):
                return runs
            time.sleep(2)
        raise TimeoutError(f"runs tagged {tag} not finished after {timeout} s: {self.runs(tag)}; see {self.log}")


def instance_of(env: dict):
    """The Dagster instance of another process's DAGSTER_HOME (a context manager)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))


@dataclass
class DagsterServer(DagsterWebserver):
    """A running `dagster dev`: its webserver, log file and process."""

    proc: subprocess.Popen


def start_dagster_dev(env: dict, log: Path, timeout: float = 180, command=None) -> DagsterServer:
    """`dagster dev -w workspace.yaml` from the project folder (or `command(port)`, e.g. a make
    target that runs it), ready once the location is LOADED."""
    port = free_port()
    out = open(log, "ab")
    argv = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        command(port) if command else argv,
        cwd=PROJECT_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_reset_signals,
    )
    server = DagsterServer(f"http://127.0.0.1:{port}", log, proc)
    if wait_until_ready(proc, "dagster dev", log, server.location_loaded, timeout, interval=0.5, not_yet=NOT_YET):
        return server
    stop_dagster_dev(server)
    raise TimeoutError(f"dagster dev not ready after {timeout} s:\n{log_tail(log)}")


def stop_dagster_dev(server: DagsterServer) -> None:
    """SIGINT to its process group, as Ctrl-C sends it (a clean shutdown of webserver, daemon and
    code server, also under make), then SIGKILL what is left."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGINT)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.proc.wait()
