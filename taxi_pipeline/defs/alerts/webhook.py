"""Notifications: a webhook that takes Slack-compatible JSON ({"text": ...}).

Posts are retried by urllib3's `Retry` on a requests `HTTPAdapter`: connection refused or reset,
timeouts, HTTP 429 and 5xx, with exponential backoff and the server's Retry-After (capped). A
post, retries and waits included, has an overall deadline: per-read timeouts do not bound a
server that trickles its answer a byte at a time. A post that still fails, or outlives its
deadline, raises `WebhookPostError`, whose message names TAXI_WEBHOOK_URL, what went wrong and
the host, never the URL's path or query (a Slack webhook's path is its secret).
"""

import logging
import re
import socket
import threading
from urllib.parse import urlsplit

import dagster as dg
import requests
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import Retry

from taxi_pipeline.settings import redact_urls_in

# Transient answers: too many requests, and every server error.
RETRIED_STATUSES = frozenset({429, *range(500, 600)})
# The longest a post may hold the run-failure sensor, retries and waits included: above the
# default policy's worst case against a server that never answers (4 x 5 s plus 1.5 s of waits),
# well within the 60 s Dagster gives one sensor evaluation.
POST_DEADLINE_SECONDS = 30.0


class _WebhookRetry(Retry):
    """urllib3's `Retry`, except that a Retry-After header makes only a 429 or 503 retried (urllib3
    also retries a 413 that carries one; a payload too large stays too large)."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})


class WebhookPostError(Exception):
    """A post to TAXI_WEBHOOK_URL that failed after its retries (or at once, for an answer that
    retrying cannot change); the message says what failed and names the host, never the URL."""


class _WithholdWebhookPaths(logging.Filter):
    """Rewrites urllib3's log records that name a webhook's request path: urllib3 logs the path
    of every retried request ("Retrying (...) after connection broken by ...: /services/T0/B0/secret")
    at WARNING, and a webhook's path is its secret."""

    def __init__(self) -> None:
        super().__init__()
        self._targets: frozenset[str] = frozenset()

    def withhold(self, target: str) -> None:
        """Withhold `target` (a request path, with its query) from urllib3's records from now on."""
        self._targets = self._targets | {target}  # replaced, not changed: safe beside `filter`

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record, with each argument that holds a withheld path replaced."""
        targets = self._targets
        if targets and isinstance(record.args, tuple):
            record.args = tuple(
                "(TAXI_WEBHOOK_URL path withheld)"
                if isinstance(arg, str) and any(target in arg for target in targets)
                else arg
                for arg in record.args
            )
        return True


_withheld_paths = _WithholdWebhookPaths()
for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_withheld_paths)


def _where(url: str) -> str:
    """The host (and port, when the URL names one) of `url`: what messages may show of it."""
    parts = urlsplit(url)
    host = parts.hostname or "an unnamed host"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _os_error(error: BaseException) -> OSError | None:
    """The operating system's error behind `error`, following its causes and contexts."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.strerror:
            return error
        error = error.__cause__ or error.__context__
    return None


def _describe(error: BaseException, where: str, timeout_seconds: float) -> str:
    """What went wrong with a post to `where`, in words; never the URL, which an exception's own
    message often holds."""
    if isinstance(error, requests.RequestException) and error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]  # the urllib3 error requests wrapped
    if isinstance(error, MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, NameResolutionError):
        return f"host name not found: {where}"
    if isinstance(error, NewConnectionError):
        os_error = _os_error(error)
        if isinstance(os_error, ConnectionRefusedError):
            return f"connection refused by {where}"
        return f"no connection to {where}" + (f": {os_error.strerror}" if os_error else "")
    if isinstance(error, ConnectTimeoutError):
        return f"no connection to {where} within {timeout_seconds:g} s (connect timeout)"
    if isinstance(error, ReadTimeoutError):
        return f"no answer from {where} within {timeout_seconds:g} s (read timeout)"
    if isinstance(error, ProtocolError):
        os_error = _os_error(error)
        inner = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], BaseException) else None
        why = os_error.strerror if os_error else (str(inner) if inner else type(error).__name__)
        return f"the connection to {where} broke off ({why})"
    if isinstance(error, (SSLError, requests.exceptions.SSLError)):
        return f"TLS handshake with {where} failed"
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return "TAXI_WEBHOOK_URL is not an http(s) URL"
    return f"{type(error).__name__} while posting to {where}"


