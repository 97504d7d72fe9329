"""The run-failure webhook against real servers on 127.0.0.1: bounded retries of transient
failures and none of the others (`WebhookResource.post`), and a tick of the real
`run_failure_webhook` that fails, is logged and moves on when the post still fails; messages name
the host, never the URL's path or query."""

import json
import logging
import re
import threading
import time

import dagster as dg
import pytest

from taxi_pipeline.defs.alerts.sensors import run_failure_webhook
from taxi_pipeline.defs.alerts.webhook import WebhookResource
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.errors import PermanentError, TransientError
from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serving
from taxi_pipeline_tests.support.ports import free_port
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, failure_sensor_context
from taxi_pipeline_tests.support.unreachable import refused_port

pytestmark = pytest.mark.faults

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

    with caplog.at_level(logging.DEBUG), pytest.raises(TransientError) as failure:
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

    with pytest.raises(TransientError) as failure:
        webhook(url, max_retries=2).post("hello")

    assert len(handler.bodies) == 3  # max_retries + 1
    assert str(failure.value) == f"TAXI_WEBHOOK_URL post failed after 3 attempts: HTTP 500 from {url[7:]}"


def test_the_default_policy_makes_four_attempts_with_backoff(http_server):
    handler = scripted_handler(503)
    url = http_server(handler)
    started = time.monotonic()

    with pytest.raises(TransientError, match="after 4 attempts: HTTP 503 from 127.0.0.1:"):
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

    with pytest.raises(PermanentError) as failure:
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

    with pytest.raises(PermanentError, match="after 1 attempt: HTTP 413"):
        webhook(url).post("hello")

    assert len(handler.bodies) == 1


def test_a_redirect_is_not_followed(http_server):
    handler = scripted_handler(302, headers={"Location": "/elsewhere"})
    url = http_server(handler)

    with pytest.raises(PermanentError, match="after 1 attempt: HTTP 302 from 127.0.0.1:"):
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

    with pytest.raises(TransientError) as failure:
        webhook(url, max_retries=1, timeout_seconds=0.3).post("hello")

    assert str(failure.value) == (
        f"TAXI_WEBHOOK_URL post failed after 2 attempts: no answer from {url[7:]} within 0.3 s (read timeout)"
    )
    assert Stalled.requests == 2
    assert time.monotonic() - started < 2


def test_without_a_url_nothing_is_posted():
    assert WebhookResource().post("hello") == 0  # logs instead; must not raise


@dg.op
def broken_step():
    raise ValueError("the source answered nonsense")


@dg.job
def broken_job():
    broken_step()


def evaluate_webhook_tick(instance, webhook: WebhookResource, cursor: str | None, tick: str):
    """One tick of the real run_failure_webhook as the daemon evaluates it: a persistent
    instance, the tick's log key (its captured log is what the UI shows for the tick)."""
    with dg.SensorEvaluationContext(
        instance_ref=instance.get_ref(),
        instance=instance,
        cursor=cursor,
        log_key=["taxi_pipeline", "run_failure_webhook", tick],
        sensor_name="run_failure_webhook",
        resources={"webhook": webhook},
    ) as context:
        return run_failure_webhook.evaluate_tick(context)


def tick_log(instance, data) -> list[tuple[str, str]]:
    """(level, message) of each line the tick logged, read back as the UI reads it."""
    from dagster._core.definitions.instigation_logger import get_instigation_log_records

    assert data.log_key, "the tick captured no log"
    return [(r["levelname"], r["msg"]) for r in get_instigation_log_records(instance, data.log_key)]


def fail_a_run(instance, webhook: WebhookResource):
    """The cursor of a first tick, then a run of broken_job that fails after it."""
    first = evaluate_webhook_tick(instance, webhook, None, "1")  # sets the cursor to "now"
    assert "Initiating run_failure_webhook" in first.skip_message
    result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return first.cursor, result.run_id


def test_a_post_that_keeps_failing_fails_the_tick_once_and_says_so(http_server):
    handler = scripted_handler(500)
    base = http_server(handler)
    webhook = WebhookResource(url=f"{base}{SECRET_PATH}", max_retries=1, backoff_seconds=0)
    with dg.instance_for_test() as instance:
        cursor, run_id = fail_a_run(instance, webhook)

        data = evaluate_webhook_tick(instance, webhook, cursor, "2")

        expected = f"TAXI_WEBHOOK_URL post failed after 2 attempts: HTTP 500 from {base[7:]}"
        # The daemon turns a reaction with an error into a FAILURE tick showing that error...
        [reaction] = data.dagster_run_reactions
        assert reaction.dagster_run.run_id == run_id and expected in reaction.error.message
        assert "TransientError" in reaction.error.to_string()
        # ... and the tick's log says which run was not posted, and why.
        warning = f"failed run {run_id[:8]} of broken_job was not posted: {expected}"
        assert ("WARNING", warning) in tick_log(instance, data)
        for text in (reaction.error.to_string(), *(m for _, m in tick_log(instance, data))):
            assert "hook-secret-token" not in text and "/services/" not in text
        assert len(handler.bodies) == 2  # the bounded retries: max_retries + 1

        # The cursor moved past the run anyway: the next tick does not post it again.
        again = evaluate_webhook_tick(instance, webhook, data.cursor, "3")
        assert again.dagster_run_reactions == [] and again.skip_message
        assert len(handler.bodies) == 2


