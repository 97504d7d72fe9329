"""Settings from the environment. Every one has a default that works with no configuration."""

import os

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
