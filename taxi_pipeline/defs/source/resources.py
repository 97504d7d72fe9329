"""The published monthly trip files of the course's mirror or the TLC's release: from their URL,
an HTTP mirror, or a file:// folder laid out alike."""

import hashlib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import requests
import urllib3
from pydantic import Field

from taxi_pipeline.defs.lake.files import naming_the_file
from taxi_pipeline.defs.source.releases import RELEASES, TripRelease
from taxi_pipeline.settings import (
    DEFAULT_SOURCE,
    DEFAULT_SOURCE_MIN_BYTES,
    DEFAULT_SOURCE_RATE_WINDOW_SECONDS,
    DEFAULT_SOURCE_RETRY_DELAY_SECONDS,
    SettingError,
    check_source_url,
    redact_url,
)

CHUNK_BYTES = 1 << 20
# A plain client name: CloudFront's firewall in front of the TLC's files is quicker to refuse
# the default `python-requests/x.y` of shared cloud addresses.
HEADERS = {"User-Agent": "taxi_pipeline/0.1 (NYC TLC trip-data loader)"}
WAF_HEADER = "x-amzn-waf-action"
ERROR_BODY_BYTES = 64 << 10


class MonthNotPublishedError(Exception):
    """The source has no file for this color and month (HTTP 404, S3's 403 AccessDenied, or no such
    file in a file:// mirror folder). A retry will not change it."""


