"""Source faults, injected by real HTTP servers on 127.0.0.1 and by crafted files in a mirror."""

import gzip
import itertools
import socket
import struct
import threading
import time
from datetime import date
from functools import partial

import dagster as dg
import pytest

from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline_tests.support.http_server import QuietHandler, QuietRequestHandler
from taxi_pipeline_tests.support.runs import (
    TRIP_ASSETS,
    TRIP_CHECKS,
    cli_env,
    materialize,
    materialize_command,
    retried_steps,
    run_cli,
    run_records,
    step_failures,
    with_causes,
)
from taxi_pipeline_tests.support.samples import RELEASE_DIR, copy_release, lake_file, raw_file, release_file
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = pytest.mark.faults

APRIL = date(2020, 4, 1)
GREEN_PATH = "/green/green_tripdata_2020-04.csv.gz"
GREEN_BYTES = release_file("green", "2020-04").read_bytes()


@pytest.fixture
def server(http_server):
    """Starts a handler class on 127.0.0.1; releases stalls, then stops every server, after."""
    release = threading.Event()

    def start(handler) -> str:
        handler.release = release
        return http_server(handler)

    yield start
    release.set()


def one_line(message: str) -> bool:
    return len(message.strip().splitlines()) == 1


# --- HTTP 404 --------------------------------------------------------------------------------


def test_404_fails_at_once_naming_the_url(release_url, make_resources, duckdb_path, lake_dir):
    started = time.monotonic()
    result = materialize(make_resources(release_url), "green|2021-07-01")

    assert not result.success
    assert time.monotonic() - started < 15  # no backoff: retries alone would wait 16 s or more
    assert step_failures(result) == {
        "raw_trips": "dagster._core.definitions.events.Failure: green 2021-07 is not published: "
        f"{release_url}/green/green_tripdata_2021-07.csv.gz answered HTTP 404"
    }
    assert retried_steps(result) == []
    assert not duckdb_path.exists() and not (lake_dir / "raw").exists()


# --- 5xx and connection resets ---------------------------------------------------------------


