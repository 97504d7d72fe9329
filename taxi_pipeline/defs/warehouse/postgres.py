"""A `trips` table in PostgreSQL, range-partitioned by month on `source_month`; each slice is
replaced in one transaction, the lake file's record batches streamed as CSV into `COPY FROM STDIN`."""

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field

from taxi_pipeline.defs.warehouse.contract import (
    LOADS_COLUMNS,
    LOADS_TABLE,
    TRIPS_TABLE,
    ZONES_TABLE,
    SqlWarehouse,
    create_table_sql,
    missing_columns,
)
from taxi_pipeline.errors import PermanentError, SettingError, TransientError
from taxi_pipeline.lib.zones import ZONE_COLUMNS
from taxi_pipeline.partitions import next_month
from taxi_pipeline.schema import CANONICAL_SCHEMA, ZONES_SCHEMA, sql_columns
from taxi_pipeline.settings import POSTGRES_URL_FORM, redact_url, redact_urls_in

if TYPE_CHECKING:  # psycopg is imported on first use: the other targets never pay for it
    import psycopg

URL_SETTING = "TAXI_POSTGRES_URL"
CONNECT_TIMEOUT_SECONDS = 10
BATCH_ROWS = 65_536  # rows per parquet record batch, one CSV chunk each (~10 MB of CSV)
PARQUET_READ_BUFFER_BYTES = 8 << 20
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
    "SELECT pid, application_name, state, xact_start FROM pg_stat_activity WHERE pid IN "
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
    rows; `PermanentError` for a table not range-partitioned on source_month."""
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


def connect_failure(error: Exception, url: str) -> SettingError | TransientError:
    """The error for a failed connect, without the password: a wrong TAXI_POSTGRES_URL or a server
    down or restarting. Without a SQLSTATE it reads libpq's text as psycopg 3.3.9 (libpq 18) words it."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return SettingError(f"{URL_SETTING} is not a valid PostgreSQL URL; expected {POSTGRES_URL_FORM}")
    reason = " ".join(_redacted(str(error), url).split())
    text = reason.lower()
    if error.sqlstate in _SETTING_SQLSTATES or _SETTING_TEXT.search(text):
        return SettingError(f"cannot connect to the Postgres warehouse {_describe(url)} ({URL_SETTING}): {reason}")
    if "connection refused" in text:
        reason = "the server refused the connection (is it running, or restarting?)"
    elif "closed the connection" in text or "reset" in text or "terminat" in text:
        reason = f"the server closed the connection (restarting?): {reason}"
    return TransientError(f"cannot reach the Postgres warehouse {_describe(url)}: {reason}")


def describe_session(pid: int, application: str | None, state: str | None, started) -> str:
    """A session as pg_stat_activity shows it, no query text: `PID 4242 (application_name 'psql',
    idle in transaction, transaction open since 2026-12-02 02:11:05 UTC)`."""
    since = f", transaction open since {started:%Y-%m-%d %H:%M:%S %Z}".rstrip() if started else ""
    return f"PID {pid} (application_name {application or ''!r}, {state or 'state not visible to this role'}{since})"


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
    """Rows as psycopg returns them as an Arrow table; a column Arrow cannot type is held as text."""
    columns = {}
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns)


