import hashlib
from datetime import date

import pytest

from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline.settings import redact_url
from taxi_pipeline_tests.support.http_server import QuietRequestHandler
from taxi_pipeline_tests.support.samples import RELEASE_DIR, release_file, release_zones
from taxi_pipeline_tests.support.unreachable import refused_port


class StatusHandler(QuietRequestHandler):
    status = 503

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def status_server(http_server):
    """Starts a server answering every GET with an empty response of the given status."""
    return lambda status: http_server(type("Handler", (StatusHandler,), {"status": status}))


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_download_copies_the_file_byte_for_byte(scheme, release_url, tmp_path):
    base = release_url if scheme == "http" else RELEASE_DIR.as_uri()
    source = TripSourceResource(base_url=base)
    expected = release_file("green", "2020-04").read_bytes()
    progress = []

    downloaded = source.download("green", date(2020, 4, 1), tmp_path / "out.csv.gz", on_progress=progress.append)

    assert (tmp_path / "out.csv.gz").read_bytes() == expected
    assert downloaded.bytes == len(expected)
    assert downloaded.sha256 == hashlib.sha256(expected).hexdigest()
    assert downloaded.url == f"{base}/green/green_tripdata_2020-04.csv.gz"
    assert progress[-1] == len(expected) and len(progress) >= 1


def test_url_follows_the_release_layout():
    source = TripSourceResource()

    assert source.file_url("yellow", date(2021, 1, 1)) == (
        "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/yellow/yellow_tripdata_2021-01.csv.gz"
    )


def test_unpublished_month_says_so_and_names_the_url(release_url, tmp_path):
    with pytest.raises(PermanentError, match=r"green 2021-07 is not published.*green_tripdata_2021-07"):
        TripSourceResource(base_url=release_url).download("green", date(2021, 7, 1), tmp_path / "x")


def test_a_month_missing_from_a_file_mirror_names_the_folder_not_publication(tmp_path):
    with pytest.raises(PermanentError) as raised:
        TripSourceResource(base_url=RELEASE_DIR.as_uri()).download("green", date(2021, 7, 1), tmp_path / "x")

    assert str(raised.value).startswith(
        f"green 2021-07 is not in the mirror folder {RELEASE_DIR / 'green'}: no file green_tripdata_2021-07.csv.gz"
    )


def test_server_error_is_a_transient_failure(status_server, tmp_path):
    url = status_server(503)

    with pytest.raises(TransientError, match="HTTP 503"):
        TripSourceResource(base_url=url).download("green", date(2020, 4, 1), tmp_path / "x")


def test_a_bare_403_is_a_permanent_failure(status_server, tmp_path):
    url = status_server(403)

    with pytest.raises(PermanentError, match=r"answered HTTP 403$"):
        TripSourceResource(base_url=url).download("green", date(2020, 4, 1), tmp_path / "x")


def test_connection_refused_is_transient_and_keeps_credentials_out(tmp_path):
    secret_url = f"http://user:hunter2@127.0.0.1:{refused_port()}"

    with pytest.raises(TransientError) as raised:
        TripSourceResource(base_url=secret_url, connect_timeout_seconds=2).download(
            "green", date(2020, 4, 1), tmp_path / "x"
        )

    assert "refused the connection" in str(raised.value)
    assert "hunter2" not in str(raised.value) and raised.value.__cause__ is None


def test_only_known_colors_make_urls():
    with pytest.raises(ValueError, match=r"unknown course service '\.\./etc'; expected one of yellow, green, fhv"):
        TripSourceResource().file_url("../etc", date(2020, 4, 1))


def test_redact_url_replaces_user_and_password_with_stars():
    assert redact_url("https://me:pw@host:8443/a/b") == "https://***@host:8443/a/b"
    assert redact_url("https://host/a") == "https://host/a"


def test_the_zone_table_url_follows_the_release_layout():
    assert TripSourceResource().zones_url() == (
        "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/misc/taxi_zone_lookup.csv"
    )
    assert TripSourceResource(base_url="https://d37ci6vzurychx.cloudfront.net/").zones_url() == (
        "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv"
    )


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_download_zones_copies_the_table_byte_for_byte(scheme, release_url, tmp_path):
    base = release_url if scheme == "http" else RELEASE_DIR.as_uri()
    expected = release_zones().read_bytes()

    downloaded = TripSourceResource(base_url=base).download_zones(tmp_path / "zones.csv")

    assert (tmp_path / "zones.csv").read_bytes() == expected
    assert (downloaded.bytes, downloaded.sha256) == (len(expected), hashlib.sha256(expected).hexdigest())
    assert downloaded.url == f"{base}/misc/taxi_zone_lookup.csv"


class UserAgentHandler(QuietRequestHandler):
    seen: list[str] = []

    def do_GET(self):
        type(self).seen.append(f"{self.path} {self.headers.get('User-Agent')}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_missing_zone_table_says_so_names_the_url_and_keeps_credentials_out(http_server, tmp_path):
    handler = type("Handler", (UserAgentHandler,), {"seen": []})
    url = http_server(handler).replace("http://", "http://user:hunter2@")

    with pytest.raises(PermanentError) as raised:
        TripSourceResource(base_url=url).download_zones(tmp_path / "zones.csv")

    assert (
        str(raised.value)
        == f"the taxi zone table is not published: {redact_url(url)}/misc/taxi_zone_lookup.csv answered HTTP 404"
    )
    assert "hunter2" not in str(raised.value)
    assert handler.seen == ["/misc/taxi_zone_lookup.csv taxi_pipeline/0.1 (NYC TLC trip-data loader)"]


def test_a_server_error_on_the_zone_table_is_transient(status_server, tmp_path):
    with pytest.raises(TransientError, match="misc/taxi_zone_lookup.csv answered HTTP 503"):
        TripSourceResource(base_url=status_server(503)).download_zones(tmp_path / "zones.csv")
