"""Real HTTP servers on 127.0.0.1 for the tests: started in a thread, silent, stopped after.

`QuietHandler` serves a folder (e.g. the bundled release mirror, with `functools.partial(
QuietHandler, directory=...)`); subclasses of `QuietRequestHandler` answer as a test needs (a
5xx, a reset, a stall, a webhook that records what it was sent).
"""

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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