class SourceUnavailableError(Exception):
    """The source failed in a way that may pass: a 5xx answer, a reset, a timeout, a host that
    does not resolve or refuses. Retried. `reason` is the message without the URL."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


class SourceRejectedError(Exception):
    """The source refused the request for a reason a retry will not change (a 4xx other than 404)."""


@dataclass(frozen=True)
class DownloadedFile:
    """A trip file copied from the source to local disk."""

    url: str
    path: Path
    bytes: int
    sha256: str
    last_modified: str | None = None  # the server's Last-Modified (a file's mtime for file://)
    etag: str | None = None


def forbidden_error(response: requests.Response, label: str, safe_url: str) -> Exception:
    """What an HTTP 403 means, as far as the response tells: CloudFront's firewall refusing this
    client (transient: retried), S3's `AccessDenied` for a key that does not exist (the TLC's
    answer for a month it has not published), or a refusal a retry will not change."""
    if WAF_HEADER in response.headers:
        return SourceUnavailableError(
            f"{safe_url} answered HTTP 403 from the CDN's firewall ({WAF_HEADER}: {response.headers[WAF_HEADER]}): "
            "too many requests from this address; it is retried with backoff, or set TAXI_SOURCE_URL to a mirror"
        )
    body = next(response.iter_content(ERROR_BODY_BYTES), b"") if response.request.method != "HEAD" else b""
    if b"<Code>AccessDenied</Code>" in body or response.request.method == "HEAD":
        return MonthNotPublishedError(
            f"{label} is not published: {safe_url} answered HTTP 403 AccessDenied (how the TLC answers for a file "
            "it does not have yet)"
        )
    return SourceRejectedError(f"{safe_url} answered HTTP 403")


class TripSourceResource(dg.ConfigurableResource):
    """Where the monthly files are published: the course's `{base}/{color}/{color}_tripdata_{YYYY-MM}.csv.gz`
    or the TLC's `{base}/{service}_tripdata_{YYYY-MM}.parquet`."""

    release: str = Field(
        default=DEFAULT_SOURCE,
        description=f"Which source's layout and months (TAXI_SOURCE): {', '.join(RELEASES)}",
    )
    base_url: str = Field(
        default=RELEASES[DEFAULT_SOURCE].default_url,
        description="Release base URL (TAXI_SOURCE_URL): http(s):// or a file:// mirror folder",
    )
    connect_timeout_seconds: float = Field(default=10.0, description="Seconds to wait for the connection")
    read_timeout_seconds: float = Field(
        default=60.0,
        description="Seconds without a byte from the server (before the headers or mid-file) before giving up",
    )
    retry_delay_seconds: float = Field(
        default=DEFAULT_SOURCE_RETRY_DELAY_SECONDS,
        ge=0,
        description="Base delay of the download's exponential backoff (TAXI_SOURCE_RETRY_DELAY)",
    )
    min_bytes: int = Field(
        default=DEFAULT_SOURCE_MIN_BYTES,
        ge=0,
        description="A download getting fewer bytes in a rate window fails, and is retried (TAXI_SOURCE_MIN_BYTES)",
    )
    rate_window_seconds: float = Field(
        default=DEFAULT_SOURCE_RATE_WINDOW_SECONDS,
        gt=0,
        description="Seconds over which a download's bytes are counted against min_bytes (TAXI_SOURCE_RATE_WINDOW)",
    )

    @property
    def trip_release(self) -> TripRelease:
        """The source's layout, services and months."""
        if self.release not in RELEASES:
            raise SettingError(f"TAXI_SOURCE={self.release!r} is not a known source; use one of: {', '.join(RELEASES)}")
        return RELEASES[self.release]

    def file_url(self, color: str, month: date) -> str:
        """The URL of one color's monthly file, built only from the fixed color and month."""
        release = self.trip_release
        if color not in release.services:
            raise ValueError(f"unknown color {color!r}; expected one of {', '.join(release.services)}")
        check_source_url(self.base_url)
        return release.file_url(self.base_url, color, month)

    def safe_file_url(self, color: str, month: date) -> str:
        """`file_url` without any user:password part, for messages."""
        return redact_url(self.file_url(color, month))

    def is_published(self, color: str, month: date) -> bool:
        """Whether the source has the month's file: an HTTP HEAD (redirects followed) or a file check."""
        url = self.file_url(color, month)
        parts = urlsplit(url)
        if parts.scheme == "file":
            return Path(unquote(parts.path)).is_file()
        try:
            response = requests.head(
                url,
                allow_redirects=True,
                headers=HEADERS,
                timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
            )
        except requests.RequestException as e:
            raise self._request_error(url, e) from None
        if response.status_code in (404, 410):
            return False
        if response.status_code == 403:
            error = forbidden_error(response, f"{color} {month:%Y-%m}", redact_url(url))
            if isinstance(error, MonthNotPublishedError):
                return False
            raise error
        if response.status_code >= 400:
            raise SourceUnavailableError(f"{redact_url(url)} answered HTTP {response.status_code} to HEAD")
        return True

    def download(
        self,
        color: str,
        month: date,
        destination: Path,
        on_progress: Callable[[int], None] | None = None,
    ) -> DownloadedFile:
        """Stream the month's file to `destination` in chunks, hashing it on the way. A month the
        source cannot have (before the service began, later than it can have published) raises
        `MonthNotOfferedError` before any request."""
        self.trip_release.check_offered(color, month, datetime.now(UTC).date())
        return self._download(self.file_url(color, month), f"{color} {month:%Y-%m}", destination, on_progress)

    def zones_url(self) -> str:
        """The URL of the taxi zone lookup table: `{base}/misc/taxi_zone_lookup.csv` for the
        course's mirror, `misc/taxi_zone_lookup.csv` beside the TLC's `trip-data` folder."""
        check_source_url(self.base_url)
        return self.trip_release.zones_url(self.base_url)

    def safe_zones_url(self) -> str:
        """`zones_url` without any user:password part, for messages."""
        return redact_url(self.zones_url())

    def download_zones(self, destination: Path) -> DownloadedFile:
        """Copy the zone lookup table to `destination`, with the same errors, redaction, headers
        and file:// mirrors as the monthly files (a missing table is `MonthNotPublishedError`)."""
        return self._download(self.zones_url(), "the taxi zone table", destination)

    def _download(
        self, url: str, label: str, destination: Path, on_progress: Callable[[int], None] | None = None
    ) -> DownloadedFile:
        digest = hashlib.sha256()
        written = 0
        validators: dict[str, str] = {}
        with naming_the_file(destination), open(destination, "wb") as out:
            for chunk in self._chunks(url, label, validators):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                if on_progress:
                    on_progress(written)
        return DownloadedFile(
            redact_url(url),
            destination,
            written,
            digest.hexdigest(),
            last_modified=validators.get("last_modified"),
            etag=validators.get("etag"),
        )

    def _chunks(self, url: str, label: str, validators: dict[str, str]):
        """The file's bytes; `validators` gets its Last-Modified and ETag where known."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(unquote(parts.path))
            if not path.is_file():
                raise MonthNotPublishedError(
                    f"{label} is not in the mirror folder {path.parent}: no file {path.name} "
                    "(a file:// mirror holds only the files copied into it)"
                )
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            validators["last_modified"] = format_datetime(mtime, usegmt=True)
            with open(path, "rb") as f:
                yield from iter(lambda: f.read(CHUNK_BYTES), b"")
            return
        safe_url = redact_url(url)
        timeout = (self.connect_timeout_seconds, self.read_timeout_seconds)
        try:
            with requests.get(url, stream=True, timeout=timeout, headers=HEADERS) as response:
                status = response.status_code
                if status in (404, 410):
                    raise MonthNotPublishedError(f"{label} is not published: {safe_url} answered HTTP {status}")
                if status == 403:
                    raise forbidden_error(response, label, safe_url)
                if 400 <= status < 500:
                    raise SourceRejectedError(f"{safe_url} answered HTTP {status}")
                if status >= 500:
                    raise SourceUnavailableError(f"{safe_url} answered HTTP {status}")
                for header, key in (("Last-Modified", "last_modified"), ("ETag", "etag")):
                    if response.headers.get(header):
                        validators[key] = response.headers[header]
                floor = RateFloor(self.min_bytes, self.rate_window_seconds)
                for chunk in _as_received(response):
                    floor.check(len(chunk))
                    yield chunk
        except TooSlowError as e:
            raise SourceUnavailableError(f"{safe_url}: {e}", str(e)) from None
        except requests.TooManyRedirects:
            raise SourceRejectedError(f"{safe_url}: too many redirects") from None
        except requests.RequestException as e:
            raise self._request_error(url, e) from None

    def _request_error(self, url: str, error: requests.RequestException) -> Exception:
        """The error to raise for a request that got no answer: what happened and what to do,
        after the URL without its user:password (requests' own messages repeat it in full);
        transient unless a retry will give the same answer."""
        failure = describe_request_error(error, url, self.connect_timeout_seconds, self.read_timeout_seconds)
        message = f"{redact_url(url)}: {failure.reason}"
        return SourceRejectedError(message) if failure.permanent else SourceUnavailableError(message, failure.reason)


def _as_received(response: requests.Response):
    """The response's body as it arrives, each piece what one read of the socket gave (at most
    `CHUNK_BYTES`), so a trickle is seen at once rather than when a whole chunk has filled;
    urllib3's errors wrapped as requests' own, as `iter_content` does."""
    try:
        while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):
            yield chunk
    except urllib3.exceptions.ProtocolError as e:
        raise requests.exceptions.ChunkedEncodingError(e) from e
    except urllib3.exceptions.DecodeError as e:
        raise requests.exceptions.ContentDecodingError(e) from e
    except urllib3.exceptions.ReadTimeoutError as e:
        raise requests.exceptions.ConnectionError(e) from e
    except urllib3.exceptions.SSLError as e:
        raise requests.exceptions.SSLError(e) from e


def describe_bytes(count: float) -> str:
    """A byte count for messages: `48 bytes`, `64 KiB`, `1.5 MiB`."""
    if count < 1 << 10:
        return f"{count:,.0f} bytes"
    if count < 1 << 20:
        return f"{count / (1 << 10):,.4g} KiB"
    return f"{count / (1 << 20):,.4g} MiB"


class TooSlowError(Exception):
    """Fewer than the floor's bytes arrived in one window: the source trickles."""


