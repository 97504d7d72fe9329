"""Settings from the environment. Every one has a default that works with no configuration."""

import os

import dagster as dg

TARGETS = ("local", "gcp")
DEFAULT_TARGET = "local"
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