class PostgresWarehouse(SqlWarehouse):
    """A PostgreSQL database holding `trips`, range-partitioned by month on `source_month`;
    each slice is replaced with DELETE + COPY FROM STDIN in one transaction."""

    url: str = Field(
        description="postgresql://user:password@host:5432/dbname (TAXI_POSTGRES_URL); libpq URL parameters "
        "such as sslmode=require pass through"
    )
    # Creating a month's partition locks `trips` (ACCESS EXCLUSIVE): any open transaction that read
    # it is in the way, and later readers queue behind the waiting DDL.
    ddl_lock_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Seconds the DDL of trips or a month's partition waits for its lock per attempt"
    )
    ddl_lock_attempts: int = Field(
        default=3, ge=1, description="Attempts of that DDL before the load fails naming the blocker"
    )
    _param, _product = "%s", "Postgres"

    @contextmanager
    def _connection(self) -> Iterator["psycopg.Connection"]:
        """An autocommit connection, or `connect_failure`'s error, raised outside the except block
        so that psycopg's exception, whose text may quote the URL, is not its __context__."""
        import psycopg

        failure = None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except (psycopg.OperationalError, psycopg.ProgrammingError, ValueError, TypeError) as e:
            failure = connect_failure(e, self.url)
        if failure is not None:
            raise failure
        with conn:
            yield conn

    def _transaction(self, conn):
        return conn.transaction()

    def _prepare(self, conn, source_month=None, conform=True) -> list[tuple[str, str]]:
        """As `_create_table`, each attempt waiting `ddl_lock_timeout_seconds` for its locks; after
        `ddl_lock_attempts`, `PermanentError` names the sessions that held them."""
        import psycopg

        what = f"the partition {partition_name(source_month)}" if source_month else f"the table {TRIPS_TABLE}"
        for attempt in range(1, self.ddl_lock_attempts + 1):
            try:
                return self._create_table(conn, source_month, conform)
            except psycopg.errors.LockNotAvailable:
                holders = conn.execute(HOLDERS_SQL, (TRIPS_TABLE,)).fetchall()
            held_by = ", ".join(describe_session(*row) for row in holders) or "a session that ended before it was named"
            if attempt < self.ddl_lock_attempts:
                dg.get_dagster_logger().warning(
                    f"creating {what} waited {self.ddl_lock_timeout_seconds:g} s for its lock on {TRIPS_TABLE}, held "
                    f"by {held_by}: attempt {attempt} of {self.ddl_lock_attempts}, trying again"
                )
        terminate = f", or SELECT pg_terminate_backend({holders[0][0]})" if len(holders) == 1 else ""
        raise PermanentError(
            f"{_describe(self.url)}: creating {what} timed out {self.ddl_lock_attempts} times "
            f"({self.ddl_lock_timeout_seconds:g} s each) waiting for a lock on {TRIPS_TABLE} held by {held_by}; "
            f"end that session's transaction (COMMIT or ROLLBACK in that client{terminate}), then materialize "
            "warehouse_trips again"
        )

    def _create_table(self, conn: "psycopg.Connection", source_month=None, conform=True) -> list[tuple[str, str]]:
        """`trips`, `loads` and the month's partition created where missing, in a short transaction
        of their own (the partition's lock conflicts with every running load); see `_prepare`."""
        # The advisory lock keeps two first loads from racing on the catalog.
        with _creating(f"the table {TRIPS_TABLE} or its partitions"), conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {round(self.ddl_lock_timeout_seconds * 1000)}")
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline trips ddl'))")
            conn.execute(trips_table_ddl())
            columns, missing = [], []
            if conform:
                columns, missing = conform_trips(
                    _describe(self.url), conn.execute(TABLE_CATALOG_SQL, (TRIPS_TABLE,)).fetchall()
                )
            # Only the missing columns: even an ALTER TABLE with nothing to do waits for every load.
            for name, kind in missing:
                conn.execute(f"ALTER TABLE {TRIPS_TABLE} ADD COLUMN IF NOT EXISTS {name} {kind}")
            conn.execute(create_table_sql(LOADS_TABLE, LOADS_COLUMNS, key="color, source_month"))
            if source_month is not None:
                conn.execute(partition_ddl(source_month))
        return columns + missing

    def _replace_rows(self, conn, lake_file, color, source_month) -> tuple[int, int, int]:
        """The lake file's record batches COPied as CSV; a batch holding rows of another slice is
        counted, not sent (the partition would refuse it)."""
        replaced = conn.execute(
            f"DELETE FROM {TRIPS_TABLE} WHERE color = %s AND source_month = %s", (color, source_month)
        ).rowcount
        loaded, strays, month = 0, 0, pa.scalar(source_month, pa.date32())
        # No pre-buffering: it kept every batch's column chunks allocated to the end of the file.
        options = {"buffer_size": PARQUET_READ_BUFFER_BYTES, "pre_buffer": False}
        with lake_file.open("rb") as file, pq.ParquetFile(file, **options) as parquet, conn.cursor() as cursor:
            # A lake file of an older schema version lacks the newest columns: COPY leaves them null.
            schema = pa.schema([f for f in CANONICAL_SCHEMA if f.name in parquet.schema_arrow.names])
            with cursor.copy(f"COPY {TRIPS_TABLE} ({', '.join(schema.names)}) FROM STDIN (FORMAT csv)") as copy:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=schema.names):
                    batch = batch.cast(schema)
                    in_slice = pc.and_(pc.equal(batch["color"], color), pc.equal(batch["source_month"], month))
                    strays += batch.num_rows - pc.sum(pc.fill_null(in_slice, False)).as_py()
                    loaded += batch.num_rows
                    if not strays:  # else counted to the end for the message, and nothing more sent
                        buffer = io.BytesIO()
                        pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
                        copy.write(buffer.getbuffer())
        return replaced, loaded, strays

    def _arrow(self, cursor) -> pa.Table:
        return rows_table([column.name for column in cursor.description], cursor.fetchall())

    def _fill_zones(self, conn, csv_file) -> int:
        """The file's bytes COPied; the advisory lock makes a second replacement wait for the first
        (readers go on), so that two never leave both copies."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline zones'))")
        with _creating(f"the table {ZONES_TABLE}"):
            conn.execute(create_table_sql(ZONES_TABLE, sql_columns("postgres", ZONES_SCHEMA), key="location_id"))
        conn.execute(f"DELETE FROM {ZONES_TABLE}")
        copy_sql = (
            f"COPY {ZONES_TABLE} ({', '.join(ZONE_COLUMNS)}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        )
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, csv_file.open("rb") as f:
            copy.write(f.read())
        return conn.execute(f"SELECT count(*) FROM {ZONES_TABLE}").fetchone()[0]
