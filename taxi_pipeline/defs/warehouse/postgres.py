"""A `trips` table in PostgreSQL, loaded from the lake parquet with COPY ... FROM STDIN.

The course's "Ingest Data" flow appends a month to Postgres with pandas `to_sql`; here each
(color, source_month) slice is replaced in one transaction: DELETE the slice, stream the lake
file's record batches through Arrow's CSV writer into `COPY trips (...) FROM STDIN (FORMAT csv)`,
check that the slice holds exactly the rows sent, COMMIT. Any failure, a kill included, rolls
the whole slice back: the previous rows stay.
"""

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from taxi_pipeline.defs.lake.files import is_local, to_local_path
from taxi_pipeline.defs.warehouse.contract import (
    LOADS_TABLE,
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    RecordedOrigin,
    SliceLoad,
    SliceMismatchError,
    SliceOrigin,
    WarehouseLockedError,
    WarehouseResource,
    WarehouseSchemaError,
    schema_error,
    type_mismatches,
)
from taxi_pipeline.lib.zones import ZONE_COLUMNS, ZoneFileError, read_zone_file
from taxi_pipeline.partitions import next_month
from taxi_pipeline.schema import CANONICAL_SCHEMA, COLORS, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import POSTGRES_URL_FORM, SettingError, check_postgres_url, redact_url, redact_urls_in

if TYPE_CHECKING:  # psycopg is imported on first use: the other targets never pay for it
    import psycopg

URL_SETTING = "TAXI_POSTGRES_URL"
CONNECT_TIMEOUT_SECONDS = 10
BATCH_ROWS = 65_536  # rows per parquet record batch, one CSV chunk each (~10 MB of CSV)
PARQUET_READ_BUFFER_BYTES = 8 << 20
# Creating a month's partition needs an ACCESS EXCLUSIVE lock on `trips`: any open transaction
# that read the table is in the way, and every later reader would queue behind the waiting DDL.
# So the DDL waits this long for its locks, a few times over, then fails naming the blocker.
DDL_LOCK_TIMEOUT_SECONDS = 5.0
DDL_LOCK_ATTEMPTS = 3
DDL_RETRY_PAUSE_SECONDS = 1.0

