"""Who blocks a Postgres session: the sessions `pg_blocking_pids` names while it waits for a
lock, read from another connection, described without their queries (which may hold data)."""

import threading
from dataclasses import dataclass
from datetime import datetime

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