class AlwaysFailing(QuietRequestHandler):
    """Answers 503 to every GET of a trip file and notes when each one came; serves the zone
    table, which every release has, so that only the month's download fails."""

    arrivals: list[float] = []

    def do_GET(self):
        if self.path == "/misc/taxi_zone_lookup.csv":
            body = (RELEASE_DIR / "misc" / "taxi_zone_lookup.csv").read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        type(self).arrivals.append(time.monotonic())
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.mark.cli
def test_5xx_is_retried_with_growing_delays_then_fails_clearly(server, tmp_path):
    handler = type("Failing", (AlwaysFailing,), {"arrivals": []})
    url = server(handler)
    # The retry delay's base comes down from 2 s so the test waits ~3 s, not ~20 s.
    env = cli_env(tmp_path, url, TAXI_SOURCE_RETRY_DELAY="0.3")

    done = run_cli(materialize_command("green|2020-04-01"), env)

    assert done.returncode != 0
    [(run, events)] = run_records(tmp_path / "dagster_home")
    assert run.status == dg.DagsterRunStatus.FAILURE
    retries = [
        e for e in events if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert len(retries) == 3 and len(handler.arrivals) == 4  # the first try and 3 retries
    gaps = [b - a for a, b in itertools.pairwise(handler.arrivals)]
    assert gaps[0] < gaps[2]  # exponential: base ±base, 3×base ±base, 7×base ±base
    [failed] = [e.dagster_event for e in events if e.dagster_event and e.dagster_event.is_step_failure]
    failure = with_causes(failed.step_failure_data.error)
    assert "Exceeded max_retries of 3" in failure
    assert f"{url}{GREEN_PATH} answered HTTP 503" in failure
    assert warehouse_rows(tmp_path / "warehouse.duckdb") == {}  # the zone table loaded; no trip did


class ResetOnce(QuietHandler):
    """The first GET gets the headers and half the file, then a TCP reset; later GETs the file."""

    resets_left = 1

    def do_GET(self):
        if type(self).resets_left > 0:
            type(self).resets_left -= 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(GREEN_BYTES)))
            self.end_headers()
            self.wfile.write(GREEN_BYTES[: len(GREEN_BYTES) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends RST instead of FIN, as a dropped connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        super().do_GET()


def test_reset_mid_file_is_a_transient_failure_naming_the_url(server, tmp_path):
    url = server(partial(type("R", (ResetOnce,), {"resets_left": 1}), directory=str(RELEASE_DIR)))

    with pytest.raises(TransientError) as raised:
        TripSourceResource(base_url=url).download("green", APRIL, tmp_path / "x")

    assert str(raised.value).startswith(f"{url}{GREEN_PATH}: ")
    assert "connection" in str(raised.value)


def test_reset_is_retried_and_the_month_lands_whole(server, make_resources, duckdb_path, lake_dir):
    url = server(partial(type("R", (ResetOnce,), {"resets_left": 1}), directory=str(RELEASE_DIR)))

    result = materialize(make_resources(url), "green|2020-04-01")

    assert result.success
    assert retried_steps(result) == ["raw_trips"]
    assert raw_file(lake_dir, "green", "2020-04").read_bytes() == GREEN_BYTES
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}


class FailOnce(QuietHandler):
    """Answers 503 to the first GET, then serves the mirror."""

    failures_left = 1

    def do_GET(self):
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_error(503)
            return
        super().do_GET()


def test_a_passing_5xx_is_retried_and_the_month_lands(server, make_resources, duckdb_path):
    url = server(partial(type("F", (FailOnce,), {"failures_left": 1}), directory=str(RELEASE_DIR)))

    result = materialize(make_resources(url), "fhv|2020-01-01")

    assert result.success
    assert retried_steps(result) == ["raw_trips"]
    assert warehouse_rows(duckdb_path) == {("fhv", "2020-01"): 16}


class CloseAtOnce(QuietRequestHandler):
    def do_GET(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def test_reset_before_any_answer_is_transient(server, tmp_path):
    url = server(CloseAtOnce)

    with pytest.raises(TransientError, match="connection failed or was reset"):
        TripSourceResource(base_url=url).download("green", APRIL, tmp_path / "x")


# --- a stalled server ------------------------------------------------------------------------


class StallMidFile(QuietRequestHandler):
    """Sends the headers and 64 KiB of the file, then nothing until the test ends."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(GREEN_BYTES)))
        self.end_headers()
        self.wfile.write(GREEN_BYTES[: 64 << 10])
        self.wfile.flush()
        self.release.wait(60)


class StallBeforeHeaders(StallMidFile):
    def do_GET(self):
        self.release.wait(60)


@pytest.mark.parametrize("handler", [StallMidFile, StallBeforeHeaders], ids=["mid-file", "before-headers"])
def test_a_stalled_server_times_out_instead_of_hanging(handler, server, tmp_path):
    url = server(handler)
    source = TripSourceResource(base_url=url, read_timeout_seconds=1)
    started = time.monotonic()

    with pytest.raises(TransientError) as raised:
        source.download("green", APRIL, tmp_path / "x")

    assert time.monotonic() - started < 10
    assert str(raised.value).startswith(f"{url}{GREEN_PATH}: no data for 1 s (read timeout)")


def test_read_timeout_defaults_to_a_minute():
    assert TripSourceResource().read_timeout_seconds == 60


# --- redirects -------------------------------------------------------------------------------


class Redirecting(QuietHandler):
    """Serves the mirror under /release; /moved/... answers with a redirect to /release/..."""

    status = 301

    def _redirect(self) -> bool:
        if self.path.startswith("/moved/"):
            self.send_response(self.status)
            self.send_header("Location", "/release/" + self.path.removeprefix("/moved/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        self.path = self.path.removeprefix("/release")
        return False

    def do_GET(self):
        if not self._redirect():
            super().do_GET()

    def do_HEAD(self):
        if not self._redirect():
            super().do_HEAD()


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_followed(status, server, tmp_path):
    url = server(partial(type("R", (Redirecting,), {"status": status}), directory=str(RELEASE_DIR)))
    source = TripSourceResource(base_url=f"{url}/moved")

    downloaded = source.download("green", APRIL, tmp_path / "x")

    assert (tmp_path / "x").read_bytes() == GREEN_BYTES and downloaded.bytes == len(GREEN_BYTES)
    assert source.is_published("green", APRIL)
    assert not source.is_published("green", date(2031, 1, 1))


class RedirectLoop(QuietRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_redirect_loop_fails_at_once(server, tmp_path):
    url = server(RedirectLoop)

    with pytest.raises(PermanentError, match="too many redirects"):
        TripSourceResource(base_url=url).download("green", APRIL, tmp_path / "x")


# --- files that are not a month of trips -----------------------------------------------------


def mirror_with(tmp_path, color: str, month: str, data: bytes) -> str:
    """A file:// mirror of the bundled release where one file is replaced by `data`."""
    mirror = tmp_path / "mirror"
    if not mirror.exists():
        copy_release(mirror)
    release_file(color, month, mirror).write_bytes(data)
    return mirror.as_uri()


FHV = release_file("fhv", "2019-01").read_bytes()
FHV_HEADER = gzip.decompress(FHV).split(b"\n")[0] + b"\n"


@pytest.mark.parametrize(
    "data, what",
    [
        (b"", "the file is empty (0 bytes)"),
        (gzip.compress(b""), "the file is empty (gzip of 0 bytes)"),
        (
            b"<!DOCTYPE html><html><body>Not Found</body></html>\n",
            "it is neither gzip-compressed nor CSV text (it starts with b'<!DOCTYPE html><html><bo')",
        ),
        (bytes(range(256)) * 4, "it is neither gzip-compressed nor CSV text (it starts with b'\\x00\\x01"),
        (FHV[:60], "the gzip data is truncated: 60 bytes hold no complete block"),
    ],
    ids=["empty", "empty-gzip", "html-page", "binary", "truncated-gzip-head"],
)
def test_a_file_that_is_not_a_trip_file_fails_at_the_download(
    data, what, tmp_path, make_resources, duckdb_path, lake_dir
):
    source = mirror_with(tmp_path, "fhv", "2019-01", data)

    result = materialize(make_resources(source), "fhv|2019-01-01")

    failures = step_failures(result)
    assert list(failures) == ["raw_trips"] and one_line(failures["raw_trips"])
    assert failures["raw_trips"].startswith(
        "dagster._core.definitions.events.Failure: fhv 2019-01: "
        f"{source}/fhv/fhv_tripdata_2019-01.csv.gz is not a trip file: {what}"
    )
    assert retried_steps(result) == []
    assert not raw_file(lake_dir, "fhv", "2019-01").exists() and not duckdb_path.exists()


def test_a_gzip_cut_short_mid_file_fails_naming_the_file_and_keeps_the_previous_month(
    tmp_path, make_resources, duckdb_path, lake_dir
):
    assert materialize(make_resources(RELEASE_DIR.as_uri()), "green|2020-04-01").success
    published = lake_file(lake_dir, "green", "2020-04").read_bytes()
    source = mirror_with(tmp_path, "green", "2020-04", GREEN_BYTES[: len(GREEN_BYTES) // 2])

    result = materialize(make_resources(source), "green|2020-04-01")

    failures = step_failures(result)
    assert list(failures) == ["cleaned_trips"] and one_line(failures["cleaned_trips"])
    raw = raw_file(lake_dir, "green", "2020-04")
    assert failures["cleaned_trips"] == (
        f"dagster._core.definitions.events.Failure: {raw}: Truncated compressed stream"
    )
    assert lake_file(lake_dir, "green", "2020-04").read_bytes() == published
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 35_612}


def test_a_file_with_only_a_header_publishes_nothing(tmp_path, make_resources, duckdb_path, lake_dir):
    assert materialize(make_resources(RELEASE_DIR.as_uri()), "fhv|2019-01-01").success
    published = lake_file(lake_dir, "fhv", "2019-01").read_bytes()
    source = mirror_with(tmp_path, "fhv", "2019-01", gzip.compress(FHV_HEADER))

    result = materialize(make_resources(source), "fhv|2019-01-01")

    failures = step_failures(result)
    assert list(failures) == ["audit_cleaned_trips"] and one_line(failures["audit_cleaned_trips"])
    assert failures["audit_cleaned_trips"].startswith(
        "dagster._core.definitions.events.Failure: fhv 2019-01 not published: month_has_rows: "
    )
    assert lake_file(lake_dir, "fhv", "2019-01").read_bytes() == published
    assert warehouse_rows(duckdb_path) == {("fhv", "2019-01"): 18}


# --- HTTP 403: not published, or refused by the CDN's firewall ---------------------------------

S3_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
    b"<RequestId>X</RequestId><HostId>Y</HostId></Error>"
)


class ForbiddenHandler(QuietRequestHandler):
    """Answers 403 the ways the TLC's CloudFront does: S3's AccessDenied for a missing key, the
    firewall (with its `x-amzn-waf-action` header) for `waf_refusals` requests and then the file,
    or a bare 403. Records each request's User-Agent."""

    kind = "s3"
    waf_refusals = 2
    user_agents: list

    def _answer(self, with_body: bool):
        self.user_agents.append(self.headers.get("User-Agent"))
        if self.kind == "waf" and len(self.user_agents) > self.waf_refusals:
            body = release_file("fhv", "2019-01").read_bytes()
            self.send_response(200)
        else:
            body = S3_ACCESS_DENIED if self.kind == "s3" else b""
            self.send_response(403)
            if self.kind == "waf":
                self.send_header("x-amzn-waf-action", "block")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(with_body=True)

    def do_HEAD(self):
        self._answer(with_body=False)


@pytest.fixture
def forbidden_server(http_server):
    """Starts a ForbiddenHandler server of one kind; returns its URL and the User-Agents it saw."""

    def start(kind: str):
        seen = []
        return http_server(type("Handler", (ForbiddenHandler,), {"kind": kind, "user_agents": seen})), seen

    return start


def test_a_403_access_denied_is_a_month_not_published(forbidden_server, tmp_path):
    url, seen = forbidden_server("s3")
    source = TripSourceResource(release="tlc", base_url=url)

    with pytest.raises(PermanentError, match=r"green 2024-06 is not published: .* HTTP 403 AccessDenied"):
        source.download("green", date(2024, 6, 1), tmp_path / "x")
    assert source.is_published("green", date(2024, 6, 1)) is False
    assert seen == ["taxi_pipeline/0.1 (NYC TLC trip-data loader)"] * 2


def test_a_403_from_the_firewall_is_transient_and_says_what_to_do(forbidden_server, tmp_path):
    url, _ = forbidden_server("waf")
    source = TripSourceResource(base_url=url)

    with pytest.raises(TransientError, match=r"HTTP 403 from the CDN's firewall \(x-amzn-waf-action: block\)"):
        source.download("green", date(2020, 4, 1), tmp_path / "x")
    with pytest.raises(TransientError, match="set TAXI_SOURCE_URL to a mirror"):
        source.is_published("green", date(2020, 4, 1))


def test_a_firewall_refusal_is_retried_until_the_file_comes(forbidden_server, make_resources):
    url, seen = forbidden_server("waf")
    resources = {**make_resources(url), "source": TripSourceResource(base_url=url, retry_delay_seconds=0.05)}

    result = materialize(resources, "fhv|2019-01-01")

    assert result.success
    assert len(seen) == 3  # two refusals, then the file
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert [e.step_key for e in retries] == ["raw_trips", "raw_trips"]


def test_a_raw_file_replaced_after_its_download_is_not_cleaned(make_resources, lake_dir):
    # The raw zone keeps one file a month: a run of the same month may replace it between this
    # run's download and its cleaning. The cleaning checks the bytes are the ones downloaded.
    resources, instance = make_resources(RELEASE_DIR.as_uri()), dg.DagsterInstance.ephemeral()
    key = "green|2020-04-01"
    everything = [*TRIP_ASSETS, *TRIP_CHECKS]
    assert dg.materialize(
        everything, selection="raw_trips", partition_key=key, resources=resources, instance=instance
    ).success
    raw = raw_file(lake_dir, "green", "2020-04")
    raw.write_bytes(gzip.compress(gzip.decompress(raw.read_bytes())[:100_000]))

    result = dg.materialize(
        everything,
        selection="cleaned_trips",
        partition_key=key,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )

    failures = step_failures(result)
    assert list(failures) == ["cleaned_trips"]
    assert f"{raw} holds sha256 " in failures["cleaned_trips"]
    assert (
        "raw_trips downloaded (another run replaced it): materialize raw_trips for green|2020-04-01 again"
        in (failures["cleaned_trips"])
    )
    assert retried_steps(result) == []
