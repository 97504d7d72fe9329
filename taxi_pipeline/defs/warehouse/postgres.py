"""A `trips` table in PostgreSQL, range-partitioned by month, each (color, source_month) slice
replaced in one transaction: DELETE the slice, stream the lake file's record batches as CSV into
`COPY trips (...) FROM STDIN`, check the slice's count, record its origin, COMMIT. Any failure,
a kill included, leaves the previous rows."""

import io
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
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
    LOADS_COLUMNS,
    LOADS_TABLE,
    PREVIEW_ROWS,
    TRIPS_TABLE,
    ZONES_TABLE,
    SliceLoad,
    SliceOrigin,
    WarehouseResource,
    check_still_published,
    create_table_sql,
    missing_columns,
    slice_mismatch,
)
from taxi_pipeline.errors import PermanentError, SettingError, TransientError
from taxi_pipeline.lib.zones import ZONE_COLUMNS, ZoneFileError, read_zone_file
from taxi_pipeline.partitions import next_month
from taxi_pipeline.schema import CANONICAL_SCHEMA, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import POSTGRES_URL_FORM, redact_url, redact_urls_in

if TYPE_CHECKING:  # psycopg is imported on first use: the other targets never pay for it
    import psycopg

URL_SETTING = "TAXI_POSTGRES_URL"
CONNECT_TIMEOUT_SECONDS = 10
BATCH_ROWS = 65_536  # rows per parquet record batch, one CSV chunk each (~10 MB of CSV)
PARQUET_READ_BUFFER_BYTES = 8 << 20
# Creating a month's partition locks `trips` (ACCESS EXCLUSIVE): any open transaction that read it
# is in the way, and later readers queue behind the waiting DDL. So the DDL waits this long for
# its locks, a few times over, then fails naming the blocker.
DDL_LOCK_TIMEOUT_SECONDS = 5.0
DDL_LOCK_ATTEMPTS = 3
DDL_RETRY_PAUSE_SECONDS = 1.0
PARTITION_KEY = "RANGE (source_month)"
# Arrow quotes every string and writes a null as an empty unquoted field: COPY's NULL, not "".
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
# The table's shape and columns as the catalog has them: (schema, relkind, partition key, column,
# its type as format_type names it), one row per column.
TABLE_CATALOG_SQL = """
SELECT c.relnamespace::regnamespace::text, c.relkind::text, pg_get_partkeydef(c.oid), a.attname::text,
       format_type(a.atttypid, a.atttypmod)
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%s)
ORDER BY a.attnum
"""
# The other sessions holding a lock on a table: those in the way of its DDL.
HOLDERS_SQL = (
    "SELECT pid, application_name, state, xact_start, query_start FROM pg_stat_activity WHERE pid IN "
    "(SELECT pid FROM pg_locks WHERE relation = to_regclass(%s) AND granted) AND pid <> pg_backend_pid() ORDER BY pid"
)
# A wrong setting: the server's SQLSTATE where it sent one (authentication, no such database, no
# privilege), else libpq's own words (read by `connect_failure` only).
_SETTING_SQLSTATES = frozenset({"28000", "28P01", "3D000", "42501"})
_SETTING_TEXT = re.compile(
    "authentication failed|no pg_hba.conf entry|does not exist|permission denied|password is required|"
    "no password supplied|invalid |does not support ssl|certificate"
)


def trips_table_ddl() -> str:
    """`CREATE TABLE` of the canonical `trips`, range-partitioned by `source_month`."""
    return f"{create_table_sql(TRIPS_TABLE, sql_columns('postgres'))} PARTITION BY {PARTITION_KEY}"