class _PostSockets:
    """The sockets of one post's connections, to shut when the post outlives its deadline: a
    read blocked on a trickling server then ends at once, and a connection opened later (a retry
    already under way) is shut as soon as it is made, so the abandoned post ends too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._given_up = False

    def opened(self, sock: socket.socket) -> None:
        """Keep `sock`, a new connection's socket; shut it at once if the post was given up."""
        with self._lock:
            self._sockets.append(sock)
            if self._given_up:
                _shut(sock)

    def give_up(self) -> None:
        """Shut every socket opened so far, and each one opened from now on."""
        with self._lock:
            self._given_up = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    """End both directions of `sock`: a read blocked on it returns at once (close would not wake it)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


class _DeadlineAdapter(HTTPAdapter):
    """requests' `HTTPAdapter` whose connections hand their sockets to a `_PostSockets`."""

    def __init__(self, sockets: _PostSockets, **kwargs) -> None:
        self._sockets = sockets  # before HTTPAdapter.__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        """urllib3's pool manager, its pools opening connections that report their sockets."""
        super().init_poolmanager(*args, **kwargs)
        classes = self.poolmanager.pool_classes_by_scheme
        self.poolmanager.pool_classes_by_scheme = {
            scheme: _reporting_pool(pool, self._sockets) for scheme, pool in classes.items()
        }


def _reporting_pool(pool_class: type, sockets: _PostSockets) -> type:
    """A subclass of the urllib3 connection pool `pool_class` whose connections report each socket
    they open (before any TLS handshake) to `sockets`."""

    class ReportingConnection(pool_class.ConnectionCls):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            sockets.opened(sock)
            return sock

    return type(pool_class.__name__, (pool_class,), {"ConnectionCls": ReportingConnection})


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


