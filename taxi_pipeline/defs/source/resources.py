"""The source resource: a month's trip file, or the zone table, copied from the release's URL, an HTTP mirror
or a file:// folder to local disk and hashed; a failed request says what happened and what to do."""

import hashlib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import requests
import urllib3
from pydantic import Field

from taxi_pipeline.defs.source.releases import RELEASES, TripRelease
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline.settings import (
    DEFAULT_SOURCE,
    DEFAULT_SOURCE_MIN_BYTES,
    DEFAULT_SOURCE_RATE_WINDOW_SECONDS,
    DEFAULT_SOURCE_RETRY_DELAY_SECONDS,
    redact_url,
)

CHUNK_BYTES = 1 << 20
# A plain client name: CloudFront's firewall in front of the TLC's files is quicker to refuse
# the default `python-requests/x.y` of shared cloud addresses.
HEADERS = {"User-Agent": "taxi_pipeline/0.1 (NYC TLC trip-data loader)"}
WAF_HEADER = "x-amzn-waf-action"
MIRROR_HINT = "set TAXI_SOURCE_URL to a reachable mirror (a file:// folder works offline)"
Progress = Callable[[int], None] | None  # called with the bytes written so far
# What the source tells of its file, kept with each download to ask it conditionally next time.
VALIDATORS = ("etag", "last_modified", "file_bytes")


class SourceUnavailableError(TransientError):
    """A request that got no answer, or a download too slow. `reason` is the message without
    the URL: the command line's last line names it once for every step that failed for it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DownloadedFile:
    """A file copied from the source: its URL without user:password, its size and sha256, and the
    server's Last-Modified and ETag (a file's mtime for file://) as `validators`."""

    url: str
    bytes: int
    sha256: str
    validators: dict[str, str]


@dataclass(frozen=True)
class UnchangedFile:
    """The source's answer that its file is the one downloaded last time (`how` it told), with no bytes sent."""

    url: str
    validators: dict[str, str]
    how: str


def served_validators(headers: Mapping[str, str]) -> dict[str, str]:
    """The Last-Modified and ETag of an HTTP answer, as `DownloadedFile.validators` names them."""
    return {
        key: headers[header]
        for header, key in (("Last-Modified", "last_modified"), ("ETag", "etag"))
        if headers.get(header)
    }


def file_validators(path: Path) -> dict[str, str]:
    """A file:// mirror's file's mtime (as an HTTP date) and size, its validators."""
    stat = path.stat()
    return {
        "last_modified": format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC), True),
        "file_bytes": str(stat.st_size),
    }


def same_file(last: Mapping[str, str], now: Mapping[str, str]) -> bool:
    """Whether validators now name the file `last` named: the same ETag where both have one, else
    the same Last-Modified (and size, where both know it); False when neither was ever given."""
    if last.get("etag") and now.get("etag"):
        return last["etag"] == now["etag"]
    if not last.get("last_modified"):
        return False
    sizes = {last.get("file_bytes"), now.get("file_bytes")} - {None}
    return last["last_modified"] == now.get("last_modified") and len(sizes) <= 1