# Arrow quotes every string value ("needed" style) and writes a null as an empty unquoted field;
# in COPY's CSV format that field is NULL and "" the empty string, so the two stay apart.
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def trips_table_ddl(table: str = TRIPS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` for the canonical schema, range-partitioned by `source_month`.

    Partitioned rather than one table with an index on (color, source_month), measured with
    `benchmarks/postgres_design.py` on a generated 1.37 M-row yellow month (PostgreSQL 15,
    2 cores, median of 3 interleaved rounds, seconds; details in benchmarks/README.md):

        layout        first load   reload   2nd color beside   reload beside 2nd color
        partitioned        11.6      12.6        14.4                14.8
        indexed            12.0      13.6        15.5                19.3

    Each month is its own partition (created on the first load of that month), so a load
    writes no index, and the DELETE of a slice scans only its month's partition. The indexed
    table pays for its index on every COPY, and more once the table holds more slices (last
    column: +31%). A new month's partition waits for running loads (creating it locks
    `trips`), which is why it is made in its own short transaction before the load.
    """
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in sql_columns("postgres"))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}\n) PARTITION BY RANGE (source_month)"


def add_missing_columns_ddl(present: set[str], table: str = TRIPS_TABLE) -> list[str]:
    """`ALTER TABLE … ADD COLUMN IF NOT EXISTS` for each canonical column not in `present`: on
    the partitioned parent they reach every month's partition; a table made by an older release
    keeps its rows, which read null in the new columns."""
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}"
        for name, kind in sql_columns("postgres")
        if name not in present
    ]


# The table's shape and columns as the catalog has them, in one query: (schema, relkind, the
# partition key, column, its type as format_type names it), one row per column.
TABLE_CATALOG_SQL = """
SELECT c.relnamespace::regnamespace::text, c.relkind::text, pg_get_partkeydef(c.oid), a.attname::text,
       format_type(a.atttypid, a.atttypmod)
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%s)
ORDER BY a.attnum
"""
PARTITION_KEY = "RANGE (source_month)"
# format_type's names of the canonical types where SQL_TYPES uses the short one.
_CATALOG_TYPE_NAMES = {"timestamp": "timestamp without time zone"}


def canonical_catalog_columns() -> list[tuple[str, str]]:
    """The canonical columns with their types as the Postgres catalog (format_type) names them."""
    return [(name, _CATALOG_TYPE_NAMES.get(kind, kind)) for name, kind in sql_columns("postgres")]


def check_trips_shape(warehouse: str, catalog_rows: list[tuple], table: str = TRIPS_TABLE) -> list[tuple[str, str]]:
    """The (column, type) of an existing `trips` from `TABLE_CATALOG_SQL`'s rows, after checking
    that it is partitioned by range on source_month and that no column has another type than the
    canonical one; otherwise `WarehouseSchemaError` naming the warehouse, the table, what differs
    and what to do."""
    schema, kind, key = catalog_rows[0][:3]
    qualified = f"{schema}.{table}"
    if kind != "p" or key != PARTITION_KEY:
        what = f"partitioned by {key}" if kind == "p" else "not a partitioned table"
        raise WarehouseSchemaError(
            f"{warehouse}: the table {qualified} is {what}, expected PARTITION BY {PARTITION_KEY}; nothing was "
            f"loaded. Rename it (ALTER TABLE {qualified} RENAME TO {table}_old) and load again: the load creates "
            f"{table} partitioned by month; then load the old table's months again from the lake."
        )
    columns = [(name, kind) for *_, name, kind in catalog_rows if name is not None]
    if mismatches := type_mismatches(columns, canonical_catalog_columns()):
        name, _, wanted = mismatches[0]
        raise schema_error(
            warehouse,
            qualified,
            mismatches,
            f"Change the column back (ALTER TABLE {qualified} ALTER COLUMN {name} TYPE {wanted}) if its values "
            f"allow it, or rename the table (ALTER TABLE {qualified} RENAME TO {table}_old) and load again: the "
            "load creates a canonical table.",
        )
    return columns


def loads_table_ddl(table: str = LOADS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the table recording each slice's origin, one row a slice."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  color text NOT NULL,\n  source_month date NOT NULL,\n"
        "  source text,\n  sha256 text,\n  rows bigint NOT NULL,\n  loaded_at timestamptz NOT NULL,\n"
        "  PRIMARY KEY (color, source_month)\n)"
    )


def partition_name(source_month: date, table: str = TRIPS_TABLE) -> str:
    """The partition holding one month, e.g. `trips_2020_04`."""
    return f"{table}_{source_month:%Y_%m}"


def partition_ddl(source_month: date, table: str = TRIPS_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the month's partition: [first day, first day of next month)."""
    first = source_month.replace(day=1)
    after = next_month(first)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(first, table)} PARTITION OF {table} "
        f"FOR VALUES FROM ('{first.isoformat()}') TO ('{after.isoformat()}')"
    )


# What the server or libpq says when the setting itself is wrong: a retry gets the same answer.
# SQLSTATE 28000/28P01: authentication; 3D000: no such database; 42501: no privilege. libpq's
# own texts for the same, and for URL parameters it cannot use (`invalid sslmode value`, a port
# that is not a number), an sslmode the server refuses (`server does not support SSL, but SSL was
# required`) or a server certificate it does not trust.
_SETTING_SQLSTATES = frozenset({"28000", "28P01", "3D000", "42501"})
_SETTING_PHRASES = (
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "password is required",
    "no password supplied",
    "invalid ",
    "does not support ssl",
    "certificate",
)


def rows_table(names: list[str], rows: list[tuple]) -> pa.Table:
    """Rows as psycopg returns them, as an Arrow table; a column whose Python values Arrow cannot
    type (mixed JSON values, say) is held as their text."""
    columns = {}
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({})


class WarehouseUnavailableError(Exception):
    """The Postgres server could not be reached or dropped the connection (refused, reset,
    closed, restarting, timed out): it may pass, so the load is retried."""


def _redacted(text: str, url: str) -> str:
    """`text` with the URL, and the user:password part of any URL in it, replaced by `***`
    (structurally: the text is not searched for the password, which would reveal it)."""
    return redact_urls_in(text.replace(url, redact_url(url)))


def is_setting_failure(error: Exception) -> bool:
    """Whether a psycopg connection error means a wrong setting (authentication, a missing
    database or role, a missing grant, an sslmode the server refuses) rather than a server that
    is down or restarting. By the server's SQLSTATE where it sent one; else by libpq's text
    (`_SETTING_PHRASES`), the only place its text decides: libpq's own failures before a session (an
    sslmode the server does not support, a bad URL parameter, an untrusted certificate) come as
    a plain `OperationalError` with no SQLSTATE."""
    if getattr(error, "sqlstate", None) in _SETTING_SQLSTATES:
        return True
    text = str(error).lower()
    return any(phrase in text for phrase in _SETTING_PHRASES)


def _why_unavailable(reason: str) -> str:
    """A connection failure in words, from libpq's text."""
    lowered = reason.lower()
    if "connection refused" in lowered:
        return "the server refused the connection (is it running, or restarting?)"
    if "closed the connection" in lowered or "reset" in lowered or "terminat" in lowered:
        return f"the server closed the connection (restarting?): {reason}"
    return reason


def _describe(url: str) -> str:
    """user@host:port/dbname of a connection URL, no password."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    return f"{params['user']}@{where}" if params.get("user") else where


def zones_table_ddl(table: str = ZONES_TABLE) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the taxi zone table in PostgreSQL."""
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in sql_columns("postgres", ZONES_SCHEMA))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns},\n  PRIMARY KEY (location_id)\n)"


