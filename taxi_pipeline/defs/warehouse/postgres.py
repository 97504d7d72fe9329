"""A `trips` table in PostgreSQL, range-partitioned by month on `source_month`; each slice is
replaced in one transaction, the lake file's record batches streamed as CSV into `COPY FROM STDIN`."""

import io
import re
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
BATCH_ROWS = 65_536  # rows per parquet record batch, one CSV chunk each (~10 MB of CSV)
PARTITION_KEY = "RANGE (source_month)"
# Arrow quotes every string and writes a null as an empty unquoted field: COPY's NULL, not "".
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
# The table's shape and columns as the catalog has them: (schema, relkind, partition key, column,
# its type as format_type names it), one row per column.
TABLE_CATALOG_SQL = (
    "SELECT c.relnamespace::regnamespace::text, c.relkind::text, pg_get_partkeydef(c.oid), a.attname::text, "
    "format_type(a.atttypid, a.atttypmod) FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid "
    "AND a.attnum > 0 AND NOT a.attisdropped WHERE c.oid = to_regclass(%s) ORDER BY a.attnum"
)
# The other sessions holding a lock on a table: those in the way of its DDL.
HOLDERS_SQL = (
    "SELECT pid, application_name, state, xact_start FROM pg_stat_activity WHERE pid IN "
    "(SELECT pid FROM pg_locks WHERE relation = to_regclass(%s) AND granted) AND pid <> pg_backend_pid() ORDER BY pid"
)
# A wrong setting: the server's SQLSTATE where it sent one (authentication, no such database, no
# privilege), else libpq's own words (read by `connect_failure` only).
_SETTING_TEXT = re.compile(
    "authentication failed|no pg_hba.conf entry|does not exist|permission denied|password is required|"
    "no password supplied|invalid |does not support ssl|certificate"
)


def conform_trips(conn: "psycopg.Connection", warehouse: str) -> list[tuple[str, str]]:
    """The columns of `trips`, the canonical ones it lacked added; `PermanentError` for a table not
    range-partitioned on source_month or with a column of another type."""
    catalog_rows = conn.execute(TABLE_CATALOG_SQL, ("trips",)).fetchall()
    schema, kind, key = catalog_rows[0][:3]
    qualified = f"{schema}.trips"
    if kind != "p" or key != PARTITION_KEY:
        what = f"partitioned by {key}" if kind == "p" else "not a partitioned table"
        raise PermanentError(
            f"{warehouse}: the table {qualified} is {what}, expected PARTITION BY {PARTITION_KEY}; nothing was "
            f"loaded. Rename it (ALTER TABLE {qualified} RENAME TO trips_old) and load again: the load "
            f"creates trips partitioned by month; then load the old table's months again from the lake."
        )
    columns = [(name, kind) for *_, name, kind in catalog_rows if name is not None]
    # The canonical types as format_type names them.
    canonical = [(n, "timestamp without time zone" if k == "timestamp" else k) for n, k in sql_columns("postgres")]
    missing = missing_columns(warehouse, qualified, columns, canonical)
    # Only the missing columns: even an ALTER TABLE with nothing to do waits for every load.
    for name, kind in missing:
        conn.execute(f"ALTER TABLE trips ADD COLUMN IF NOT EXISTS {name} {kind}")
    return columns + missing


def partition_name(source_month: date) -> str:
    """The partition holding one month, e.g. `trips_2020_04`."""
    return f"trips_{source_month:%Y_%m}"


def partition_ddl(source_month: date) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the month's partition: [first day, first day of next month)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(source_month)} PARTITION OF trips "
        f"FOR VALUES FROM ('{source_month.isoformat()}') TO ('{next_month(source_month).isoformat()}')"
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
    if error.sqlstate in {"28000", "28P01", "3D000", "42501"} or _SETTING_TEXT.search(text):
        return SettingError(f"cannot connect to the Postgres warehouse {_describe(url)} ({URL_SETTING}): {reason}")
    if "connection refused" in text:
        reason = "the server refused the connection (is it running, or restarting?)"
    return TransientError(f"cannot reach the Postgres warehouse {_describe(url)}: {reason}")