class WebhookResource(dg.ConfigurableResource):
    """A webhook URL (TAXI_WEBHOOK_URL; a Slack incoming webhook works). The URL is a secret: it
    is never logged or raised; messages name TAXI_WEBHOOK_URL and the host.

    A post is tried at most `max_retries + 1` times; the waits between attempts are 0, 2 and 4 x
    `backoff_seconds` (at most `backoff_max_seconds`), or the server's Retry-After up to
    `retry_after_max_seconds`. With the defaults a server that answers 5xx at once costs about
    0.75 s; one that accepts connections and never answers, 4 x 5 s plus the waits. Whatever the
    server does, a post gives up after `deadline_seconds` in all (one that trickles its answer a
    byte at a time would otherwise reset each read's timeout forever), within the 60 s Dagster
    gives one sensor evaluation.
    """

    url: str | None = Field(default=None, description="Webhook URL (TAXI_WEBHOOK_URL)")
    timeout_seconds: float = Field(default=5.0, gt=0, description="Connect and read timeout of each attempt")
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries after the first attempt: connection errors, timeouts, HTTP 429/5xx"
    )
    backoff_seconds: float = Field(
        default=0.25,
        ge=0,
        description="urllib3's backoff_factor: the second retry waits 2x this, the third 4x (the first is immediate)",
    )
    backoff_max_seconds: float = Field(default=5.0, ge=0, description="Longest wait between two attempts")
    retry_after_max_seconds: int = Field(
        default=5, ge=0, description="Longest Retry-After (of a 429 or 503) that is honoured"
    )
    deadline_seconds: float = Field(
        default=POST_DEADLINE_SECONDS,
        gt=0,
        description="Longest a post takes in all, retries and waits included, however slowly the server answers",
    )

    def retry(self) -> Retry:
        """The urllib3 retry policy of a post: bounded, POST allowed, transient failures only; the
        last answer is returned (not raised) so that its status can be reported."""
        return _WebhookRetry(
            total=self.max_retries,
            allowed_methods=frozenset({"POST"}),
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=self.backoff_seconds,
            backoff_max=self.backoff_max_seconds,
            respect_retry_after_header=True,
            retry_after_max=self.retry_after_max_seconds,
            raise_on_status=False,
        )

    @property
    def host(self) -> str:
        """The host (and port) of the URL, what messages show of it; "" with no URL."""
        return _where(self.url) if self.url else ""

    def post(self, text: str) -> int:
        """Post `{"text": text}`; returns how many attempts it took (0: no TAXI_WEBHOOK_URL set,
        nothing posted). Raises `WebhookPostError` when the post still fails after its retries,
        at once for an answer that is not retried (a 4xx other than 429; a 3xx, since a
        redirected POST would lose its body), or when it has no complete answer within
        `deadline_seconds`."""
        if not self.url:
            dg.get_dagster_logger().info(f"no TAXI_WEBHOOK_URL set; not posted: {text}")
            return 0
        parts = urlsplit(self.url)
        _withheld_paths.withhold((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        where = _where(self.url)
        response, error = self._send_within_deadline(text)
        if error is not None:
            exhausted = bool(error.args) and isinstance(error.args[0], MaxRetryError)
            tries = f"after {_attempts(self.max_retries + 1)}" if exhausted else "not retried"
            raise WebhookPostError(
                f"TAXI_WEBHOOK_URL post failed {tries}: {_describe(error, where, self.timeout_seconds)}"
            ) from None
        if response is None:
            raise WebhookPostError(
                f"TAXI_WEBHOOK_URL post failed: no complete answer from {where} within "
                f"{self.deadline_seconds:g} s, the post's deadline"
            )
        retries = getattr(response.raw, "retries", None)
        attempts = len(retries.history) + 1 if retries is not None else 1
        if response.status_code >= 300:
            retried = "" if response.status_code in RETRIED_STATUSES else " (not retried)"
            raise WebhookPostError(
                f"TAXI_WEBHOOK_URL post failed after {_attempts(attempts)}: "
                f"HTTP {response.status_code} from {where}{retried}"
            )
        return attempts

    def _send_within_deadline(self, text: str) -> tuple[requests.Response | None, requests.RequestException | None]:
        """Post `{"text": text}` with the retry policy, in a thread of its own that the caller waits
        for at most `deadline_seconds`: (the response, None), (None, requests' error), or (None,
        None) when the deadline passed, the post's sockets then shut so that its thread ends too."""
        sockets = _PostSockets()
        outcome: dict[str, object] = {}

        def send() -> None:
            try:
                with requests.Session() as session:
                    adapter = _DeadlineAdapter(sockets, max_retries=self.retry())
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    outcome["response"] = session.post(
                        self.url, json={"text": text}, timeout=self.timeout_seconds, allow_redirects=False
                    )
            except requests.RequestException as e:
                outcome["error"] = e
            except Exception as e:  # raised again in the caller's thread
                outcome["unexpected"] = e

        worker = threading.Thread(target=send, name="taxi-pipeline-webhook-post", daemon=True)
        worker.start()
        worker.join(self.deadline_seconds)
        if worker.is_alive():
            sockets.give_up()
            return None, None
        if "unexpected" in outcome:
            raise outcome["unexpected"]
        return outcome.get("response"), outcome.get("error")


def run_partition(run: dg.DagsterRun) -> str | None:
    """The partition (or partition range) a run worked on, from its tags."""
    if "dagster/partition" in run.tags:
        return run.tags["dagster/partition"]
    start, end = run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")
    if start is None:
        return None
    return start if start == end else f"{start}...{end}"


def _error_text(error) -> str:
    """The first line of a serialized error's message, without its "package.module.Class: "
    prefix; "" when it says nothing more than the class."""
    lines = (error.message or "").strip().splitlines()
    return re.sub(r"^[\w.]+: ?", "", lines[0]).strip() if lines else ""


def step_failure_text(error) -> str:
    """What failed a step, in one line with any URL's user:password replaced by `***`: the
    innermost message of the error's `cause` chain (a step that used up its retries fails with
    Dagster's "Exceeded max_retries of 3", whose cause is the last attempt's error), followed by
    the outer message when it differs."""
    if error is None:
        return "failed"
    outer = _error_text(error) or "failed"
    inner, cause = "", error.cause
    while cause is not None:
        inner = _error_text(cause) or inner
        cause = cause.cause
    text = outer if not inner or inner == outer else f"{inner} ({outer})"
    return redact_urls_in(text)


def failure_message(run: dg.DagsterRun, step_failures: list[dg.DagsterEvent]) -> str:
    """One message about a failed run: job, partition, run id, and what failed each failed step
    (`step_failure_text`)."""
    partition = run_partition(run)
    where = f" for partition {partition}" if partition else ""
    lines = [f"taxi_pipeline: run {run.run_id[:8]} of {run.job_name}{where} failed."]
    for event in step_failures:
        lines.append(f"- {event.step_key}: {step_failure_text(event.step_failure_data.error)}")
    return "\n".join(lines)