class RateFloor:
    """Counts a download's bytes in consecutive windows of `window_seconds`; `check` raises
    `TooSlowError` once a whole window went by with fewer than `min_bytes`."""

    def __init__(self, min_bytes: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.min_bytes = min_bytes
        self.window_seconds = window_seconds
        self._clock = clock
        self._window_start = clock()
        self._window_bytes = 0

    def check(self, received: int) -> None:
        """Count `received` more bytes; raise `TooSlowError` naming the rate and the window when
        the window that just ended held fewer than `min_bytes`."""
        self._window_bytes += received
        elapsed = self._clock() - self._window_start
        if elapsed < self.window_seconds:
            return
        if self._window_bytes < self.min_bytes:
            raise TooSlowError(
                f"the download is too slow: {describe_bytes(self._window_bytes)} in the last {elapsed:.0f} s "
                f"({self._window_bytes / elapsed:,.0f} bytes/s), under the floor of {describe_bytes(self.min_bytes)} "
                f"in {self.window_seconds:g} s (TAXI_SOURCE_MIN_BYTES, TAXI_SOURCE_RATE_WINDOW)"
            )
        self._window_start, self._window_bytes = self._clock(), 0


MIRROR_HINT = "set TAXI_SOURCE_URL to a reachable mirror (a file:// folder works offline)"


@dataclass(frozen=True)
class RequestFailure:
    """What happened to a request and what to do, without the URL; `permanent` when a retry
    will give the same answer (a certificate this machine does not trust, TLS to a plain-HTTP
    port)."""

    reason: str
    permanent: bool = False


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it wraps: its `__cause__`/`__context__`, and the exception
    that requests and urllib3 keep in `args[0]` or `reason` (MaxRetryError, ProtocolError)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in wrapped if isinstance(e, BaseException)]


