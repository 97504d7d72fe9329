"""The pipeline's settings: every `TAXI_*` and Google variable, read and checked once, when
Dagster loads the definitions. Every one has a default that works with no configuration."""

import base64
import binascii
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from taxi_pipeline.defs.source.releases import RELEASES, TLC_EARLIEST_MONTH, TripRelease
from taxi_pipeline.errors import SettingError
from taxi_pipeline.lib.quality import DEFAULT_ROW_DROP, RowDropThresholds

# The warehouses each target can load into, its default first: DuckDB reads only local lake
# files and BigQuery only gs:// ones; Postgres streams either.
WAREHOUSES_BY_TARGET = {"local": ("duckdb", "postgres"), "gcp": ("bigquery", "postgres")}
DEFAULT_SOURCE = "course"
DEFAULT_SOURCE_RETRY_DELAY_SECONDS = 2.0
# A download slower than 64 KiB a minute fails (and is retried): a month is MiBs to 100s of MiBs.
DEFAULT_SOURCE_MIN_BYTES = 64 << 10
DEFAULT_SOURCE_RATE_WINDOW_SECONDS = 60.0
# How long a load waits for the DuckDB file's lock that another process holds before failing.
DEFAULT_DUCKDB_LOCK_WAIT_SECONDS = 60.0
# How often the re-published-month sensor asks the source about loaded months (when turned on).
DEFAULT_REPUBLISH_CHECK_INTERVAL_SECONDS = 86400.0
# A month may be set to grow up to this many times its previous rows before it blocks.
MAX_ROW_GROWTH = 100
POSTGRES_URL_FORM = "postgresql://user:password@host:5432/dbname"
# The settings resources get as `dg.EnvVar` (the UI shows the name, not the value).
PASSED_BY_NAME = frozenset(
    {"TAXI_LAKE_DIR", "TAXI_DUCKDB_PATH", "TAXI_SOURCE_URL", "TAXI_POSTGRES_URL", "TAXI_WEBHOOK_URL"}
    | {"GCS_BUCKET", "GCP_PROJECT", "BQ_DATASET", "BQ_LOCATION"}
)
GOOGLE_SETTINGS = ("GCS_BUCKET", "GCP_PROJECT", "BQ_DATASET", "BQ_LOCATION", "GCP_CREDENTIALS_B64")


def redact_url(url: str) -> str:
    """`url` with everything between the scheme's `//` and the last `@` replaced by `***`, whatever
    the password holds (an unencoded `/`, `#`, `?` or `@` included)."""
    head, sep, rest = url.partition("//")
    if not sep or "@" not in rest:
        return url
    return f"{head}//***@{rest.rpartition('@')[2]}"


def redact_urls_in(text: str) -> str:
    """`text` with the user:password part of every URL in it replaced by `***`."""
    # A URL's scheme and `//`, then its user:password@ up to the last `@` before a space or quote.
    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"<>]*@", r"\1***@", text)


def check_url_authority(setting: str, url: str, form: str) -> None:
    """Refuse `url` when its user:password part does not parse one way only (an unencoded `@`,
    `/`, `?` or `#` in it would be read as host and path, and shown)."""
    rest = url.partition("//")[2]
    if "@" in rest and (rest.count("@") > 1 or any(c in rest.rpartition("@")[0] for c in "/?#")):
        raise SettingError(
            f"{setting} does not parse as one URL: expected {form}, with the user name and password "
            "percent-encoded (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A); the value is not shown"
        )


def decode_service_account_key(encoded: str) -> dict:
    """A base64-encoded service-account JSON key as a dict; errors name the setting, never the value."""
    try:
        return json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise SettingError("GCP_CREDENTIALS_B64 is not a base64-encoded service-account JSON key") from None


def check_writable_location(setting: str, path: str, *, folder: bool) -> None:
    """Refuse `path` (a folder, or a file's folder) when it cannot be created or written. Creates nothing."""
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


def check_duckdb_file(path: str) -> None:
    """Refuse an existing TAXI_DUCKDB_PATH that is not a DuckDB database ("DUCK" at byte 8), which
    DuckDB would refuse only at the first load. A missing file is fine (DuckDB creates it)."""
    target = Path(path).expanduser()
    if not target.is_file():
        return
    with target.open("rb") as f:
        head = f.read(12)
    if head[8:] != b"DUCK":
        kind = "a parquet file" if head[:4] == b"PAR1" else "not a DuckDB database (no DUCK magic at byte 8)"
        raise SettingError(
            f"TAXI_DUCKDB_PATH={path!r} is {kind if head else 'an empty file, not a DuckDB database'}: "
            "point it at a DuckDB file (or a path where one can be created)"
        )


