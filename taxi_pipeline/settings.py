"""The pipeline's settings: every `TAXI_*` and Google variable, read and checked once, when
Dagster loads the definitions. Every one has a default that works with no configuration."""

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from taxi_pipeline.defs.source.releases import RELEASES, TLC_EARLIEST_MONTH, TripRelease
from taxi_pipeline.errors import SettingError
from taxi_pipeline.lib.quality import DEFAULT_ROW_DROP, RowDropThresholds

TARGETS = ("local", "gcp")
# The warehouses each target can load into, its default first: DuckDB reads only local lake
# files and BigQuery only gs:// ones; Postgres streams either.
WAREHOUSES_BY_TARGET = {"local": ("duckdb", "postgres"), "gcp": ("bigquery", "postgres")}
DEFAULT_SOURCE = "course"
DEFAULT_LAKE_DIR = "data/lake"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_BQ_DATASET = "nyc_taxi"
DEFAULT_SOURCE_RETRY_DELAY_SECONDS = 2.0
# A download slower than 64 KiB a minute fails (and is retried): a month is MiBs to 100s of MiBs.
DEFAULT_SOURCE_MIN_BYTES = 64 << 10
DEFAULT_SOURCE_RATE_WINDOW_SECONDS = 60.0
# How long a load waits for the DuckDB file's lock that another process holds before failing.
DEFAULT_DUCKDB_LOCK_WAIT_SECONDS = 60.0
SOURCE_URL_SCHEMES = ("http", "https", "file")


# A URL's scheme and `//`, then its user:password@ up to the last `@` before a space or quote.
_CREDENTIALS_IN_TEXT = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"<>]*@")
POSTGRES_URL_FORM = "postgresql://user:password@host:5432/dbname"
SOURCE_URL_FORM = "http(s)://[user:password@]host/path or file:///folder"


def redact_url(url: str) -> str:
    """`url` with everything between the scheme's `//` and the last `@` replaced by `***`, whatever
    the password holds (an unencoded `/`, `#`, `?` or `@` included)."""
    head, sep, rest = url.partition("//")
    if not sep or "@" not in rest:
        return url
    return f"{head}//***@{rest.rpartition('@')[2]}"


def redact_urls_in(text: str) -> str:
    """`text` with the user:password part of every URL in it replaced by `***`."""
    return _CREDENTIALS_IN_TEXT.sub(r"\1***@", text)


def check_url_authority(setting: str, url: str, form: str) -> None:
    """Raise `SettingError` naming `setting` when `url`'s user:password part does not parse one
    way only (an unencoded `@`, `/`, `?` or `#` in it would be read as host and path, and shown)."""
    _, sep, rest = url.partition("//")
    if not sep or "@" not in rest:
        return
    if rest.count("@") > 1 or any(c in rest.rpartition("@")[0] for c in "/?#"):
        raise SettingError(
            f"{setting} does not parse as one URL: expected {form}, with the user name and password "
            "percent-encoded (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A); the value is not shown"
        )


def check_source_url(url: str) -> None:
    """Raise `SettingError` naming TAXI_SOURCE_URL unless `url` is http(s)://host... or file://...,
    with any user:password unambiguous."""
    check_url_authority("TAXI_SOURCE_URL", url, SOURCE_URL_FORM)
    parts = urlsplit(url)
    if parts.scheme not in SOURCE_URL_SCHEMES:
        raise SettingError(f"TAXI_SOURCE_URL must start with http://, https:// or file://, got {redact_url(url)!r}")
    if parts.scheme != "file" and not parts.hostname:
        raise SettingError(f"TAXI_SOURCE_URL has no host name: {redact_url(url)!r}")


def check_postgres_url(url: str) -> None:
    """Raise `SettingError` naming TAXI_POSTGRES_URL when its user:password part is ambiguous."""
    check_url_authority("TAXI_POSTGRES_URL", url, POSTGRES_URL_FORM)


