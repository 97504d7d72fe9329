"""Real HTTP servers on 127.0.0.1 for the tests: started in a thread, silent, stopped after.

`QuietHandler` serves a folder (e.g. the bundled release mirror, with `functools.partial(
QuietHandler, directory=...)`); subclasses of `QuietRequestHandler` answer as a test needs (a
5xx, a reset, a stall, a webhook that records what it was sent); `ValidatingHandler` serves a
folder with ETag and Last-Modified and answers conditional requests.
"""

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path


class QuietRequestHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs no request, to keep test output readable."""

    def log_message(self, format, *args):
        """Log nothing."""


class QuietHandler(QuietRequestHandler, http.server.SimpleHTTPRequestHandler):
    """Serves the files of a folder (`directory=`), logging no request."""


def serve(handler) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start an HTTP server on 127.0.0.1 (free port) in a thread; returns it and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def stop_server(server: http.server.ThreadingHTTPServer) -> None:
    """Stop a server that `serve` started and close its socket."""
    server.shutdown()
    server.server_close()


@contextmanager
def serving(handler) -> Iterator[str]:
    """`serve(handler)` for the length of a `with` block; yields the base URL."""
    server, url = serve(handler)
    try:
        yield url
    finally:
        stop_server(server)


@dataclass
class Served:
    """What a `ValidatingHandler` server was asked and sent: each request's method and path, and
    the body bytes it wrote."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    body_bytes: int = 0

    def methods(self) -> list[str]:
        return [method for method, _ in self.requests]


class ValidatingHandler(QuietRequestHandler):
    """Serves the files of a folder with an ETag (a hash of the bytes) and a Last-Modified (the
    mtime), answering If-None-Match and If-Modified-Since with 304 as CDNs and S3 do; records what
    it served in `served`. `validators=False` sends neither header; `conditional=False` ignores
    the conditional headers."""

    def __init__(self, *args, directory: Path, served: Served, validators=True, conditional=True, **kwargs):
        self.directory, self.served, self.validators, self.conditional = directory, served, validators, conditional
        super().__init__(*args, **kwargs)

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        self.served.requests.append((self.command, self.path))
        path = self.directory / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        mtime = int(path.stat().st_mtime)
        headers = {"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)} if self.validators else {}
        if self.validators and self.conditional:
            if_none_match, if_modified_since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if (if_none_match == etag) or (
                if_none_match is None
                and if_modified_since
                and parsedate_to_datetime(if_modified_since).timestamp() >= mtime
            ):
                self.send_response(304)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                return
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)
            self.served.body_bytes += len(data)