def _first_month(value: str, release: TripRelease, today: date) -> date:
    """The month TAXI_FIRST_MONTH names (YYYY-MM), checked against the release."""
    if release.last_month is not None:
        raise SettingError(
            f"TAXI_FIRST_MONTH applies to TAXI_SOURCE=tlc; the {release.description} (TAXI_SOURCE={release.name}) "
            f"holds exactly {release.first_month:%Y-%m} to {release.last_month:%Y-%m}: unset TAXI_FIRST_MONTH"
        )
    try:
        month = datetime.strptime(value[:7], "%Y-%m").date()
        if len(value) != 7 and value[7:] != "-01":
            raise ValueError
    except ValueError:
        raise SettingError(f"TAXI_FIRST_MONTH={value!r} is not a month; write it as YYYY-MM, e.g. 2019-01") from None
    if month < TLC_EARLIEST_MONTH:
        raise SettingError(
            f"TAXI_FIRST_MONTH={value!r} is before {TLC_EARLIEST_MONTH:%Y-%m}: the TLC's 2009 and 2010 files use "
            "another layout (longitudes and latitudes, no zone ids) that this pipeline does not read"
        )
    latest = release.latest_month(today)
    if month > latest:
        raise SettingError(
            f"TAXI_FIRST_MONTH={value!r} is later than the latest month the TLC can have published ({latest:%Y-%m})"
        )
    return month