def decode_service_account_key(encoded: str, setting: str = "GCP_CREDENTIALS_B64") -> dict:
    """A base64-encoded service-account JSON key as a dict; errors name the setting, never the value."""
    try:
        return json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise SettingError(f"{setting} is not a base64-encoded service-account JSON key") from None


def check_writable_location(setting: str, path: str, *, folder: bool) -> None:
    """Raise `SettingError` naming `setting` when `path` (a folder, or a file's folder) cannot be
    created or written. Creates nothing."""
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
    """Raise `SettingError` when TAXI_DUCKDB_PATH is an existing file that is not a DuckDB database
    ("DUCK" at byte 8), which DuckDB would refuse only at the first load. A missing file is fine
    (DuckDB creates it)."""
    target = Path(path).expanduser()
    if not target.is_file():
        return
    with target.open("rb") as f:
        head = f.read(12)
    if head[8:] == b"DUCK":
        return
    shown = (
        "an empty file, not a DuckDB database"
        if not head
        else "a parquet file"
        if head[:4] == b"PAR1"
        else "not a DuckDB database (no DUCK magic at byte 8)"
    )
    raise SettingError(
        f"TAXI_DUCKDB_PATH={path!r} is {shown}: point it at a DuckDB file (or a path where one can be created)"
    )


def _first_month(value: str | None, release: TripRelease, today: date) -> date | None:
    """The month TAXI_FIRST_MONTH names (YYYY-MM), checked against the release, or None."""
    if value is None:
        return None
    if release.last_month is not None:
        raise SettingError(
            f"TAXI_FIRST_MONTH applies to TAXI_SOURCE=tlc; the {release.description} (TAXI_SOURCE={release.name}) "
            f"holds exactly {release.first_month:%Y-%m} to {release.last_month:%Y-%m}: unset TAXI_FIRST_MONTH"
        )
    try:
        month = datetime.strptime(value[:7], "%Y-%m").date()
        if len(value) not in (7, 10) or (len(value) == 10 and value[7:] != "-01"):
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


