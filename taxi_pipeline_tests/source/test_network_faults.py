"""Network faults, each provoked for real on 127.0.0.1 (or with a host that cannot resolve):
every kind gets a message saying what happened and what to do, for the download and for the
sensor's HEAD alike."""

from datetime import date
from functools import partial

import pytest

from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline_tests.support.http_server import QuietHandler, serving
from taxi_pipeline_tests.support.runs import cli_env, materialize_command, run_cli
from taxi_pipeline_tests.support.samples import RELEASE_DIR, copy_release, release_file
from taxi_pipeline_tests.support.unreachable import (
    UNRESOLVABLE_URL,
    full_listener,
    refused_port,
    self_signed_certificate,
    serving_tls,
    silent_listener,
)

pytestmark = pytest.mark.faults

APRIL = date(2020, 4, 1)
GREEN_PATH = "/green/green_tripdata_2020-04.csv.gz"
GREEN_BYTES = release_file("green", "2020-04").read_bytes()


def failure_of(source: TripSourceResource, tmp_path, expected: type[Exception]) -> tuple[str, str]:
    """The messages of the download's error and of the HEAD's (`is_published`), both `expected`."""
    with pytest.raises(expected) as download:
        source.download("green", APRIL, tmp_path / "x")
    with pytest.raises(expected) as head:
        source.is_published("green", APRIL)
    assert download.value.__cause__ is None and download.value.__suppress_context__  # no requests traceback
    return str(download.value), str(head.value)


def test_an_unresolvable_host_says_so_and_what_to_do(tmp_path):
    source = TripSourceResource(base_url=f"{UNRESOLVABLE_URL}/release")

    download, head = failure_of(source, tmp_path, TransientError)

    reason = (
        "cannot resolve host no-such-host.invalid: no network, or a wrong TAXI_SOURCE_URL? "
        "set TAXI_SOURCE_URL to a reachable mirror (a file:// folder works offline)"
    )
    assert download == f"{UNRESOLVABLE_URL}/release{GREEN_PATH}: {reason}"
    assert head == download


def test_a_refused_connection_names_host_and_port_and_keeps_credentials_out(tmp_path):
    port = refused_port()
    source = TripSourceResource(base_url=f"http://user:hunter2@127.0.0.1:{port}")

    download, head = failure_of(source, tmp_path, TransientError)

    assert download == (
        f"http://***@127.0.0.1:{port}{GREEN_PATH}: 127.0.0.1:{port} refused the connection: "
        "is the mirror server running?"
    )
    assert head == download and "hunter2" not in download


def test_https_to_a_plain_http_server_is_a_wrong_version_number_and_fails_at_once(tmp_path):
    with serving(partial(QuietHandler, directory=str(RELEASE_DIR))) as url:
        https_url = url.replace("http://", "https://")
        download, head = failure_of(TripSourceResource(base_url=https_url), tmp_path, PermanentError)

    port = https_url.rsplit(":", 1)[1]
    assert download == (
        f"{https_url}{GREEN_PATH}: TLS handshake with 127.0.0.1:{port} failed (wrong version number): the server "
        "does not speak TLS on that port; if it serves plain HTTP, use http:// in TAXI_SOURCE_URL"
    )
    assert head == download


def test_an_untrusted_certificate_fails_at_once_and_its_ca_bundle_fixes_it(tmp_path, monkeypatch):
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with serving_tls(partial(QuietHandler, directory=str(RELEASE_DIR)), cert, key) as url:
        source = TripSourceResource(base_url=url)
        download, head = failure_of(source, tmp_path, PermanentError)

        port = url.rsplit(":", 1)[1]
        assert download == (
            f"{url}{GREEN_PATH}: TLS handshake with 127.0.0.1:{port} failed (certificate verify failed: "
            "self-signed certificate): this machine does not trust the server's certificate; fix the server's "
            "certificate, or set REQUESTS_CA_BUNDLE to a file holding its CA"
        )
        assert head == download

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # what the message says to do
        assert source.download("green", APRIL, tmp_path / "y").bytes == len(GREEN_BYTES)
        assert source.is_published("green", APRIL)