def test_a_posted_failure_is_logged_on_the_tick(http_server):
    handler = scripted_handler(500, 200)
    base = http_server(handler)
    webhook = WebhookResource(url=f"{base}{SECRET_PATH}", backoff_seconds=0)
    with dg.instance_for_test() as instance:
        cursor, run_id = fail_a_run(instance, webhook)

        data = evaluate_webhook_tick(instance, webhook, cursor, "2")

        [reaction] = data.dagster_run_reactions
        assert reaction.error is None  # the daemon records a SUCCESS tick for the run
        [(_, body)] = {(path, json.dumps(body)) for path, body in handler.bodies}
        assert json.loads(body)["text"].startswith(
            f"taxi_pipeline: run {run_id[:8]} of broken_job failed.\n- broken_step:"
        )
        posted = f"posted failed run {run_id[:8]} of broken_job to TAXI_WEBHOOK_URL ({base[7:]}) in 2 attempt(s)"
        assert ("INFO", posted) in tick_log(instance, data)


class TricklingAnswer(QuietRequestHandler):
    """Takes the post, then answers one byte a second, never finishing (until `stop` is set):
    each read gets a byte well within its timeout. Notes when the client has gone."""

    stop = threading.Event()
    client_gone = threading.Event()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        answer = b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"x" * 10_000
        for byte in answer:
            if self.stop.wait(1.0):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                type(self).client_gone.set()
                return


@pytest.fixture
def trickling_answer(http_server):
    handler = type("Trickle", (TricklingAnswer,), {"stop": threading.Event(), "client_gone": threading.Event()})
    yield handler, http_server(handler)
    handler.stop.set()


def test_a_trickling_answer_cannot_hold_the_tick_past_the_posts_deadline(trickling_answer):
    handler, base = trickling_answer
    deadline = 2.0
    # Each read's timeout (3 s) is never reached: only the overall deadline ends the post.
    webhook = WebhookResource(url=f"{base}{SECRET_PATH}", timeout_seconds=3.0, deadline_seconds=deadline)
    with dg.instance_for_test() as instance:
        cursor, run_id = fail_a_run(instance, webhook)
        started = time.monotonic()

        data = evaluate_webhook_tick(instance, webhook, cursor, "2")

        took = time.monotonic() - started
        assert deadline <= took < deadline + 1.5, took
        expected = f"TAXI_WEBHOOK_URL post failed: no complete answer from {base[7:]} within 2 s, the post's deadline"
        [reaction] = data.dagster_run_reactions
        assert expected in reaction.error.message
        assert ("WARNING", f"failed run {run_id[:8]} of broken_job was not posted: {expected}") in tick_log(
            instance, data
        )
        for text in (reaction.error.to_string(), *(m for _, m in tick_log(instance, data))):
            assert_no_secret(text)
    # The abandoned post does not linger either: its connection is shut, its thread ends.
    assert handler.client_gone.wait(5)
    deadline_passed = time.monotonic()
    while any(t.name.startswith("taxi-pipeline-webhook-post") for t in threading.enumerate()):
        assert time.monotonic() - deadline_passed < 10, "the post's thread is still running"
        time.sleep(0.05)


def test_without_a_url_nothing_is_posted_and_the_tick_says_so():
    with dg.instance_for_test() as instance:
        cursor, run_id = fail_a_run(instance, WebhookResource())

        data = evaluate_webhook_tick(instance, WebhookResource(), cursor, "2")

        assert data.dagster_run_reactions == []
        assert data.skip_message == f"no TAXI_WEBHOOK_URL set: failed run {run_id[:8]} of broken_job was not posted"
        assert ("INFO", data.skip_message) in tick_log(instance, data)
        assert evaluate_webhook_tick(instance, WebhookResource(), data.cursor, "3").skip_message != data.skip_message


def test_a_run_that_used_up_its_retries_is_posted_with_its_cause_not_only_max_retries(make_resources):
    # The source URL carries a password (percent-encoded, as the README asks): the cause names
    # the URL, so the post must show it redacted.
    password = "Src%2Fs3cret-TOKEN"
    source_url = f"http://reader:{password}@127.0.0.1:{refused_port()}"
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [a for a in TRIP_ASSETS if a.key == dg.AssetKey("raw_trips")],
        partition_key="green|2020-04-01",
        resources={
            **make_resources(source_url),
            "source": TripSourceResource(base_url=source_url, retry_delay_seconds=0.05),
        },
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    context = failure_sensor_context(result, instance)
    handler = scripted_handler(200)

    with serving(handler) as url:
        run_failure_webhook(context, webhook=webhook(url))

    [(_, body)] = handler.bodies
    [line] = [line for line in body["text"].splitlines() if line.startswith("- raw_trips: ")]
    assert re.fullmatch(
        r"- raw_trips: http://\*\*\*@127\.0\.0\.1:\d+/green/green_tripdata_2020-04\.csv\.gz: "
        r"127\.0\.0\.1:\d+ refused the connection: is the mirror server running\? \(Exceeded max_retries of 3\)",
        line,
    ), line
    for secret in (password, "s3cret-TOKEN", "reader"):
        assert secret not in body["text"]
