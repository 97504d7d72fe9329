"""What a failed HTTP request means, in words a user acts on: read from the types in the
exception's chain (requests wraps urllib3's, which wrap the socket's and the TLS layer's), not
from their messages, which repeat the full URL (with any password)."""

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3

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