def conform_trips(warehouse: str, catalog_rows: list[tuple]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the columns of an existing `trips`, the canonical ones it lacks) from `TABLE_CATALOG_SQL`'s
    rows, once it is known to be range-partitioned on source_month with no column of another
    type; else `PermanentError` naming what differs and what to do."""
    schema, kind, key = catalog_rows[0][:3]
    qualified = f"{schema}.{TRIPS_TABLE}"
    if kind != "p" or key != PARTITION_KEY:
        what = f"partitioned by {key}" if kind == "p" else "not a partitioned table"
        raise PermanentError(
            f"{warehouse}: the table {qualified} is {what}, expected PARTITION BY {PARTITION_KEY}; nothing was "
            f"loaded. Rename it (ALTER TABLE {qualified} RENAME TO {TRIPS_TABLE}_old) and load again: the load "
            f"creates {TRIPS_TABLE} partitioned by month; then load the old table's months again from the lake."
        )
    columns = [(name, kind) for *_, name, kind in catalog_rows if name is not None]
    # The canonical types as format_type names them.
    canonical = [(n, "timestamp without time zone" if k == "timestamp" else k) for n, k in sql_columns("postgres")]
    return columns, missing_columns(warehouse, qualified, columns, canonical)


def partition_name(source_month: date) -> str:
    """The partition holding one month, e.g. `trips_2020_04`."""
    return f"{TRIPS_TABLE}_{source_month:%Y_%m}"


def partition_ddl(source_month: date) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the month's partition: [first day, first day of next month)."""
    first = source_month.replace(day=1)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(first)} PARTITION OF {TRIPS_TABLE} "
        f"FOR VALUES FROM ('{first.isoformat()}') TO ('{next_month(first).isoformat()}')"
    )


def _redacted(text: str, url: str) -> str:
    """`text` with the URL, and the user:password part of any URL in it, replaced by `***`."""
    return redact_urls_in(text.replace(url, redact_url(url)))


def _describe(url: str) -> str:
    """user@host:port/dbname of a connection URL, no password."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    return f"{params['user']}@{where}" if params.get("user") else where


def connect_failure(error: "psycopg.OperationalError", url: str) -> SettingError | TransientError:
    """The error for a failed connect, without the password: a wrong TAXI_POSTGRES_URL
    (authentication, a missing database or role or grant, an sslmode or certificate libpq
    refuses) or a server that is down or restarting, which a retry may outlast. Where the server
    sent no SQLSTATE this reads libpq's text, as psycopg 3.3.9 with its bundled libpq 18 words it."""
    reason = " ".join(_redacted(str(error), url).split())
    text = reason.lower()
    if error.sqlstate in _SETTING_SQLSTATES or _SETTING_TEXT.search(text):
        return SettingError(f"cannot connect to the Postgres warehouse {_describe(url)} ({URL_SETTING}): {reason}")
    if "connection refused" in text:
        reason = "the server refused the connection (is it running, or restarting?)"
    elif "closed the connection" in text or "reset" in text or "terminat" in text:
        reason = f"the server closed the connection (restarting?): {reason}"
    return TransientError(f"cannot reach the Postgres warehouse {_describe(url)}: {reason}")


@contextmanager
def _creating(what: str) -> Iterator[None]:
    """Around DDL: a role without the grant to create `what` is a wrong setting."""
    import psycopg

    try:
        yield
    except psycopg.errors.InsufficientPrivilege as e:
        raise SettingError(
            f"the role of {URL_SETTING} may not create {what} ({e.diag.message_primary}): "
            "it needs USAGE and CREATE on the schema"
        ) from None


def rows_table(names: list[str], rows: list[tuple]) -> pa.Table:
    """Rows as psycopg returns them as an Arrow table; a column whose Python values Arrow cannot
    type (mixed JSON values, say) is held as text."""
    columns = {}
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns)