def describe_session(pid: int, application: str | None, state: str | None, started) -> str:
    """A session as pg_stat_activity shows it, no query text: `PID 4242 (application_name 'psql',
    idle in transaction, transaction open since 2026-12-02 02:11:05 UTC)`."""
    since = f", transaction open since {started:%Y-%m-%d %H:%M:%S %Z}".rstrip() if started else ""
    return f"PID {pid} (application_name {application or ''!r}, {state or 'state not visible to this role'}{since})"


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
    _param = "%s"

    def _connection(self) -> "psycopg.Connection":
        """An autocommit connection, or `connect_failure`'s error, raised outside the except block
        so that psycopg's exception, whose text may quote the URL, is not its __context__."""
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except (psycopg.OperationalError, psycopg.ProgrammingError, ValueError, TypeError) as e:
            failure = connect_failure(e, self.url)
        raise failure

    def _transaction(self, conn):
        return conn.transaction()

    def _prepare(self, conn, source_month=None, conform=True) -> list[tuple[str, str]]:
        """`trips`, `loads` and the month's partition created where missing, in a short transaction of their own
        (the partition's lock conflicts with every running load), each attempt waiting `ddl_lock_timeout_seconds`
        for its locks; after `ddl_lock_attempts`, `PermanentError` names the sessions that held them."""
        import psycopg

        what = f"the partition {partition_name(source_month)}" if source_month else "the table trips"
        trips_ddl = f"{create_table_sql('trips', sql_columns('postgres'))} PARTITION BY {PARTITION_KEY}"
        for attempt in range(1, self.ddl_lock_attempts + 1):
            try:
                # The advisory lock keeps two first loads from racing on the catalog.
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = {round(self.ddl_lock_timeout_seconds * 1000)}")
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline trips ddl'))")
                    conn.execute(trips_ddl)
                    columns = conform_trips(conn, _describe(self.url)) if conform else []
                    conn.execute(create_table_sql("loads", LOADS_COLUMNS, key="color, source_month"))
                    if source_month is not None:
                        conn.execute(partition_ddl(source_month))
                return columns
            except psycopg.errors.LockNotAvailable:
                holders = conn.execute(HOLDERS_SQL, ("trips",)).fetchall()
            except psycopg.errors.InsufficientPrivilege as e:  # a wrong setting
                raise SettingError(
                    f"the role of {URL_SETTING} may not create the table trips or its partitions "
                    f"({e.diag.message_primary}): it needs USAGE and CREATE on the schema"
                ) from None
            held_by = ", ".join(describe_session(*row) for row in holders) or "a session that ended before it was named"
            if attempt < self.ddl_lock_attempts:
                dg.get_dagster_logger().warning(
                    f"creating {what} waited {self.ddl_lock_timeout_seconds:g} s for its lock on trips, held "
                    f"by {held_by}: attempt {attempt} of {self.ddl_lock_attempts}, trying again"
                )
        terminate = f", or SELECT pg_terminate_backend({holders[0][0]})" if len(holders) == 1 else ""
        raise PermanentError(
            f"{_describe(self.url)}: creating {what} timed out {self.ddl_lock_attempts} times "
            f"({self.ddl_lock_timeout_seconds:g} s each) waiting for a lock on trips held by {held_by}; "
            f"end that session's transaction (COMMIT or ROLLBACK in that client{terminate}), then materialize "
            "warehouse_trips again"
        )

    def _replace_rows(self, conn, lake_file, color, source_month) -> tuple[int, int, int]:
        """The lake file's record batches COPied as CSV; a batch holding rows of another slice is
        counted, not sent (the partition would refuse it)."""
        replaced = conn.execute(
            "DELETE FROM trips WHERE color = %s AND source_month = %s", (color, source_month)
        ).rowcount
        loaded, strays, month = 0, 0, pa.scalar(source_month, pa.date32())
        # No pre-buffering: it kept every batch's column chunks allocated to the end of the file.
        options = {"buffer_size": 8 << 20, "pre_buffer": False}
        with lake_file.open("rb") as file, pq.ParquetFile(file, **options) as parquet, conn.cursor() as cursor:
            # A lake file of an older schema version lacks the newest columns: COPY leaves them null.
            schema = pa.schema([f for f in CANONICAL_SCHEMA if f.name in parquet.schema_arrow.names])
            with cursor.copy(f"COPY trips ({', '.join(schema.names)}) FROM STDIN (FORMAT csv)") as copy:
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
        """The rows as an Arrow table; a column Arrow cannot type is held as text."""
        rows, columns = cursor.fetchall(), {}
        for i, column in enumerate(cursor.description):
            values = [row[i] for row in rows]
            try:
                columns[column.name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                columns[column.name] = pa.array([None if v is None else str(v) for v in values], pa.string())
        return pa.table(columns)

    def _fill_zones(self, conn, csv_file) -> int:
        """The file's bytes COPied; the advisory lock makes a second replacement wait for the first
        (readers go on), so that two never leave both copies."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('taxi_pipeline zones'))")
        conn.execute(create_table_sql("zones", sql_columns("postgres", ZONES_SCHEMA), key="location_id"))
        conn.execute("DELETE FROM zones")
        copy_sql = f"COPY zones ({', '.join(ZONE_COLUMNS)}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, csv_file.open("rb") as f:
            copy.write(f.read())
        return conn.execute("SELECT count(*) FROM zones").fetchone()[0]
