import json
import shutil

import dagster as dg
import pytest

from taxi_pipeline.defs.alerts.sensors import run_failure_webhook
from taxi_pipeline.defs.alerts.webhook import WebhookResource
from taxi_pipeline.defs.source.releases import COURSE
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.source.sensors import build_new_month_sensor
from taxi_pipeline.partitions import course_partitions
from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serving
from taxi_pipeline_tests.support.runs import failure_sensor_context
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
    from taxi_pipeline_tests.support.runs import TRIP_ASSETS, TRIP_CHECKS

    RecordingHandler.bodies = []
    instance = dg.DagsterInstance.ephemeral()
    with serving(RecordingHandler) as url:
        webhook_url = f"{url}/services/T000/B000/hook-secret-token"
        result = dg.materialize(  # the mirror has no yellow 2020-01: the run fails
            TRIP_ASSETS + TRIP_CHECKS,
            partition_key="yellow|2020-01-01",
            resources=make_resources(RELEASE_DIR.as_uri()),
            instance=instance,
            raise_on_error=False,
        )
        context = failure_sensor_context(result, instance)
        run_failure_webhook(context, webhook=WebhookResource(url=webhook_url))

    [body] = RecordingHandler.bodies
    assert list(body) == ["text"]
    assert f"run {result.run_id[:8]}" in body["text"] and "for partition yellow|2020-01-01 failed" in body["text"]
    assert "- raw_trips: yellow 2020-01 is not in the mirror folder" in body["text"]
    assert "hook-secret-token" not in body["text"]