@contextmanager
def _open_parquet(lake_file: UPath) -> Iterator[pq.ParquetFile]:
    """The lake file for streaming its record batches: a local path, or gs:// through fsspec."""
    # Buffered reads without pre-buffering: with pyarrow's default the batches' column chunks
    # stayed allocated to the end of the file (the client reached 1.1 GiB at 20 M rows).
    buffering = {"buffer_size": PARQUET_READ_BUFFER_BYTES, "pre_buffer": False}
    if is_local(lake_file):
        with pq.ParquetFile(str(to_local_path(lake_file)), **buffering) as parquet:
            yield parquet
    else:
        with lake_file.open("rb") as f, pq.ParquetFile(f, **buffering) as parquet:
            yield parquet


class PostgresWarehouse(WarehouseResource):
    """A PostgreSQL database holding `trips`, range-partitioned by month on `source_month`;
    each slice is replaced with DELETE + COPY FROM STDIN in one transaction."""

    url: str = Field(
        description="postgresql://user:password@host:5432/dbname (TAXI_POSTGRES_URL); libpq URL parameters "
        "such as sslmode=require pass through"
    )
    ddl_lock_timeout_seconds: float = Field(
        default=DDL_LOCK_TIMEOUT_SECONDS,
        gt=0,
        description="Seconds the table's or a month's partition's DDL waits for its lock on trips per attempt",
    )
    ddl_lock_attempts: int = Field(
        default=DDL_LOCK_ATTEMPTS, ge=1, description="Attempts of that DDL before the load fails naming the blocker"
    )

    @contextmanager
    def _connection(self) -> Iterator["psycopg.Connection"]:
        """An autocommit connection. A URL that does not parse, refused credentials, a missing
        database or role raise SettingError naming TAXI_POSTGRES_URL; a server that refuses,
        resets or closes the connection raises WarehouseUnavailableError (retried). Neither
        shows the password."""
        import psycopg

        check_postgres_url(self.url)
        # The errors are raised after the except block, so psycopg's exception (whose text may
        # quote the connection string) is not even kept as their __context__.
        failure: Exception | None = None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.OperationalError as e:
            reason = " ".join(_redacted(str(e), self.url).split())
            if is_setting_failure(e):
                failure = SettingError(
                    f"cannot connect to the Postgres warehouse {_describe(self.url)} ({URL_SETTING}): {reason}"
                )
            else:
                failure = WarehouseUnavailableError(
                    f"cannot reach the Postgres warehouse {_describe(self.url)}: {_why_unavailable(reason)}"
                )
        except (psycopg.ProgrammingError, ValueError, TypeError):
            failure = SettingError(f"{URL_SETTING} is not a valid PostgreSQL URL; expected {POSTGRES_URL_FORM}")
        if failure is not None:
            raise failure
        with conn:
            yield conn

    def _ensure_table(
        self, conn: "psycopg.Connection", source_month: date | None = None, conform: bool = True
    ) -> list[tuple[str, str]]:
        """The table `trips` (and the month's partition, and `loads`) created where missing and,
        for a load (`conform`), checked (`check_trips_shape`) and given the columns it lacks; a
        read skips that, as a column of another type does not mislead it. Each attempt waits at
        most `ddl_lock_timeout_seconds` for its locks; after `ddl_lock_attempts` timed out,
        `WarehouseLockedError` names the sessions that held them. Returns the table's (column,
        type) as the catalog has them (none when not conformed)."""
        import psycopg

        log = dg.get_dagster_logger()
        what = f"the partition {partition_name(source_month)}" if source_month else f"the table {TRIPS_TABLE}"
        for attempt in range(1, self.ddl_lock_attempts + 1):
            watch = BlockerWatch(
                self._monitor, conn.info.backend_pid, after=min(1.0, self.ddl_lock_timeout_seconds / 2)
            )
            try:
                with watch:
                    return self._create_table(conn, source_month, conform)
            except psycopg.errors.LockNotAvailable:
                held_by = ", ".join(b.describe() for b in watch.sessions) or "a session that ended before it was named"
            if attempt < self.ddl_lock_attempts:
                log.warning(
                    f"creating {what} waited {self.ddl_lock_timeout_seconds:g} s for its lock on {TRIPS_TABLE}, held "
                    f"by {held_by}: attempt {attempt} of {self.ddl_lock_attempts}, trying again"
                )
                time.sleep(DDL_RETRY_PAUSE_SECONDS)
        pids = [b.pid for b in watch.sessions]
        terminate = f", or SELECT pg_terminate_backend({pids[0]})" if len(pids) == 1 else ""
        raise WarehouseLockedError(
            f"{_describe(self.url)}: creating {what} timed out {self.ddl_lock_attempts} times "
            f"({self.ddl_lock_timeout_seconds:g} s each) waiting for a lock on {TRIPS_TABLE} held by {held_by}; "
            "end that session's "
            f"transaction (COMMIT or ROLLBACK in that client{terminate}), then materialize warehouse_trips again"
        )

    def _monitor(self) -> "psycopg.Connection":
        """A second connection, to look at the first's lock waits."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)

    def _create_table(
        self, conn: "psycopg.Connection", source_month: date | None, conform: bool
    ) -> list[tuple[str, str]]:
        # Its own short transaction, before the load: creating a partition takes a lock on
        # `trips` that conflicts with every running load (measured: it waits for a DELETE in
        # flight), and a load transaction would hold it for its whole length. The advisory lock
        # keeps two first loads from racing on the catalog.
        import psycopg

        try:
            with conn.transaction():
                timeout_ms = round(self.ddl_lock_timeout_seconds * 1000)
                conn.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline trips ddl'))")
                conn.execute(trips_table_ddl())
                columns = []
                if conform:
                    catalog_rows = conn.execute(TABLE_CATALOG_SQL, (TRIPS_TABLE,)).fetchall()
                    columns = check_trips_shape(_describe(self.url), catalog_rows)
                    # Only the columns missing: an ALTER TABLE, even one with nothing to do, would
                    # wait for every load in flight.
                    present = {name for name, _ in columns}
                    for statement in add_missing_columns_ddl(present):
                        conn.execute(statement)
                    columns += [(name, kind) for name, kind in canonical_catalog_columns() if name not in present]
                conn.execute(loads_table_ddl())
                if source_month is not None:
                    conn.execute(partition_ddl(source_month))
        except psycopg.errors.InsufficientPrivilege as e:
            raise SettingError(
                f"the role of {URL_SETTING} may not create the table {TRIPS_TABLE} or its partitions "
                f"({e.diag.message_primary}): it needs USAGE and CREATE on the schema"
            ) from None
        return columns

    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the (color, source_month) slice with the lake file's rows, and its row of
        `loads`, in one transaction: DELETE, COPY the parquet's record batches as CSV, check the
        slice count, record the origin, COMMIT. With no `origin`, the slice's `loads` row has a
        null source and sha256."""
        if color not in COLORS:
            raise ValueError(f"unknown color {color!r}")
        with self._connection() as conn, _open_parquet(lake_file) as parquet:
            column_types = self._ensure_table(conn, source_month)
            with conn.transaction():
                slice_where = "color = %s AND source_month = %s"
                replaced = conn.execute(
                    f"DELETE FROM {TRIPS_TABLE} WHERE {slice_where}", (color, source_month)
                ).rowcount
                loaded, strays = 0, 0
                month = pa.scalar(source_month, pa.date32())
                with conn.cursor() as cursor:
                    # A lake file of an older schema version lacks the newest columns: COPY
                    # leaves them null.
                    schema = pa.schema([f for f in CANONICAL_SCHEMA if f.name in parquet.schema_arrow.names])
                    columns = ", ".join(schema.names)
                    with cursor.copy(f"COPY {TRIPS_TABLE} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=schema.names):
                            batch = batch.cast(schema)
                            in_slice = pc.and_kleene(
                                pc.equal(batch.column("color"), color),
                                pc.equal(batch.column("source_month"), month),
                            )
                            matching = pc.sum(pc.fill_null(in_slice, False).cast(pa.int64())).as_py() or 0
                            strays += batch.num_rows - matching
                            loaded += batch.num_rows
                            if strays:
                                continue  # counted to the end for the message; nothing more is sent
                            buffer = io.BytesIO()
                            pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
                            copy.write(buffer.getbuffer())
                if strays:
                    raise SliceMismatchError(
                        f"{lake_file}: {strays} of {loaded} rows are not {color} {source_month:%Y-%m}"
                    )
                slice_rows = conn.execute(
                    f"SELECT count(*) FROM {TRIPS_TABLE} WHERE {slice_where}", (color, source_month)
                ).fetchone()[0]
                if slice_rows != loaded:
                    raise SliceMismatchError(
                        f"{lake_file}: the slice {color} {source_month:%Y-%m} holds {slice_rows} rows "
                        f"after loading {loaded}"
                    )
                previous = conn.execute(
                    f"SELECT source FROM {LOADS_TABLE} WHERE {slice_where} FOR UPDATE", (color, source_month)
                ).fetchone()
                conn.execute(
                    f"INSERT INTO {LOADS_TABLE} (color, source_month, source, sha256, rows, loaded_at) "
                    "VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (color, source_month) DO UPDATE SET "
                    "source = EXCLUDED.source, sha256 = EXCLUDED.sha256, rows = EXCLUDED.rows, "
                    "loaded_at = EXCLUDED.loaded_at",
                    (color, source_month, origin and origin.source, origin and origin.sha256, slice_rows),
                )
                if origin and origin.check_still_published:
                    origin.check_still_published()
            cursor = conn.execute(
                f"SELECT * FROM {TRIPS_TABLE} WHERE {slice_where} LIMIT %s", (color, source_month, PREVIEW_ROWS)
            )
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
            catalog, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        return SliceLoad(
            f"{catalog}.{schema}.{TRIPS_TABLE}",
            loaded,
            replaced,
            slice_rows,
            column_types=tuple(column_types),
            preview=rows_table(names, rows),
            previous_source=previous[0] if previous else None,
        )

    def slice_counts(self) -> list[tuple[str, date, int]]:
        """(color, source_month, rows) for every slice in the table, in order."""
        with self._connection() as conn:
            self._ensure_table(conn, conform=False)
            return [
                tuple(row)
                for row in conn.execute(
                    f"SELECT color, source_month, count(*) FROM {TRIPS_TABLE} GROUP BY 1, 2 ORDER BY 1, 2"
                ).fetchall()
            ]

    def slice_origins(self) -> dict[tuple[str, date], RecordedOrigin]:
        """{(color, source_month): (source, sha256, loaded_at)} of every slice `loads` records."""
        with self._connection() as conn:
            self._ensure_table(conn, conform=False)
            rows = conn.execute(f"SELECT color, source_month, source, sha256, loaded_at FROM {LOADS_TABLE}").fetchall()
        return {(color, month): RecordedOrigin(source, sha, at) for color, month, source, sha, at in rows}

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table with the lake's zone file in one transaction: the file
        is checked first, then LOCK, DELETE, COPY the file's bytes FROM STDIN, count, COMMIT.

        The lock (SHARE ROW EXCLUSIVE: readers go on, a second replace waits) keeps two loads at
        once from each deleting only the rows it saw and leaving both copies behind.
        """
        zones = read_zone_file(csv_file)
        columns = ", ".join(ZONE_COLUMNS)
        with self._connection() as conn:
            self._ensure_zones_table(conn)
            with conn.transaction():
                conn.execute(f"LOCK TABLE {ZONES_TABLE} IN SHARE ROW EXCLUSIVE MODE")
                conn.execute(f"DELETE FROM {ZONES_TABLE}")
                with conn.cursor() as cursor, csv_file.open("rb") as f:
                    copy_sql = f"COPY {ZONES_TABLE} ({columns}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')"
                    with cursor.copy(copy_sql) as copy:
                        copy.write(f.read())
                loaded = conn.execute(f"SELECT count(*) FROM {ZONES_TABLE}").fetchone()[0]
                if loaded != len(zones.rows):
                    raise ZoneFileError(f"{csv_file}: Postgres read {loaded} zones, the file holds {len(zones.rows)}")
        return loaded

    def _ensure_zones_table(self, conn: "psycopg.Connection") -> None:
        import psycopg

        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline zones ddl'))")
                conn.execute(zones_table_ddl())
        except psycopg.errors.InsufficientPrivilege as e:
            raise SettingError(
                f"the role of {URL_SETTING} may not create the table {ZONES_TABLE} ({e.diag.message_primary}): "
                "it needs USAGE and CREATE on the schema"
            ) from None


BLOCKERS_SQL = (
    "SELECT pid, application_name, state, xact_start, query_start FROM pg_stat_activity "
    "WHERE pid = ANY(pg_blocking_pids(%s)) ORDER BY pid"
)


@dataclass(frozen=True)
class BlockingSession:
    """A session holding a lock another one waits for, as pg_stat_activity shows it."""

    pid: int
    application_name: str | None
    state: str | None
    transaction_start: datetime | None
    query_start: datetime | None

    def describe(self) -> str:
        """`PID 4242 (application_name 'psql', idle in transaction, transaction open since
        2026-12-02 02:11:05 UTC)`: what the user needs to find the session, no query text."""
        parts = [f"application_name {self.application_name!r}" if self.application_name else "no application_name"]
        parts.append(self.state or "state not visible to this role")
        if self.transaction_start:
            parts.append(f"transaction open since {self.transaction_start:%Y-%m-%d %H:%M:%S %Z}".rstrip())
        if self.query_start:
            parts.append(f"last query started {self.query_start:%Y-%m-%d %H:%M:%S %Z}".rstrip())
        return f"PID {self.pid} ({', '.join(parts)})"


class BlockerWatch:
    """While a statement runs on the session `waiter_pid`, names who blocks it: after `after`
    seconds a timer opens its own connection (`connect()`) and reads `pg_blocking_pids`. Use it
    as a context manager around the statement; `sessions` holds what the timer found (empty if
    the statement ended first or nothing blocked it)."""

    def __init__(self, connect, waiter_pid: int, after: float):
        self._connect = connect
        self._waiter_pid = waiter_pid
        self._timer = threading.Timer(after, self._look)
        self._timer.daemon = True
        self.sessions: list[BlockingSession] = []

    def _look(self) -> None:
        try:
            with self._connect() as conn:
                rows = conn.execute(BLOCKERS_SQL, (self._waiter_pid,)).fetchall()
        except Exception:  # naming the blocker is a courtesy; the lock timeout still ends the wait
            return
        self.sessions = [BlockingSession(*row) for row in rows]

    def __enter__(self) -> "BlockerWatch":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        self._timer.join()
