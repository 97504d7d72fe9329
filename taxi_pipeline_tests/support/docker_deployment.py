"""deploy/docker-compose.yaml brought up for a test, as a user brings it up: Postgres, the code
location, the webserver and the daemon, and the bundled samples served by the `mirror` profile;
a project name, network and lake volume of its own, removed afterwards with every run container
left on its network."""

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taxi_pipeline_tests.support.dagster_server import NOT_YET, DagsterWebserver
from taxi_pipeline_tests.support.docker_engine import INSTALL_HINT, docker
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.runs import PROJECT_DIR

COMPOSE_FILE = PROJECT_DIR / "deploy" / "docker-compose.yaml"
PROJECT = "taxi_pipeline_test"
# `down` of a deployment whose data goes with it: its volumes removed, its containers killed at
# once (a server with no SIGTERM handler as PID 1, like the mirror's http.server, ignores
# SIGTERM, and `down` would wait 10 s for it).
DISCARD = ("--volumes", "--remove-orphans", "--timeout", "0")


def compose_command() -> list[str]:
    """`docker compose` (the plugin) where the engine's client has it, else Debian's `docker-compose`."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError(INSTALL_HINT)


@dataclass
class ComposeDeployment:
    """A running deployment: its compose environment, webserver and run containers' network."""

    env: dict[str, str]
    webserver: DagsterWebserver
    network: str
    compose_command: list[str]  # `docker compose` or `docker-compose`, looked up once

    def compose(self, *args: str, timeout: float = 300) -> str:
        """`docker compose ARGS` on this deployment; RuntimeError with its output when it fails."""
        command = [*self.compose_command, "-p", PROJECT, "-f", str(COMPOSE_FILE), "--profile", "mirror", *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    def psql(self, database: str, sql: str) -> list[tuple[str, ...]]:
        """The rows of a query run by psql in the Postgres container, as tuples of text."""
        out = self.compose(
            "exec", "-T", "postgres", "psql", "-U", "dagster", "-d", database, "-At", "-F", "\t", "-c", sql
        )
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def run_containers(self) -> list[str]:
        """Ids of the containers the run launcher started on this deployment's network, running or not."""
        out = docker("ps", "-a", "-q", "--filter", "label=dagster/run_id", "--filter", f"network={self.network}")
        return out.split()

    def run_containers_left(self, timeout: float = 60) -> list[str]:
        """The run containers still there after waiting up to `timeout` s for them to go (each
        removes itself when its run ends)."""
        deadline = time.monotonic() + timeout
        while (left := self.run_containers()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left

    def remove_run_containers(self) -> None:
        """Remove what the run launcher left (a test that failed mid-run): compose cannot remove
        a network that containers still use."""
        if ids := self.run_containers():
            # A container of a run that just ended may be in the middle of its own removal: the
            # error says so, and the wait below sees it go.
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
            if left := self.run_containers_left():
                raise TimeoutError(f"run containers {left} still there after 60 s")


def compose_env(project_image: str, postgres_image: str) -> dict[str, str]:
    """The shell environment a user would set for the deployment (none of this machine's own
    TAXI_ settings), with a fresh password, the bundled mirror as the source and a free port."""
    password = secrets.token_hex(12)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TAXI_", "DAGSTER_"))}
    return env | {
        "TAXI_IMAGE": project_image,
        "TAXI_POSTGRES_IMAGE": postgres_image,
        "DAGSTER_POSTGRES_PASSWORD": password,
        "TAXI_POSTGRES_URL": f"postgresql://dagster:{password}@postgres:5432/taxi",
        "TAXI_SOURCE_URL": "http://mirror:8080",
        "TAXI_WEBSERVER_PORT": str(free_port()),
        "TAXI_DOCKER_NETWORK": PROJECT,
        "TAXI_LAKE_VOLUME": f"{PROJECT}_lake",
    }


@contextmanager
def compose_deployment(
    project_image: str, postgres_image: str, log: Path, timeout: float = 240
) -> Iterator[ComposeDeployment]:
    """The deployment up and its code location loaded in the webserver; its containers' logs
    saved to `log` and everything removed (volumes too) at the end."""
    env = compose_env(project_image, postgres_image)
    webserver = DagsterWebserver(f"http://127.0.0.1:{env['TAXI_WEBSERVER_PORT']}", log)
    deployment = ComposeDeployment(env, webserver, PROJECT, compose_command())
    deployment.remove_run_containers()
    deployment.compose("down", *DISCARD)  # what an interrupted earlier run left
    try:
        deployment.compose("up", "-d")
        deadline = time.monotonic() + timeout
        while not _answers(webserver):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the webserver did not load the code location within {timeout} s; see {log}")
            time.sleep(1)
        yield deployment
    finally:
        log.write_text(deployment.compose("logs", "--no-color", "--timestamps"))
        # The daemon first: it launches run containers (a retry, a queued run) until it stops, and
        # one launched after the removal below keeps the network in use ("has active endpoints").
        deployment.compose("stop", "--timeout", "0", "daemon")
        deployment.remove_run_containers()
        deployment.compose("down", *DISCARD)


def _answers(webserver: DagsterWebserver) -> bool:
    try:
        return webserver.location_loaded()
    except NOT_YET:
        return False
