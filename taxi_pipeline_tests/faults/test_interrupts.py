"""Ctrl-C (SIGINT), SIGTERM or Terminate during a step stops the run: neither the step's own
retries nor the instance's run retries (deploy/dagster.yaml) start the download or load again,
also when a library turned the interrupt into an ordinary error."""

import subprocess
import sys

import dagster as dg
import pytest

from taxi_pipeline.assets.downloads import download_failures
from taxi_pipeline.assets.retries import retried_on_error, stops_when_interrupted
from taxi_pipeline.resources.source import TripSourceResource

pytestmark = pytest.mark.faults


def duckdb_interrupted() -> RuntimeError:
    """What DuckDB raises when Dagster's SIGINT handler interrupts a query (dagster 1.13.27 and
    duckdb as installed): an ordinary RuntimeError caused by the interrupt."""
    try:
        try:
            raise dg.DagsterExecutionInterruptedError()
        except dg.DagsterExecutionInterruptedError as interrupt:
            raise RuntimeError("Query interrupted") from interrupt
    except RuntimeError as e:
        return e


def run_with_interrupt(wrap, error: BaseException):
    attempts = []

    @dg.asset
    def interrupted(context: dg.AssetExecutionContext) -> int:
        with wrap(context):
            attempts.append(context.retry_number)
            raise error

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([interrupted], instance=instance, raise_on_error=False)
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    return result, attempts, retries, instance.get_run_by_id(result.run_id)


WRAPS = {
    "load": lambda context: retried_on_error(context, base_seconds=0.1, max_retries=3),
    "download": lambda context: download_failures(context, TripSourceResource(retry_delay_seconds=0.1)),
    "conversion": stops_when_interrupted,
}


@pytest.mark.parametrize("step", WRAPS)
@pytest.mark.parametrize("how", ["duckdb", "signal"])
def test_an_interrupted_step_stops_the_run_and_is_not_retried(step, how):
    error = duckdb_interrupted() if how == "duckdb" else dg.DagsterExecutionInterruptedError()

    result, attempts, retries, run = run_with_interrupt(WRAPS[step], error)

    assert not result.success and attempts == [0] and not retries
    # The run fails as UNEXPECTED_TERMINATION, which run retries would launch again: the tag stops them.
    assert run.tags.get("dagster/max_retries") == "0"


# The real DuckDB interrupted by a SIGINT handler that raises as Dagster's does, in a process of
# its own (the signal and the interrupted connection stay out of the test session).
DUCKDB_INTERRUPTED = """
import os, signal, threading
import dagster as dg, duckdb

def handler(signum, frame):
    raise dg.DagsterExecutionInterruptedError()

signal.signal(signal.SIGINT, handler)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    duckdb.connect().execute("SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3").fetchone()
except BaseException as e:
    print(type(e).__name__, type(e.__cause__).__name__, flush=True)
os._exit(0)
"""


def test_duckdb_turns_an_interrupt_into_an_error_caused_by_it():
    # Why interrupts are looked for among an error's causes: DuckDB raises neither the
    # interrupt nor a subclass of it.
    done = subprocess.run([sys.executable, "-c", DUCKDB_INTERRUPTED], capture_output=True, text=True, timeout=60)

    assert done.stdout.split() == ["RuntimeError", "DagsterExecutionInterruptedError"], done.stderr[-2000:]