@dataclass(frozen=True)
class Settings:
    """Every setting of one code location, checked. Secrets are not held here: resources read
    them through `dg.EnvVar` (`shown`)."""

    target: str
    warehouse: str
    source: str
    first_month: date | None  # TAXI_FIRST_MONTH; None: the source's own first month
    source_url: str
    source_retry_delay_seconds: float
    source_min_bytes: int
    source_rate_window_seconds: float
    duckdb_lock_wait_seconds: float
    republish_check_interval_seconds: float
    lake_dir: str
    duckdb_path: str
    bq_dataset: str
    row_drop: RowDropThresholds  # a re-published month this much smaller, or larger, warns / blocks
    given: frozenset[str]  # names of the variables that were set

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, today: date | None = None) -> "Settings":
        """The settings in `environ` (default: the process environment; `today` bounds TAXI_FIRST_MONTH),
        or a `SettingError` naming the first variable no run could work with."""
        env = os.environ if environ is None else environ
        given = frozenset(n for n, v in env.items() if v.strip() and (n.startswith("TAXI_") or n in GOOGLE_SETTINGS))

        def get(name: str, default: str | None = None) -> str | None:
            return env[name].strip() if name in given else default

        def number(name: str, default: float, high: int, unit: str, above_zero: bool = False) -> float:
            value = get(name)
            try:
                parsed = default if value is None else float(value)
            except ValueError:
                parsed = math.nan
            if not (0 < parsed <= high if above_zero else 0 <= parsed <= high):
                bounds = f"above 0 and at most {high}" if above_zero else f"between 0 and {high}"
                raise SettingError(f"{name}={value!r} is not a number of {unit} {bounds}")
            return parsed

        def share(name: str, default: float, high: float = 1) -> float:
            value = get(name)
            try:
                parsed = default if value is None else float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
            except ValueError:
                parsed = math.nan
            if not 0 <= parsed <= high:
                example = "0.1 or 10%" if high == 1 else "0.5 or 50%"
                raise SettingError(f"{name}={value!r} is not a share between 0 and {high:g} (e.g. {example})")
            return parsed

        target = get("TAXI_PIPELINE_TARGET", "local")
        if target not in WAREHOUSES_BY_TARGET:
            raise SettingError(
                f"TAXI_PIPELINE_TARGET={target!r} is not a known target; use one of: {', '.join(WAREHOUSES_BY_TARGET)}"
            )
        allowed = WAREHOUSES_BY_TARGET[target]
        warehouse = get("TAXI_WAREHOUSE", allowed[0])
        if warehouse not in allowed:
            raise SettingError(
                f"TAXI_WAREHOUSE={warehouse!r} is not a warehouse of the {target} target; "
                f"use one of: {', '.join(allowed)}"
            )
        source = get("TAXI_SOURCE", DEFAULT_SOURCE)
        if source not in RELEASES:
            raise SettingError(f"TAXI_SOURCE={source!r} is not a known source; use one of: {', '.join(RELEASES)}")
        release = RELEASES[source]
        first_month = get("TAXI_FIRST_MONTH")
        if first_month is not None:
            first_month = _first_month(first_month, release, today or datetime.now(UTC).date())
        retry_delay = number("TAXI_SOURCE_RETRY_DELAY", DEFAULT_SOURCE_RETRY_DELAY_SECONDS, 3600, "seconds")
        min_bytes = int(number("TAXI_SOURCE_MIN_BYTES", DEFAULT_SOURCE_MIN_BYTES, 1 << 30, "bytes"))
        rate_window = number("TAXI_SOURCE_RATE_WINDOW", DEFAULT_SOURCE_RATE_WINDOW_SECONDS, 86400, "seconds", True)
        lock_wait = number("TAXI_DUCKDB_LOCK_WAIT", DEFAULT_DUCKDB_LOCK_WAIT_SECONDS, 86400, "seconds")
        republish_interval = number(
            "TAXI_REPUBLISH_CHECK_INTERVAL", DEFAULT_REPUBLISH_CHECK_INTERVAL_SECONDS, 30 * 86400, "seconds", True
        )
        drop_warn = share("TAXI_ROW_DROP_WARN", DEFAULT_ROW_DROP.warn_share)
        drop_block = share("TAXI_ROW_DROP_BLOCK", DEFAULT_ROW_DROP.block_share)
        growth_warn = share("TAXI_ROW_GROWTH_WARN", DEFAULT_ROW_DROP.warn_growth, MAX_ROW_GROWTH)
        growth_block = share("TAXI_ROW_GROWTH_BLOCK", DEFAULT_ROW_DROP.block_growth, MAX_ROW_GROWTH)
        for kind, warn, block in (("DROP", drop_warn, drop_block), ("GROWTH", growth_warn, growth_block)):
            if warn > block:
                raise SettingError(
                    f"TAXI_ROW_{kind}_WARN ({warn:g}) is above TAXI_ROW_{kind}_BLOCK ({block:g}): "
                    "a change should warn before it blocks"
                )
        # Resources read these through dg.EnvVar, unstripped: the value they get is the one checked.
        for name in sorted(given & PASSED_BY_NAME):
            if env[name] != env[name].strip():
                raise SettingError(f"{name} has spaces or line breaks around its value: remove them")
        source_url = get("TAXI_SOURCE_URL", release.default_url)
        check_url_authority("TAXI_SOURCE_URL", source_url, "http(s)://[user:password@]host/path or file:///folder")
        parts = urlsplit(source_url)
        if parts.scheme not in ("http", "https", "file"):
            raise SettingError(
                f"TAXI_SOURCE_URL must start with http://, https:// or file://, got {redact_url(source_url)!r}"
            )
        if parts.scheme != "file" and not parts.hostname:
            raise SettingError(f"TAXI_SOURCE_URL has no host name: {redact_url(source_url)!r}")
        if warehouse == "postgres" and "TAXI_POSTGRES_URL" not in given:
            raise SettingError(f"TAXI_WAREHOUSE=postgres needs TAXI_POSTGRES_URL ({POSTGRES_URL_FORM})")
        if "TAXI_POSTGRES_URL" in given:
            check_url_authority("TAXI_POSTGRES_URL", get("TAXI_POSTGRES_URL"), POSTGRES_URL_FORM)
        lake_dir, duckdb_path = get("TAXI_LAKE_DIR", "data/lake"), get("TAXI_DUCKDB_PATH", "data/warehouse.duckdb")
        if target == "local":
            check_writable_location("TAXI_LAKE_DIR", lake_dir, folder=True)
            if warehouse == "duckdb" and "TAXI_DUCKDB_PATH" in given:
                check_writable_location("TAXI_DUCKDB_PATH", duckdb_path, folder=False)
            if warehouse == "duckdb":
                check_duckdb_file(duckdb_path)
        elif "GCS_BUCKET" not in given:
            raise SettingError("TAXI_PIPELINE_TARGET=gcp needs GCS_BUCKET, the lake's bucket")
        elif warehouse == "bigquery" and "GCP_PROJECT" not in given:
            raise SettingError("TAXI_PIPELINE_TARGET=gcp needs GCP_PROJECT, the BigQuery project")
        elif "GCP_CREDENTIALS_B64" in given:
            decode_service_account_key(get("GCP_CREDENTIALS_B64"))
        return cls(
            target=target,
            warehouse=warehouse,
            source=source,
            first_month=first_month,
            source_url=source_url,
            source_retry_delay_seconds=retry_delay,
            source_min_bytes=min_bytes,
            source_rate_window_seconds=rate_window,
            duckdb_lock_wait_seconds=lock_wait,
            republish_check_interval_seconds=republish_interval,
            lake_dir=lake_dir,
            duckdb_path=duckdb_path,
            bq_dataset=get("BQ_DATASET", "nyc_taxi"),
            row_drop=RowDropThresholds(drop_warn, drop_block, growth_warn, growth_block),
            given=given,
        )

    @property
    def release(self) -> TripRelease:
        """The source TAXI_SOURCE selects: its layout, services and months."""
        return RELEASES[self.source]

    def shown(self, name: str, value=None):
        """What a resource gets for the setting `name`: `dg.EnvVar(name)` when the variable was
        given, so the UI shows the name, not the value; otherwise `value`."""
        return dg.EnvVar(name) if name in self.given else value
