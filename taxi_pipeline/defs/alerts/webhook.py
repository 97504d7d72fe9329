"""The webhook resource: Slack-compatible JSON ({"text": ...}) posted to TAXI_WEBHOOK_URL with urllib3's `Retry`
within a deadline. Messages name the host, never the URL's path or query: a Slack webhook's path is its secret."""

import socket
from concurrent import futures
from contextlib import suppress
from urllib.parse import urlsplit

import dagster as dg
import requests
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as u3
from urllib3.util import Retry

from taxi_pipeline.errors import PermanentError, TransientError, causes

RETRIED_STATUSES = frozenset({429, *range(500, 600)})
# What urllib3 is given (and logs, on a retry) in place of the URL's path and query.
WITHHELD_PATH = "/TAXI_WEBHOOK_URL-path-withheld"


class _WebhookRetry(Retry):
    """urllib3's `Retry`, but a Retry-After retries only a 429 or 503, not a 413 (too large stays so)."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})


class _PostAdapter(HTTPAdapter):
    """requests' adapter for one post: urllib3 sees WITHHELD_PATH, only the request line the real target;
    each socket is kept so that `give_up` can shut it (a blocked read then ends; close would not wake it)."""

    def __init__(self, retry: Retry) -> None:
        self._target, self._sockets, self._given_up = "", [], False
        super().__init__(max_retries=retry)

    def request_url(self, request, proxies) -> str:
        self._target = request.path_url
        return super().request_url(request, proxies).removesuffix(self._target) + WITHHELD_PATH

    def get_connection_with_tls_context(self, *args, **kwargs):
        """urllib3's pool for the post, whose connections keep their sockets here and send the real target."""
        pool = super().get_connection_with_tls_context(*args, **kwargs)
        adapter = self

        class Connection(pool.ConnectionCls):
            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                adapter._sockets.append(sock)  # before the flag is read, as give_up sets it first
                if adapter._given_up:
                    adapter.give_up()
                return sock

            def putrequest(self, method, url, *args, **kwargs):
                return super().putrequest(method, url.replace(WITHHELD_PATH, adapter._target, 1), *args, **kwargs)

        pool.ConnectionCls = Connection
        return pool

    def give_up(self) -> None:
        """Shut every socket of the post, and each one it opens from now on."""
        self._given_up = True
        for sock in list(self._sockets):
            with suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def _describe(error: BaseException, where: str, timeout: float) -> str:
    """What went wrong with a post to `where`, in words (an exception's own text may hold the URL)."""
    if isinstance(error, requests.RequestException) and error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]  # the urllib3 error requests wrapped
    if isinstance(error, u3.MaxRetryError):
        error = error.reason
    # The operating system's error behind it (a ProtocolError holds it as its last argument).
    inner = error.args[-1] if isinstance(error, u3.ProtocolError) and error.args else error
    chain = causes(inner) if isinstance(inner, BaseException) else ()
    os_error = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if isinstance(error, u3.NameResolutionError):
        return f"host name not found: {where}"
    if isinstance(error, u3.NewConnectionError):
        if isinstance(os_error, ConnectionRefusedError):
            return f"connection refused by {where}"
        return f"no connection to {where}" + (f": {os_error.strerror}" if os_error else "")
    if isinstance(error, u3.ConnectTimeoutError):
        return f"no connection to {where} within {timeout:g} s (connect timeout)"
    if isinstance(error, u3.ReadTimeoutError):
        return f"no answer from {where} within {timeout:g} s (read timeout)"
    if isinstance(error, u3.ProtocolError):
        return f"the connection to {where} broke off ({os_error.strerror if os_error else inner})"
    if isinstance(error, (u3.SSLError, requests.exceptions.SSLError)):
        return f"TLS handshake with {where} failed"
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return "TAXI_WEBHOOK_URL is not an http(s) URL"
    return f"{type(error).__name__} while posting to {where}"