def _first(error: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    return next((e for e in causes(error) if isinstance(e, kinds)), None)


def _tls_failure(error: ssl.SSLError, where: str) -> RequestFailure:
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = "certificate verify failed" + (f": {error.verify_message}" if error.verify_message else "")
        return RequestFailure(
            f"TLS handshake with {where} failed ({detail}): this machine does not trust the server's certificate; "
            "fix the server's certificate, or set REQUESTS_CA_BUNDLE to a file holding its CA",
            permanent=True,
        )
    kind = (error.reason or "").replace("_", " ").lower()
    if kind == "wrong version number":
        return RequestFailure(
            f"TLS handshake with {where} failed (wrong version number): the server does not speak TLS on that "
            "port; if it serves plain HTTP, use http:// in TAXI_SOURCE_URL",
            permanent=True,
        )
    # An EOF or a reset in the middle of the handshake: a network or proxy hiccup, retried.
    return RequestFailure(f"TLS handshake with {where} failed ({kind or error.__class__.__name__}): retried")


def describe_request_error(
    error: requests.RequestException, url: str, connect_timeout: float, read_timeout: float
) -> RequestFailure:
    """What went wrong with a request to `url`, and what to do, naming the host (never the
    URL's user:password)."""
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(error, requests.exceptions.ProxyError):
        return RequestFailure("the HTTP(S) proxy failed or refused the connection: check HTTPS_PROXY and HTTP_PROXY")
    if _first(error, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return RequestFailure(
            f"no data for {read_timeout:g} s (read timeout): {host} accepted the connection, then stopped sending"
        )
    if _first(error, (urllib3.exceptions.NameResolutionError, socket.gaierror)):
        return RequestFailure(f"cannot resolve host {host}: no network, or a wrong TAXI_SOURCE_URL? {MIRROR_HINT}")
    if tls := _first(error, ssl.SSLError):
        return _tls_failure(tls, host if parts.port is None else f"{host}:{port}")
    if _first(error, ConnectionRefusedError):
        return RequestFailure(f"{host}:{port} refused the connection: is the mirror server running?")
    # urllib3's NameResolutionError and NewConnectionError are ConnectTimeoutErrors too: tried first.
    if _first(error, (requests.ConnectTimeout, TimeoutError)):
        return RequestFailure(
            f"no answer from {host} within {connect_timeout:g} s (connect timeout): is the host up, "
            f"or is a firewall in the way? or {MIRROR_HINT}"
        )
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return RequestFailure("the connection broke off in the middle of the file")
    if isinstance(error, requests.ConnectionError):
        return RequestFailure("connection failed or was reset")
    return RequestFailure(type(error).__name__)