def _number(name: str, value: str, low: float, high: float, unit: str, *, above_low: bool = False) -> float:
    """`value` of the setting `name` as a number in [low, high] (or (low, high]), or a
    `SettingError` naming the setting and the range."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (low < number <= high if above_low else low <= number <= high):
        low_text, high_text = (str(int(n)) if float(n).is_integer() else f"{n:g}" for n in (low, high))
        bounds = f"above {low_text} and at most {high_text}" if above_low else f"between {low_text} and {high_text}"
        raise SettingError(f"{name}={value!r} is not a number of {unit} {bounds}")
    return number


# A month may be set to grow up to this many times its previous rows before it blocks.
MAX_ROW_GROWTH = 100


def _share(name: str, value: str, high: float = 1, example: str = "0.1 or 10%") -> float:
    """`value` of the setting `name` as a share (0.1 or 10%) between 0 and `high`."""
    try:
        share = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    except ValueError:
        share = -1.0
    if not 0 <= share <= high:
        raise SettingError(f"{name}={value!r} is not a share between 0 and {high:g} (e.g. {example})")
    return share


def _growth(name: str, value: str) -> float:
    return _share(name, value, MAX_ROW_GROWTH, "0.5 or 50%")


def _row_drop(env_get) -> RowDropThresholds:
    """The thresholds TAXI_ROW_DROP_WARN / _BLOCK (shares lost, defaults 10%, 50%) and
    TAXI_ROW_GROWTH_WARN / _BLOCK (shares gained, defaults 10%, 50%) give."""
    default = DEFAULT_ROW_DROP
    given = {
        "warn_share": ("TAXI_ROW_DROP_WARN", _share),
        "block_share": ("TAXI_ROW_DROP_BLOCK", _share),
        "warn_growth": ("TAXI_ROW_GROWTH_WARN", _growth),
        "block_growth": ("TAXI_ROW_GROWTH_BLOCK", _growth),
    }
    values = {
        field: getattr(default, field) if env_get(name) is None else parse(name, env_get(name))
        for field, (name, parse) in given.items()
    }
    for warn, block in (("warn_share", "block_share"), ("warn_growth", "block_growth")):
        if values[warn] > values[block]:
            raise SettingError(
                f"{given[warn][0]} ({values[warn]:g}) is above {given[block][0]} ({values[block]:g}): "
                "a change should warn before it blocks"
            )
    return RowDropThresholds(**values)


@dataclass(frozen=True)
class Settings:
    """Every setting of one code location, checked. Values that are secrets are not held here:
    `is_set` tells whether they were given, and resources read them through `dg.EnvVar`."""

    target: str = "local"
    warehouse: str = "duckdb"
    source: str = DEFAULT_SOURCE
    first_month: date | None = None  # TAXI_FIRST_MONTH; None: the source's own first month
    source_url: str = RELEASES[DEFAULT_SOURCE].default_url
    source_retry_delay_seconds: float = DEFAULT_SOURCE_RETRY_DELAY_SECONDS
    source_min_bytes: int = DEFAULT_SOURCE_MIN_BYTES
    source_rate_window_seconds: float = DEFAULT_SOURCE_RATE_WINDOW_SECONDS
    duckdb_lock_wait_seconds: float = DEFAULT_DUCKDB_LOCK_WAIT_SECONDS
    lake_dir: str = DEFAULT_LAKE_DIR
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    gcs_bucket: str | None = None
    gcp_project: str | None = None
    bq_dataset: str = DEFAULT_BQ_DATASET
    bq_location: str | None = None
    # TAXI_ROW_DROP_WARN / _BLOCK, TAXI_ROW_GROWTH_WARN / _BLOCK: a re-published month this much
    # smaller, or larger, warns / blocks.
    row_drop: RowDropThresholds = DEFAULT_ROW_DROP
    given: frozenset[str] = field(default_factory=frozenset)  # names of the variables that were set

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, today: date | None = None) -> "Settings":
        """The settings in `environ` (default: the process environment), or a `SettingError`
        naming the first variable no run could work with. `today` (default: the UTC date)
        bounds TAXI_FIRST_MONTH."""
        env = os.environ if environ is None else environ
        given = frozenset(name for name, value in env.items() if value.strip() and _is_ours(name))

        def get(name: str, default: str | None = None) -> str | None:
            return env[name].strip() if name in given else default

        def number(name: str, default: float, high: float, unit: str, above_low: bool = False) -> float:
            return _number(name, get(name, str(default)), 0, high, unit, above_low=above_low)

        target = get("TAXI_PIPELINE_TARGET", "local")
        if target not in TARGETS:
            raise SettingError(
                f"TAXI_PIPELINE_TARGET={target!r} is not a known target; use one of: {', '.join(TARGETS)}"
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
        today = today or datetime.now(UTC).date()
        settings = cls(
            target=target,
            warehouse=warehouse,
            source=source,
            first_month=_first_month(get("TAXI_FIRST_MONTH"), release, today),
            source_url=get("TAXI_SOURCE_URL", release.default_url),
            source_retry_delay_seconds=number(
                "TAXI_SOURCE_RETRY_DELAY", DEFAULT_SOURCE_RETRY_DELAY_SECONDS, 3600, "seconds"
            ),
            source_min_bytes=int(number("TAXI_SOURCE_MIN_BYTES", DEFAULT_SOURCE_MIN_BYTES, 1 << 30, "bytes")),
            source_rate_window_seconds=number(
                "TAXI_SOURCE_RATE_WINDOW", DEFAULT_SOURCE_RATE_WINDOW_SECONDS, 86400, "seconds", above_low=True
            ),
            duckdb_lock_wait_seconds=number(
                "TAXI_DUCKDB_LOCK_WAIT", DEFAULT_DUCKDB_LOCK_WAIT_SECONDS, 86400, "seconds"
            ),
            lake_dir=get("TAXI_LAKE_DIR", DEFAULT_LAKE_DIR),
            duckdb_path=get("TAXI_DUCKDB_PATH", DEFAULT_DUCKDB_PATH),
            gcs_bucket=get("GCS_BUCKET"),
            gcp_project=get("GCP_PROJECT"),
            bq_dataset=get("BQ_DATASET", DEFAULT_BQ_DATASET),
            bq_location=get("BQ_LOCATION"),
            row_drop=_row_drop(get),
            given=given,
        )
        settings._check(env)
        return settings

    def _check(self, env: Mapping[str, str]) -> None:
        # Resources read these through dg.EnvVar, unstripped: the value they get is the one checked.
        for name in sorted(self.given & PASSED_BY_NAME):
            if env[name] != env[name].strip():
                raise SettingError(f"{name} has spaces or line breaks around its value: remove them")
        check_source_url(self.source_url)
        if self.warehouse == "postgres" and not self.is_set("TAXI_POSTGRES_URL"):
            raise SettingError(f"TAXI_WAREHOUSE=postgres needs TAXI_POSTGRES_URL ({POSTGRES_URL_FORM})")
        if self.is_set("TAXI_POSTGRES_URL"):
            check_postgres_url(env["TAXI_POSTGRES_URL"].strip())
        if self.target == "local":
            check_writable_location("TAXI_LAKE_DIR", self.lake_dir, folder=True)
            if self.warehouse == "duckdb" and self.is_set("TAXI_DUCKDB_PATH"):
                check_writable_location("TAXI_DUCKDB_PATH", self.duckdb_path, folder=False)
            if self.warehouse == "duckdb":
                check_duckdb_file(self.duckdb_path)
        else:
            if not self.gcs_bucket:
                raise SettingError("TAXI_PIPELINE_TARGET=gcp needs GCS_BUCKET, the lake's bucket")
            if self.warehouse == "bigquery" and not self.gcp_project:
                raise SettingError("TAXI_PIPELINE_TARGET=gcp needs GCP_PROJECT, the BigQuery project")
            if self.is_set("GCP_CREDENTIALS_B64"):
                decode_service_account_key(env["GCP_CREDENTIALS_B64"])

    @property
    def release(self) -> TripRelease:
        """The source TAXI_SOURCE selects: its layout, services and months."""
        return RELEASES[self.source]

    def is_set(self, name: str) -> bool:
        """Whether the variable `name` was given (a non-blank value)."""
        return name in self.given

    def shown(self, name: str, value):
        """What a resource gets for the setting `name`: `dg.EnvVar(name)` when the variable was
        given, so the UI shows the name, not the value; otherwise the default `value`."""
        return dg.EnvVar(name) if self.is_set(name) else value

    def secret(self, name: str) -> dg.EnvVar | None:
        """`dg.EnvVar(name)` for a secret setting that was given, else None."""
        return dg.EnvVar(name) if self.is_set(name) else None


# The settings resources get as `dg.EnvVar` (the UI shows the name, not the value).
PASSED_BY_NAME = frozenset(
    {"TAXI_LAKE_DIR", "TAXI_DUCKDB_PATH", "TAXI_SOURCE_URL", "TAXI_POSTGRES_URL", "TAXI_WEBHOOK_URL"}
    | {"GCS_BUCKET", "GCP_PROJECT", "BQ_DATASET", "BQ_LOCATION"}
)
GOOGLE_SETTINGS = ("GCS_BUCKET", "GCP_PROJECT", "BQ_DATASET", "BQ_LOCATION", "GCP_CREDENTIALS_B64")


def _is_ours(name: str) -> bool:
    return name.startswith("TAXI_") or name in GOOGLE_SETTINGS
