import json
import shutil

import dagster as dg
import pytest

from taxi_pipeline.partitions import course_partitions
from taxi_pipeline.resources.notify import WebhookResource
from taxi_pipeline.resources.source import TripSourceResource
from taxi_pipeline.sensors import build_new_month_sensor, run_failure_webhook
from taxi_pipeline.sources import COURSE
from taxi_pipeline_tests.resources.test_notify import SECRET_PATH, scripted_handler
from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serving
from taxi_pipeline_tests.support.samples import RELEASE_DIR, release_file


def requested(result: dg.SensorResult) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests)


@pytest.fixture
def mirror(tmp_path):
    """A release mirror holding green 2020-03..05 and fhv 2019-01 (copies of real files)."""
    root = tmp_path / "release"
    (root / "green").mkdir(parents=True)
    (root / "fhv").mkdir()
    for month in ("2020-03", "2020-04", "2020-05"):
        shutil.copy(release_file("green", "2020-04"), release_file("green", month, root))
    shutil.copy(release_file("fhv", "2019-01"), release_file("fhv", "2019-01", root))
    return root


def evaluate(instance, source, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"source": source})
    return build_new_month_sensor(course_partitions, COURSE)(context)


def test_requests_published_months_after_the_latest_loaded(mirror):
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization("warehouse_trips", partition="green|2020-03-01"))

    result = evaluate(instance, TripSourceResource(base_url=mirror.as_uri()))

    assert requested(result) == ["fhv|2019-01-01", "green|2020-04-01", "green|2020-05-01"]
    assert json.loads(result.cursor) == {"fhv": "2019-01-01", "green": "2020-05-01"}


def test_the_cursor_stops_repeats_and_a_new_file_is_noticed(mirror):
    instance = dg.DagsterInstance.ephemeral()
    source = TripSourceResource(base_url=mirror.as_uri())
    first = evaluate(instance, source)

    assert requested(evaluate(instance, source, first.cursor)) == []
    shutil.copy(release_file("fhv", "2019-01"), release_file("fhv", "2019-02", mirror))
    assert requested(evaluate(instance, source, first.cursor)) == ["fhv|2019-02-01"]


def test_looks_at_an_http_source_with_head_requests(release_url):
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization("warehouse_trips", partition="green|2020-03-01"))

    result = evaluate(instance, TripSourceResource(base_url=release_url))

    # The bundled mirror publishes green 2020-04 (not 2020-05) and fhv 2019-01 (not 2019-02).
    assert requested(result) == ["fhv|2019-01-01", "green|2020-04-01"]


class RecordingHandler(QuietRequestHandler):
    bodies: list = []

    def do_POST(self):
        RecordingHandler.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_failed_run_is_posted_to_the_webhook_without_secrets(make_resources, tmp_path):
    from taxi_pipeline_tests.support.runs import TRIP_ASSETS

    RecordingHandler.bodies = []
    instance = dg.DagsterInstance.ephemeral()
    with serving(RecordingHandler) as url:
        webhook_url = f"{url}/services/T000/B000/hook-secret-token"
        result = dg.materialize(  # the mirror has no yellow 2020-01: the run fails
            TRIP_ASSETS,
            partition_key="yellow|2020-01-01",
            resources=make_resources(RELEASE_DIR.as_uri()),
            instance=instance,
            raise_on_error=False,
        )
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_webhook",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        run_failure_webhook(context, webhook=WebhookResource(url=webhook_url))

    [body] = RecordingHandler.bodies
    assert list(body) == ["text"]
    assert f"run {result.run_id[:8]}" in body["text"] and "for partition yellow|2020-01-01 failed" in body["text"]
    assert "- raw_trips: yellow 2020-01 is not published" in body["text"]
    assert "hook-secret-token" not in body["text"]


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
        assert "WebhookPostError" in reaction.error.to_string()
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


def test_without_a_url_nothing_is_posted_and_the_tick_says_so():
    with dg.instance_for_test() as instance:
        cursor, run_id = fail_a_run(instance, WebhookResource())

        data = evaluate_webhook_tick(instance, WebhookResource(), cursor, "2")

        assert data.dagster_run_reactions == []
        assert data.skip_message == f"no TAXI_WEBHOOK_URL set: failed run {run_id[:8]} of broken_job was not posted"
        assert ("INFO", data.skip_message) in tick_log(instance, data)
        assert evaluate_webhook_tick(instance, WebhookResource(), data.cursor, "3").skip_message != data.skip_message