def test_a_host_that_never_accepts_is_a_connect_timeout(tmp_path):
    with full_listener() as port:
        source = TripSourceResource(base_url=f"http://127.0.0.1:{port}", connect_timeout_seconds=0.5)
        download, head = failure_of(source, tmp_path, TransientError)

    assert download == (
        f"http://127.0.0.1:{port}{GREEN_PATH}: no answer from 127.0.0.1 within 0.5 s (connect timeout): is the "
        "host up, or is a firewall in the way? or set TAXI_SOURCE_URL to a reachable mirror (a file:// folder "
        "works offline)"
    )
    assert head == download


def test_a_server_that_accepts_and_never_answers_is_a_read_timeout(tmp_path):
    with silent_listener() as port:
        source = TripSourceResource(base_url=f"http://127.0.0.1:{port}", read_timeout_seconds=0.5)
        download, head = failure_of(source, tmp_path, TransientError)

    assert download == (
        f"http://127.0.0.1:{port}{GREEN_PATH}: no data for 0.5 s (read timeout): 127.0.0.1 accepted the "
        "connection, then stopped sending"
    )
    assert head == download


def test_a_file_missing_from_a_file_mirror_names_the_folder_and_the_file(tmp_path):
    mirror = copy_release(tmp_path / "mirror")
    release_file("green", "2020-04", mirror).unlink()
    source = TripSourceResource(base_url=mirror.as_uri())

    with pytest.raises(PermanentError) as raised:
        source.download("green", APRIL, tmp_path / "x")

    assert str(raised.value) == (
        f"green 2020-04 is not in the mirror folder {mirror / 'green'}: no file green_tripdata_2020-04.csv.gz "
        "(a file:// mirror holds only the files copied into it)"
    )
    assert source.is_published("green", APRIL) is False


# --- what the command line ends with -----------------------------------------------------------


def python_tracebacks(output: str) -> int:
    return output.count("Traceback (most recent call last)")


@pytest.mark.cli
def test_offline_the_cli_ends_with_one_line_naming_the_cause(tmp_path):
    env = cli_env(tmp_path, UNRESOLVABLE_URL, TAXI_SOURCE_RETRY_DELAY="0")

    done = run_cli(materialize_command("green|2020-04-01"), env)

    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "taxi_pipeline: raw_trips, taxi_zones failed: cannot resolve host no-such-host.invalid: no network, or a "
        "wrong TAXI_SOURCE_URL? set TAXI_SOURCE_URL to a reachable mirror (a file:// folder works offline) "
        "(gave up after 4 attempts)"
    )
    assert python_tracebacks(done.stderr + done.stdout) <= 1
    # The underlying requests/urllib3 chain is never dumped; each retry is one warning line.
    assert "urllib3" not in done.stderr and "gaierror" not in done.stderr
    assert done.stderr.count("attempt 1 of 4 failed: ") == 2  # raw_trips and taxi_zones


@pytest.mark.cli
def test_a_permanent_failure_ends_the_cli_with_its_description(tmp_path):
    mirror = copy_release(tmp_path / "mirror")
    release_file("green", "2020-04", mirror).unlink()
    env = cli_env(tmp_path, mirror.as_uri())

    done = run_cli(materialize_command("green|2020-04-01"), env)

    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        f"taxi_pipeline: raw_trips failed: green 2020-04 is not in the mirror folder {mirror / 'green'}: no file "
        "green_tripdata_2020-04.csv.gz (a file:// mirror holds only the files copied into it)"
    )
    assert python_tracebacks(done.stderr + done.stdout) == 0


def test_a_proxy_that_refuses_says_which_variables_to_check(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{refused_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    source = TripSourceResource(base_url="http://mirror.example/release")

    download, head = failure_of(source, tmp_path, TransientError)

    reason = "the HTTP(S) proxy failed or refused the connection: check HTTPS_PROXY and HTTP_PROXY"
    assert download == f"http://mirror.example/release{GREEN_PATH}: {reason}"
    assert head == download
