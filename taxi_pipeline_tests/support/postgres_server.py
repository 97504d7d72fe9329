"""A throwaway PostgreSQL cluster on 127.0.0.1, for the postgres tests and the benchmark.

`initdb` makes a cluster in a fresh temporary folder, with password (scram-sha-256) auth for
every TCP connection, so a wrong password is refused as a real server refuses it; `pg_ctl`
starts it on a free port (and a Unix socket inside that folder, never /var/run/postgresql) and
stops it after. The server binaries come from the OS packages (`make test` installs Debian's
`postgresql` when they are missing): `$TAXI_TEST_PG_BINDIR`, `pg_config --bindir`, or the newest
`/usr/lib/postgresql/*/bin`.

initdb and postgres refuse to run as root. As root (CI runs as root) the cluster runs as the
`postgres` OS user the package creates, through `runuser`; the folder is made under /tmp (the
tests' own temporary folders are private to root) and handed to that user.

The postgres tests load as `POSTGRES_LOADER`, a role with only the grants the README lists.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.processes import log_tail

SUPERUSER = "taxi_admin"
CLUSTER_USER_WHEN_ROOT = "postgres"  # made by Debian's postgresql-common
# The role the postgres tests load as: not a superuser, not the database owner; only the grants
# the README lists (CONNECT on the database, USAGE and CREATE on the schema).
POSTGRES_LOADER = "taxi_loader"


def postgres_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres; RuntimeError naming the fix when absent."""
    candidates = []
    if os.environ.get("TAXI_TEST_PG_BINDIR"):
        candidates.append(Path(os.environ["TAXI_TEST_PG_BINDIR"]))
    if shutil.which("pg_config"):
        # libpq-dev's pg_config names the server's folder even when the server is not installed.
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists() and (bindir / "postgres").exists():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: `make test` installs them "
        "as root; otherwise `sudo apt-get install postgresql` (or set TAXI_TEST_PG_BINDIR)"
    )


@dataclass
class PostgresCluster:
    """A running cluster: its folder, port and the password of its superuser role."""

    root: Path
    port: int
    password: str
    bindir: Path
    run_as: str | None  # the OS user the server runs as when we are root, else None
    options: str = ""  # the server's options (`pg_ctl start -o`)

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder (PGDATA)."""
        return self.root / "data"

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """postgresql:// URL of a database over TCP on 127.0.0.1 (the superuser's by default)."""
        secret = self.password if password is None else password
        return f"postgresql://{quote(user, safe='')}:{quote(secret, safe='')}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, **kwargs) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, **kwargs)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Restart the server as an operator would: a fast shutdown (open sessions are ended),
        `down_seconds` during which connections are refused, then a start; returns once it
        accepts connections again."""
        pg_ctl = str(self.bindir / "pg_ctl")
        done = self._run(pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed ({done.returncode}):\n{done.stderr[-2000:]}\n{self.log_tail()}")
        time.sleep(down_seconds)
        self._start()

    def _start(self) -> None:
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.root / "server.log"),
            "-o",
            self.options,
            "-w",
            "-t",
            "60",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}):\n{done.stderr[-2000:]}\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended) and delete its folder."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log ("" before it has one)."""
        return log_tail(self.root / "server.log", chars)


def start_cluster(settings: dict[str, str] | None = None) -> PostgresCluster:
    """initdb + pg_ctl start of a new cluster on a free 127.0.0.1 port; call .stop() after.

    `settings` are extra server settings (`-c name=value`), e.g. {"fsync": "off"} for tests.
    """
    bindir = postgres_bindir()
    run_as = CLUSTER_USER_WHEN_ROOT if os.geteuid() == 0 else None
    # As root, under /tmp itself: a private $TMPDIR would keep the postgres user out.
    root = Path(tempfile.mkdtemp(prefix="taxi-postgres-", dir="/tmp" if run_as else None))
    password = secrets.token_urlsafe(24)
    cluster = PostgresCluster(root=root, port=free_port(), password=password, bindir=bindir, run_as=run_as)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    pwfile.chmod(0o600)
    try:
        done = cluster._run(
            str(bindir / "initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        options = [f"-k {root}", "-h 127.0.0.1", f"-p {cluster.port}"]
        options += [f"-c {name}={value}" for name, value in (settings or {}).items()]
        cluster.options = " ".join(options)
        cluster._start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
