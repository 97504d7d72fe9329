"""WebhookResource.post against real servers on 127.0.0.1: bounded retries of transient failures,
none of the others, and messages that name the host but never the URL's path or query."""

import json
import logging
import time

import pytest

from taxi_pipeline.resources.notify import WebhookPostError, WebhookResource
from taxi_pipeline_tests.support.http_server import QuietRequestHandler
from taxi_pipeline_tests.support.ports import free_port

SECRET_PATH = "/services/T000/B000/hook-secret-token"
SECRET_QUERY = "token=query-secret"


def scripted_handler(*statuses: int, headers: dict[str, str] | None = None) -> type[QuietRequestHandler]:
    """A handler class that answers its POSTs with `statuses` in turn (the last one repeated) and
    records each request's body on the class."""

    class Scripted(QuietRequestHandler):
        bodies: list = []

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            Scripted.bodies.append((self.path, json.loads(body)))
            status = statuses[min(len(Scripted.bodies), len(statuses)) - 1]
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Scripted


def webhook(base_url: str, **settings) -> WebhookResource:
    settings = {"backoff_seconds": 0.0, "timeout_seconds": 2.0, **settings}
    return WebhookResource(url=f"{base_url}{SECRET_PATH}?{SECRET_QUERY}", **settings)


def assert_no_secret(text: str) -> None:
    assert "hook-secret-token" not in text and "query-secret" not in text and "/services/" not in text


def test_a_refused_connection_is_retried_then_named_without_the_url(caplog):
    port = free_port()  # bound, noted and closed: nothing listens there

    with caplog.at_level(logging.DEBUG), pytest.raises(WebhookPostError) as failure:
        webhook(f"http://127.0.0.1:{port}").post("hello")

    assert str(failure.value) == (
        f"TAXI_WEBHOOK_URL post failed after 4 attempts: connection refused by 127.0.0.1:{port}"
    )
    # urllib3 logs each retry with the request's path; the path is withheld from those records.
    retries = [r for r in caplog.records if r.name.startswith("urllib3") and "Retrying" in r.getMessage()]
    assert len(retries) == 3
    assert_no_secret(caplog.text)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__  # no chained requests error


def test_http_500_is_retried_max_retries_times_and_then_reported(http_server):
    handler = scripted_handler(500)
    url = http_server(handler)

    with pytest.raises(WebhookPostError) as failure:
        webhook(url, max_retries=2).post("hello")

    assert len(handler.bodies) == 3  # max_retries + 1
    assert str(failure.value) == f"TAXI_WEBHOOK_URL post failed after 3 attempts: HTTP 500 from {url[7:]}"


def test_the_default_policy_makes_four_attempts_with_backoff(http_server):
    handler = scripted_handler(503)
    url = http_server(handler)
    started = time.monotonic()

    with pytest.raises(WebhookPostError, match="after 4 attempts: HTTP 503 from 127.0.0.1:"):
        WebhookResource(url=f"{url}{SECRET_PATH}").post("hello")

    assert len(handler.bodies) == 4
    # urllib3's backoff_factor 0.25: waits of 0, 0.5 and 1 s between the four attempts.
    assert 1.4 <= time.monotonic() - started < 5


def test_two_500s_then_a_200_is_a_success_after_three_attempts(http_server):
    handler = scripted_handler(500, 500, 200)
    url = http_server(handler)

    attempts = webhook(url).post("run 1234 failed")

    assert attempts == 3
    assert handler.bodies == [(f"{SECRET_PATH}?{SECRET_QUERY}", {"text": "run 1234 failed"})] * 3


def test_a_400_is_not_retried(http_server):
    handler = scripted_handler(400)
    url = http_server(handler)

    with pytest.raises(WebhookPostError) as failure:
        webhook(url).post("hello")

    assert len(handler.bodies) == 1
    assert str(failure.value) == f"TAXI_WEBHOOK_URL post failed after 1 attempt: HTTP 400 from {url[7:]} (not retried)"


def test_a_429_is_retried_after_its_retry_after_within_the_cap(http_server):
    handler = scripted_handler(429, 200, headers={"Retry-After": "3600"})
    url = http_server(handler)
    started = time.monotonic()

    attempts = webhook(url, retry_after_max_seconds=1).post("hello")

    assert attempts == 2 and len(handler.bodies) == 2
    assert 0.9 <= time.monotonic() - started < 3  # waited the cap (1 s), not the hour asked for


def test_a_413_with_retry_after_is_not_retried(http_server):
    handler = scripted_handler(413, headers={"Retry-After": "1"})
    url = http_server(handler)

    with pytest.raises(WebhookPostError, match="after 1 attempt: HTTP 413"):
        webhook(url).post("hello")

    assert len(handler.bodies) == 1


def test_a_redirect_is_not_followed(http_server):
    handler = scripted_handler(302, headers={"Location": "/elsewhere"})
    url = http_server(handler)

    with pytest.raises(WebhookPostError, match="after 1 attempt: HTTP 302 from 127.0.0.1:"):
        webhook(url).post("hello")

    assert [path for path, _ in handler.bodies] == [f"{SECRET_PATH}?{SECRET_QUERY}"]


def test_a_server_that_never_answers_times_out_within_the_bound(http_server):
    class Stalled(QuietRequestHandler):
        requests = 0

        def do_POST(self):
            Stalled.requests += 1
            time.sleep(2)

    url = http_server(Stalled)
    started = time.monotonic()

    with pytest.raises(WebhookPostError) as failure:
        webhook(url, max_retries=1, timeout_seconds=0.3).post("hello")

    assert str(failure.value) == (
        f"TAXI_WEBHOOK_URL post failed after 2 attempts: no answer from {url[7:]} within 0.3 s (read timeout)"
    )
    assert Stalled.requests == 2
    assert time.monotonic() - started < 2


def test_without_a_url_nothing_is_posted():
    assert WebhookResource().post("hello") == 0  # logs instead; must not raise