@contextmanager
def _open_parquet(lake_file: UPath) -> Iterator[pq.ParquetFile]:
    """The lake file (local, or gs:// through fsspec) for streaming its record batches. No
    pre-buffering: it kept every batch's column chunks allocated to the end of the file."""
    with ExitStack() as stack:
        source = str(to_local_path(lake_file)) if is_local(lake_file) else stack.enter_context(lake_file.open("rb"))
        yield stack.enter_context(pq.ParquetFile(source, buffer_size=PARQUET_READ_BUFFER_BYTES, pre_buffer=False))


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

    def _connect(self) -> "psycopg.Connection":
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)

    @contextmanager
    def _connection(self) -> Iterator["psycopg.Connection"]:
        """An autocommit connection; a failure to connect raises `connect_failure`'s error, or a
        SettingError for a URL libpq cannot read. Raised outside the except block, so psycopg's
        exception, whose text may quote the URL, is not kept as their __context__."""
        import psycopg

        failure: Exception | None = None
        try:
            conn = self._connect()
        except psycopg.OperationalError as e:
            failure = connect_failure(e, self.url)
        except (psycopg.ProgrammingError, ValueError, TypeError):
            failure = SettingError(f"{URL_SETTING} is not a valid PostgreSQL URL; expected {POSTGRES_URL_FORM}")
        if failure is not None:
            raise failure
        with conn:
            yield conn

    def _ensure_table(
        self, conn: "psycopg.Connection", source_month: date | None = None, conform: bool = True
    ) -> list[tuple[str, str]]:
        """`trips` (and the month's partition, and `loads`) created where missing and, for a load,
        checked and given the columns it lacks; returns its (column, type), none when not
        conformed. Each attempt waits `ddl_lock_timeout_seconds` for its locks; after
        `ddl_lock_attempts`, `PermanentError` names the sessions that held them."""
        import psycopg

        what = f"the partition {partition_name(source_month)}" if source_month else f"the table {TRIPS_TABLE}"
        for attempt in range(1, self.ddl_lock_attempts + 1):
            try:
                return self._create_table(conn, source_month, conform)
            except psycopg.errors.LockNotAvailable:
                holders = conn.execute(HOLDERS_SQL, (TRIPS_TABLE,)).fetchall()
                held_by = (
                    ", ".join(describe_session(*row) for row in holders) or "a session that ended before it was named"
                )
            if attempt < self.ddl_lock_attempts:
                dg.get_dagster_logger().warning(
                    f"creating {what} waited {self.ddl_lock_timeout_seconds:g} s for its lock on {TRIPS_TABLE}, held "
                    f"by {held_by}: attempt {attempt} of {self.ddl_lock_attempts}, trying again"
                )
                time.sleep(DDL_RETRY_PAUSE_SECONDS)
        terminate = f", or SELECT pg_terminate_backend({holders[0][0]})" if len(holders) == 1 else ""
        raise PermanentError(
            f"{_describe(self.url)}: creating {what} timed out {self.ddl_lock_attempts} times "
            f"({self.ddl_lock_timeout_seconds:g} s each) waiting for a lock on {TRIPS_TABLE} held by {held_by}; "
            f"end that session's transaction (COMMIT or ROLLBACK in that client{terminate}), then materialize "
            "warehouse_trips again"
        )

    def _create_table(self, conn: "psycopg.Connection", source_month: date | None, conform: bool):
        # Its own short transaction before the load's: the partition's lock conflicts with every
        # running load, and a load would hold it to its end. The advisory lock keeps two first
        # loads from racing on the catalog.
        with _creating(f"the table {TRIPS_TABLE} or its partitions"), conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {round(self.ddl_lock_timeout_seconds * 1000)}")
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline trips ddl'))")
            conn.execute(trips_table_ddl())
            columns, missing = [], []
            if conform:
                catalog_rows = conn.execute(TABLE_CATALOG_SQL, (TRIPS_TABLE,)).fetchall()
                columns, missing = conform_trips(_describe(self.url), catalog_rows)
            # Only the missing columns: even an ALTER TABLE with nothing to do waits for every load.
            for name, kind in missing:
                conn.execute(f"ALTER TABLE {TRIPS_TABLE} ADD COLUMN IF NOT EXISTS {name} {kind}")
            conn.execute(create_table_sql(LOADS_TABLE, LOADS_COLUMNS, key="color, source_month"))
            if source_month is not None:
                conn.execute(partition_ddl(source_month))
        return columns + missing

    def load_slice(
        self, lake_file: UPath, color: str, source_month: date, origin: SliceOrigin | None = None
    ) -> SliceLoad:
        """Replace the slice and its row of `loads` in one transaction: DELETE, COPY the parquet's
        record batches as CSV, check the slice count, record the origin, COMMIT."""
        where, key = "color = %s AND source_month = %s", (color, source_month)
        with self._connection() as conn, _open_parquet(lake_file) as parquet:
            column_types = self._ensure_table(conn, source_month)
            with conn.transaction():
                replaced = conn.execute(f"DELETE FROM {TRIPS_TABLE} WHERE {where}", key).rowcount
                loaded, strays = 0, 0
                month = pa.scalar(source_month, pa.date32())
                # A lake file of an older schema version lacks the newest columns: COPY leaves them null.
                schema = pa.schema([f for f in CANONICAL_SCHEMA if f.name in parquet.schema_arrow.names])
                copy_sql = f"COPY {TRIPS_TABLE} ({', '.join(schema.names)}) FROM STDIN (FORMAT csv)"
                with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=schema.names):
                        batch = batch.cast(schema)
                        in_slice = pc.and_(pc.equal(batch["color"], color), pc.equal(batch["source_month"], month))
                        strays += batch.num_rows - pc.sum(pc.fill_null(in_slice, False)).as_py()
                        loaded += batch.num_rows
                        if strays:
                            continue  # counted to the end for the message; nothing more is sent
                        buffer = io.BytesIO()
                        pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
                        copy.write(buffer.getbuffer())
                if strays:
                    raise slice_mismatch(lake_file, strays, loaded, color, source_month)
                slice_rows = conn.execute(f"SELECT count(*) FROM {TRIPS_TABLE} WHERE {where}", key).fetchone()[0]
                if slice_rows != loaded:
                    raise PermanentError(
                        f"{lake_file}: the slice {color} {source_month:%Y-%m} holds {slice_rows} rows "
                        f"after loading {loaded}"
                    )
                previous = conn.execute(f"SELECT source FROM {LOADS_TABLE} WHERE {where} FOR UPDATE", key).fetchone()
                conn.execute(
                    f"INSERT INTO {LOADS_TABLE} (color, source_month, source, sha256, rows, loaded_at) "
                    "VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (color, source_month) DO UPDATE SET "
                    "source = EXCLUDED.source, sha256 = EXCLUDED.sha256, rows = EXCLUDED.rows, "
                    "loaded_at = EXCLUDED.loaded_at",
                    (*key, origin and origin.source, origin and origin.sha256, slice_rows),
                )
                check_still_published(origin)
            cursor = conn.execute(f"SELECT * FROM {TRIPS_TABLE} WHERE {where} LIMIT {PREVIEW_ROWS}", key)
            preview = rows_table([column.name for column in cursor.description], cursor.fetchall())
            catalog, schema_name = conn.execute("SELECT current_database(), current_schema()").fetchone()
        return SliceLoad(
            f"{catalog}.{schema_name}.{TRIPS_TABLE}",
            loaded,
            replaced,
            slice_rows,
            column_types=tuple(column_types),
            preview=preview,
            previous_source=previous[0] if previous else None,
        )

    def _read(self, sql: str) -> list[tuple]:
        with self._connection() as conn:
            self._ensure_table(conn, conform=False)
            return [tuple(row) for row in conn.execute(sql.format(trips=TRIPS_TABLE, loads=LOADS_TABLE)).fetchall()]

    def replace_zones(self, csv_file: UPath) -> int:
        """Replace the whole `zones` table in one transaction from the checked zone file: LOCK
        (SHARE ROW EXCLUSIVE: readers go on, a second replace waits, so two never leave both
        copies), DELETE, COPY the file's bytes, count, COMMIT."""
        zones = read_zone_file(csv_file)
        with self._connection() as conn:
            with _creating(f"the table {ZONES_TABLE}"), conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline zones ddl'))")
                conn.execute(create_table_sql(ZONES_TABLE, sql_columns("postgres", ZONES_SCHEMA), key="location_id"))
            with conn.transaction():
                conn.execute(f"LOCK TABLE {ZONES_TABLE} IN SHARE ROW EXCLUSIVE MODE")
                conn.execute(f"DELETE FROM {ZONES_TABLE}")
                options = "FORMAT csv, HEADER true, ENCODING 'UTF8'"
                copy_sql = f"COPY {ZONES_TABLE} ({', '.join(ZONE_COLUMNS)}) FROM STDIN ({options})"
                with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, csv_file.open("rb") as f:
                    copy.write(f.read())
                loaded = conn.execute(f"SELECT count(*) FROM {ZONES_TABLE}").fetchone()[0]
                if loaded != len(zones.rows):
                    raise ZoneFileError(f"{csv_file}: Postgres read {loaded} zones, the file holds {len(zones.rows)}")
        return loaded


def describe_session(pid: int, application: str | None, state: str | None, started, last_query) -> str:
    """A session as pg_stat_activity shows it, e.g. `PID 4242 (application_name 'psql', idle in
    transaction, transaction open since 2026-12-02 02:11:05 UTC)`: what finds it, no query text."""
    parts = [f"application_name {application!r}" if application else "no application_name"]
    parts.append(state or "state not visible to this role")
    if started:
        parts.append(f"transaction open since {started:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    if last_query:
        parts.append(f"last query started {last_query:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    return f"PID {pid} ({', '.join(parts)})"