class TripSourceResource(dg.ConfigurableResource):
    """Where the monthly files are published and how long a download may take (checked by the settings)."""

    release: str = Field(default=DEFAULT_SOURCE, description="The source's layout and months (TAXI_SOURCE)")
    base_url: str = Field(default=RELEASES[DEFAULT_SOURCE].default_url, description="Base URL (TAXI_SOURCE_URL)")
    connect_timeout_seconds: float = Field(default=10.0, description="Seconds to wait for the connection")
    read_timeout_seconds: float = Field(default=60.0, description="Seconds without a byte before giving up")
    retry_delay_seconds: float = Field(
        default=DEFAULT_SOURCE_RETRY_DELAY_SECONDS, description="Base delay of the backoff (TAXI_SOURCE_RETRY_DELAY)"
    )
    min_bytes: int = Field(
        default=DEFAULT_SOURCE_MIN_BYTES, description="Fewest bytes a rate window must bring (TAXI_SOURCE_MIN_BYTES)"
    )
    rate_window_seconds: float = Field(
        default=DEFAULT_SOURCE_RATE_WINDOW_SECONDS, description="Seconds of a rate window (TAXI_SOURCE_RATE_WINDOW)"
    )

    @property
    def trip_release(self) -> TripRelease:
        return RELEASES[self.release]

    def file_url(self, color: str, month: date) -> str:
        return self.trip_release.file_url(self.base_url, color, month)

    def zones_url(self) -> str:
        return self.trip_release.zones_url(self.base_url)

    def is_published(self, color: str, month: date) -> bool:
        """Whether the source has the month's file: an HTTP HEAD (redirects followed) or a file check."""
        url = self.file_url(color, month)
        parts = urlsplit(url)
        if parts.scheme == "file":
            return Path(unquote(parts.path)).is_file()
        with self._request("HEAD", url) as response:
            return check_answer(response, f"{color} {month:%Y-%m}", redact_url(url)) is None

    def download(
        self,
        color: str,
        month: date,
        destination: Path,
        on_progress: Progress = None,
        unless_same_as: Mapping[str, str] | None = None,
    ) -> DownloadedFile | UnchangedFile:
        """Stream the month's file to `destination`, hashed on the way; a month the release lacks fails
        first. Given the validators of the last download (`unless_same_as`), asks conditionally
        (If-None-Match, If-Modified-Since; a file's mtime and size) and sends nothing if unchanged."""
        self.trip_release.check_offered(color, month, datetime.now(UTC).date())
        url = self.file_url(color, month)
        return self._download(url, f"{color} {month:%Y-%m}", destination, on_progress, unless_same_as)

    def served(self, color: str, month: date) -> dict[str, str]:
        """The validators of the month's file as the source serves it now: an HTTP HEAD, or a file's stat."""
        url = self.file_url(color, month)
        with self._opened(url, f"{color} {month:%Y-%m}", {}, "HEAD") as (validators, _):
            return validators

    def download_zones(self, destination: Path) -> DownloadedFile:
        """Copy the zone lookup table to `destination`."""
        return self._download(self.zones_url(), "the taxi zone table", destination)

    def _download(
        self,
        url: str,
        label: str,
        destination: Path,
        on_progress: Progress = None,
        last: Mapping[str, str] | None = None,
    ) -> DownloadedFile | UnchangedFile:
        digest = hashlib.sha256()
        with self._opened(url, label, last or {}) as (validators, chunks):
            if isinstance(chunks, str):
                return UnchangedFile(redact_url(url), validators, chunks)
            with open(destination, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    if on_progress:
                        on_progress(out.tell())
        return DownloadedFile(redact_url(url), destination.stat().st_size, digest.hexdigest(), validators)

    @contextmanager
    def _opened(
        self, url: str, label: str, last: Mapping[str, str], method: str = "GET"
    ) -> Iterator[tuple[dict[str, str], Iterator[bytes] | str]]:
        """The file's validators and its bytes, or how the source told that it is the one `last`
        names (then nothing more is read). HEAD reads no bytes."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(unquote(parts.path))
            if not path.is_file():
                raise PermanentError(
                    f"{label} is not in the mirror folder {path.parent}: no file {path.name} "
                    "(a file:// mirror holds only the files copied into it)"
                )
            validators = file_validators(path)
            if method == "HEAD":
                yield validators, "HEAD"
            elif same_file(last, validators):
                yield validators, "its mtime and size are the same"
            else:
                with open(path, "rb") as f:
                    yield validators, iter(lambda: f.read(CHUNK_BYTES), b"")
            return
        safe_url = redact_url(url)
        conditions = {"If-None-Match": last.get("etag"), "If-Modified-Since": last.get("last_modified")}
        with self._request(method, url, {k: v for k, v in conditions.items() if v}) as response:
            if response.status_code == 304:
                # A 304 may leave out what it did not change (always the length): the last ones stand.
                yield dict(last) | served_validators(response.headers), "HTTP 304 Not Modified"
                return
            if unpublished := check_answer(response, label, safe_url):
                raise PermanentError(unpublished)
            validators = served_validators(response.headers)
            if length := response.headers.get("Content-Length"):
                validators["file_bytes"] = length
            if method == "HEAD":
                yield validators, "HEAD"
            elif same_file(last, validators):  # a server that ignores If-None-Match and If-Modified-Since
                yield validators, "the same ETag or Last-Modified (the server ignored the conditional request)"
            else:
                yield validators, self._rate_checked(response, safe_url)

    def _rate_checked(self, response: requests.Response, safe_url: str) -> Iterator[bytes]:
        """The answer's body, failing when a rate window brings fewer than `min_bytes`."""
        window_start, window_bytes = time.monotonic(), 0
        # read1: each piece is what one read of the socket gave, so a trickle is seen at once.
        for chunk in iter(lambda: response.raw.read1(CHUNK_BYTES, decode_content=True), b""):
            window_bytes += len(chunk)
            elapsed = time.monotonic() - window_start
            if elapsed >= self.rate_window_seconds:
                if window_bytes < self.min_bytes:
                    reason = (
                        f"the download is too slow: {describe_bytes(window_bytes)} in the last {elapsed:.0f} s "
                        f"({window_bytes / elapsed:,.0f} bytes/s), under the floor of "
                        f"{describe_bytes(self.min_bytes)} in {self.rate_window_seconds:g} s "
                        "(TAXI_SOURCE_MIN_BYTES, TAXI_SOURCE_RATE_WINDOW)"
                    )
                    raise SourceUnavailableError(f"{safe_url}: {reason}", reason)
                window_start, window_bytes = time.monotonic(), 0
            yield chunk

    @contextmanager
    def _request(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> Iterator[requests.Response]:
        """The streamed answer to `method` on `url`; one that gets none raises what went wrong, the URL redacted."""
        timeouts = self.connect_timeout_seconds, self.read_timeout_seconds
        try:
            with requests.request(
                method, url, stream=True, timeout=timeouts, headers=HEADERS | dict(headers or {})
            ) as response:
                yield response
        except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
            reason, permanent = describe_request_error(e, url, *timeouts)
            message = f"{redact_url(url)}: {reason}"
            raise (PermanentError(message) if permanent else SourceUnavailableError(message, reason)) from None


def check_answer(response: requests.Response, label: str, safe_url: str) -> str | None:
    """None for a file served; why it is not published for 404, 410 and S3's 403 AccessDenied (the
    TLC's answer for a file it does not have yet; to a HEAD, any 403 but the firewall's). Raises a
    `TransientError` for a 5xx or a 403 of CloudFront's firewall, a `PermanentError` for any other 4xx."""
    status = response.status_code
    answered = f"{safe_url} answered HTTP {status}"
    to_head = " to HEAD" if response.request.method == "HEAD" else ""
    if status < 400:
        return None
    if status == 403 and WAF_HEADER in response.headers:
        raise TransientError(
            f"{answered} from the CDN's firewall ({WAF_HEADER}: {response.headers[WAF_HEADER]}): too many "
            "requests from this address; it is retried with backoff, or set TAXI_SOURCE_URL to a mirror"
        )
    if status in (404, 410):
        return f"{label} is not published: {answered}"
    if status == 403 and (to_head or b"<Code>AccessDenied</Code>" in next(response.iter_content(64 << 10), b"")):
        return (
            f"{label} is not published: {answered} AccessDenied (how the TLC answers for a file it does not have yet)"
        )
    raise (TransientError if status >= 500 else PermanentError)(answered + to_head)


def describe_bytes(count: float) -> str:
    """A byte count for messages: `48 bytes`, `64 KiB`, `1.5 MiB`."""
    if count < 1 << 10:
        return f"{count:,.0f} bytes"
    if count < 1 << 20:
        return f"{count / (1 << 10):,.4g} KiB"
    return f"{count / (1 << 20):,.4g} MiB"


def _first(error: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]):
    """The first exception of `kinds` in `error` or what it wraps (cause, context, `reason`, `args`)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if isinstance(current, kinds):
            return current
        if id(current) not in seen:
            seen.add(id(current))
            wrapped = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
            pending += [e for e in wrapped if isinstance(e, BaseException)]
    return None


def describe_request_error(error: Exception, url: str, connect_timeout: float, read_timeout: float) -> tuple[str, bool]:
    """What went wrong with a request to `url` and what to do, naming the host (never the URL's
    user:password), and whether a retry would give the same answer."""
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(error, requests.TooManyRedirects):
        return "too many redirects", True
    if _first(error, (requests.exceptions.ProxyError, urllib3.exceptions.ProxyError)):
        return "the HTTP(S) proxy failed or refused the connection: check HTTPS_PROXY and HTTP_PROXY", False
    if _first(error, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return (
            f"no data for {read_timeout:g} s (read timeout): {host} accepted the connection, then stopped sending",
            False,
        )
    if _first(error, (urllib3.exceptions.NameResolutionError, socket.gaierror)):
        return f"cannot resolve host {host}: no network, or a wrong TAXI_SOURCE_URL? {MIRROR_HINT}", False
    if tls := _first(error, ssl.SSLError):
        where = host if parts.port is None else f"{host}:{port}"
        if isinstance(tls, ssl.SSLCertVerificationError):
            detail = "certificate verify failed" + (f": {tls.verify_message}" if tls.verify_message else "")
            return (
                f"TLS handshake with {where} failed ({detail}): this machine does not trust the server's "
                "certificate; fix the server's certificate, or set REQUESTS_CA_BUNDLE to a file holding its CA"
            ), True
        # OpenSSL's reason code, the only way it tells TLS to a plain-HTTP port from a handshake cut short.
        kind = (tls.reason or "").replace("_", " ").lower()
        if kind == "wrong version number":
            return (
                f"TLS handshake with {where} failed (wrong version number): the server does not speak TLS on "
                "that port; if it serves plain HTTP, use http:// in TAXI_SOURCE_URL"
            ), True
        # An EOF or a reset in the middle of the handshake: a network or proxy hiccup, retried.
        return f"TLS handshake with {where} failed ({kind or tls.__class__.__name__}): retried", False
    if _first(error, ConnectionRefusedError):
        return f"{host}:{port} refused the connection: is the mirror server running?", False
    # urllib3's NameResolutionError and NewConnectionError are ConnectTimeoutErrors too: told apart above.
    if _first(error, (requests.ConnectTimeout, TimeoutError)):
        return (
            f"no answer from {host} within {connect_timeout:g} s (connect timeout): is the host up, "
            f"or is a firewall in the way? or {MIRROR_HINT}"
        ), False
    if isinstance(error, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)):
        return "the connection broke off in the middle of the file", False
    if isinstance(error, requests.ConnectionError):
        return "connection failed or was reset", False
    return type(error).__name__, False