class WebhookResource(dg.ConfigurableResource):
    """A webhook URL (TAXI_WEBHOOK_URL; a Slack incoming webhook works), a secret never logged or
    raised. A post makes at most `max_retries + 1` attempts (connection errors, timeouts, HTTP 429
    and 5xx retried with backoff or the server's Retry-After) and ends within `deadline_seconds`."""

    url: str | None = Field(default=None, description="Webhook URL (TAXI_WEBHOOK_URL)")
    timeout_seconds: float = Field(default=5.0, gt=0, description="Connect and read timeout of each attempt")
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries: connection errors, timeouts, HTTP 429/5xx")
    backoff_seconds: float = Field(default=0.25, ge=0, description="urllib3's backoff_factor: waits of 0, 2x, 4x this")
    backoff_max_seconds: float = Field(default=5.0, ge=0, description="Longest wait between two attempts")
    retry_after_max_seconds: int = Field(default=5, ge=0, description="Longest Retry-After (429, 503) honoured")
    deadline_seconds: float = Field(default=30.0, gt=0, description="Longest a post takes, retries and waits included")

    @property
    def host(self) -> str:
        """The host (and port, when the URL names one): what messages show of the URL."""
        parts = urlsplit(self.url or "")
        host = parts.hostname or "an unnamed host"
        with suppress(ValueError):  # a port that is not a number
            return f"{host}:{parts.port}" if parts.port else host
        return host

    def post(self, text: str) -> int:
        """Post `{"text": text}`; the attempts it took (0: no URL set, nothing posted). Raises
        `TransientError` when the post still fails after its retries or deadline, `PermanentError`
        for a failure not retried (a 4xx but 429; a 3xx, as a redirected POST loses its body)."""
        if not self.url:
            dg.get_dagster_logger().info(f"no TAXI_WEBHOOK_URL set; not posted: {text}")
            return 0
        # The last answer is returned, not raised, so that its status can be reported.
        retry = _WebhookRetry(
            total=self.max_retries,
            allowed_methods=frozenset({"POST"}),
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=self.backoff_seconds,
            backoff_max=self.backoff_max_seconds,
            retry_after_max=self.retry_after_max_seconds,
            raise_on_status=False,
        )
        adapter = _PostAdapter(retry)

        def send() -> requests.Response:
            with requests.Session() as session:
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                return session.post(self.url, json={"text": text}, timeout=self.timeout_seconds, allow_redirects=False)

        # In a thread of its own, which the deadline abandons after shutting the post's sockets.
        pool = futures.ThreadPoolExecutor(1, thread_name_prefix="taxi-pipeline-webhook-post")
        posted = pool.submit(send)
        pool.shutdown(wait=False)
        if not futures.wait([posted], timeout=self.deadline_seconds).done:
            adapter.give_up()
            raise TransientError(
                f"TAXI_WEBHOOK_URL post failed: no complete answer from {self.host} within "
                f"{self.deadline_seconds:g} s, the post's deadline"
            )
        try:
            response = posted.result()
        except requests.RequestException as e:
            exhausted = bool(e.args) and isinstance(e.args[0], u3.MaxRetryError)
            n = self.max_retries + 1
            tries = f"after {n} attempt{'s' * (n > 1)}" if exhausted else "not retried"
            raise (TransientError if exhausted else PermanentError)(
                f"TAXI_WEBHOOK_URL post failed {tries}: {_describe(e, self.host, self.timeout_seconds)}"
            ) from None
        attempts = len(response.raw.retries.history) + 1
        if response.status_code >= 300:
            retried = response.status_code in RETRIED_STATUSES
            raise (TransientError if retried else PermanentError)(
                f"TAXI_WEBHOOK_URL post failed after {attempts} attempt{'s' * (attempts > 1)}: "
                f"HTTP {response.status_code} from {self.host}{'' if retried else ' (not retried)'}"
            )
        return attempts
