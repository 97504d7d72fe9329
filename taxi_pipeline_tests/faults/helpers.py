"""Shared by the fault-injection tests: in-process runs, subprocess runs, what is left behind."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from taxi_pipeline.assets import TRIP_ASSETS
from taxi_pipeline.schema import CANONICAL_SCHEMA

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def materialize(resources: dict, partition_key: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(TRIP_ASSETS, partition_key=partition_key, resources=resources, raise_on_error=False)


def step_failures(result_or_events) -> dict[str, str]:
    """{step key: error message} of every STEP_FAILURE."""
    events = getattr(result_or_events, "all_events", result_or_events)
    return {
        e.step_key: e.step_failure_data.error.message.strip()
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    }


def with_causes(error) -> str:
    """An error's message followed by its causes' (Dagster wraps user errors, e.g. in retries)."""
    parts = []
    while error is not None:
        parts.append(error.message.strip())
        error = error.cause
    return "\n".join(parts)


def retried_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def warehouse_rows(duckdb_path) -> dict[tuple[str, str], int]:
    if not Path(duckdb_path).exists():
        return {}
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        rows = conn.execute("SELECT color, strftime(source_month, '%Y-%m'), count(*) FROM trips GROUP BY ALL").fetchall()
    return {(color, month): n for color, month, n in rows}


# Order-independent checksum of rows: the sum of each row's hash (as HUGEINT, so duplicates add
# up instead of cancelling out as with XOR), with the row count beside it.
ROW_HASH = f"hash({', '.join(CANONICAL_SCHEMA.names)})"
CHECKSUM_SQL = f"count(*), sum({ROW_HASH}::HUGEINT)"


def slice_checksums(duckdb_path) -> dict[tuple[str, str], tuple[int, int]]:
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT color, strftime(source_month, '%Y-%m'), {CHECKSUM_SQL} FROM trips GROUP BY ALL"
        ).fetchall()
    return {(color, month): (n, int(checksum)) for color, month, n, checksum in rows}


def parquet_checksum(path) -> tuple[int, int]:
    with duckdb.connect() as conn:
        n, checksum = conn.execute(f"SELECT {CHECKSUM_SQL} FROM read_parquet(?)", [str(path)]).fetchone()
    return n, int(checksum)


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of the atomic writers left in a folder tree."""
    return sorted(p for p in Path(folder).rglob("*") if p.name.endswith(".tmp"))


def cli_env(tmp_path: Path, source_url: str, **extra: str) -> dict[str, str]:
    """The environment of a user running the CLI: own DAGSTER_HOME, lake and warehouse in tmp."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # no first-run banner
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        TAXI_SOURCE_URL=source_url,
        TAXI_LAKE_DIR=str(tmp_path / "lake"),
        TAXI_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
    )
    env.update(extra)
    return env


def materialize_command(partition_key: str) -> list[str]:
    return [str(BIN / "dagster"), "asset", "materialize", "-m", "taxi_pipeline.definitions",
            "--select", "*", "--partition", partition_key]


def run_cli(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout)


def start_cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_records(dagster_home: Path) -> list:
    """Every run of a DAGSTER_HOME instance, with its events."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return [(r.dagster_run, instance.all_logs(r.dagster_run.run_id)) for r in instance.get_run_records()]
