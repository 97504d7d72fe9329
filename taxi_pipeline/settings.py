"""Settings from the environment. Every one has a default that works with no configuration."""

import os
import sys
from pathlib import Path

import dagster as dg

TARGETS = ("local", "gcp")
DEFAULT_TARGET = "local"
# The warehouses each target can load into, its default first: DuckDB reads only local lake
# files and BigQuery only gs:// ones; Postgres streams either.
WAREHOUSES_BY_TARGET = {"local": ("duckdb", "postgres"), "gcp": ("bigquery", "postgres")}
DEFAULT_SOURCE_URL = "https://github.com/DataTalksClub/nyc-tlc-data/releases/download"
DEFAULT_LAKE_DIR = "data/lake"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_BQ_DATASET = "nyc_taxi"
DEFAULT_SOURCE_RETRY_DELAY_SECONDS = 2.0


class SettingError(ValueError):
    """A setting with a value the pipeline cannot use; the message names the variable."""


def pipeline_target() -> str:
    """Which set of resources to run with, from `TAXI_PIPELINE_TARGET` (default `local`)."""
    value = os.getenv("TAXI_PIPELINE_TARGET", DEFAULT_TARGET).strip() or DEFAULT_TARGET
    if value not in TARGETS:
        raise SettingError(
            f"TAXI_PIPELINE_TARGET={value!r} is not a known target; use one of: {', '.join(TARGETS)}"
        )
    return value


def warehouse_kind(target: str) -> str:
    """Which warehouse the target loads into, from `TAXI_WAREHOUSE` (default: DuckDB for
    `local`, BigQuery for `gcp`); `postgres` works with both."""
    allowed = WAREHOUSES_BY_TARGET[target]
    value = os.getenv("TAXI_WAREHOUSE", "").strip() or allowed[0]
    if value not in allowed:
        raise SettingError(
            f"TAXI_WAREHOUSE={value!r} is not a warehouse of the {target} target; use one of: {', '.join(allowed)}"
        )
    return value


def env_setting(name: str, default: str) -> str | dg.EnvVar:
    """`dg.EnvVar(name)` when the variable is set, so the UI shows the name, not the value;
    otherwise the default."""
    return dg.EnvVar(name) if os.getenv(name) else default


def optional_env_setting(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable is set, else None (the resource's own default)."""
    return dg.EnvVar(name) if os.getenv(name) else None


def source_retry_delay_seconds() -> float:
    """Base delay of the download's exponential backoff, from `TAXI_SOURCE_RETRY_DELAY` (default 2 s)."""
    value = os.getenv("TAXI_SOURCE_RETRY_DELAY", "").strip()
    if not value:
        return DEFAULT_SOURCE_RETRY_DELAY_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise SettingError(f"TAXI_SOURCE_RETRY_DELAY={value!r} is not a number of seconds between 0 and 3600")
    return seconds


def check_writable_location(setting: str, path: str, *, folder: bool) -> None:
    """Raise `SettingError` naming `setting` when `path` (a folder, or a file's folder) cannot be
    created or written: an existing part of it is a file, or the nearest existing folder is not
    writable. Creates nothing."""
    target = Path(path).expanduser().absolute()
    if target.exists() and folder != target.is_dir():
        kind = "a file" if target.is_file() else "a folder"
        raise SettingError(f"{setting}={path!r} is {kind}, not the {'folder' if folder else 'file'} it should be")
    existing = target if folder else target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SettingError(f"{setting}={path!r} cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingError(f"{setting}={path!r} is not writable: no write permission on {existing}")


PARTITION_KEY_HINT = "keys read color|YYYY-MM-01, e.g. green|2020-04-01 (colors yellow, green, fhv; months from 2019-01-01)"


def _user_error_line(error: BaseException | None) -> str | None:
    """The one line to show for an error the user fixes by a setting or an argument, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, SettingError):
            return f"taxi_pipeline: {error}"
        if type(error).__name__ == "DagsterInvalidSubsetError" and "partition key" in str(error):
            return f"taxi_pipeline: --partition: {error} Partition {PARTITION_KEY_HINT}."
        error = error.__cause__ or error.__context__
    return None


def install_one_line_errors() -> None:
    """Make an uncaught setting error (or a bad --partition) end a command-line process with one
    line naming the setting instead of a traceback; any other error keeps its traceback."""
    previous = sys.excepthook
    if getattr(previous, "taxi_pipeline", False):
        return

    def excepthook(kind, value, traceback):
        line = _user_error_line(value)
        if line is None:
            previous(kind, value, traceback)
        else:
            print(line, file=sys.stderr)

    excepthook.taxi_pipeline = True
    sys.excepthook = excepthook
