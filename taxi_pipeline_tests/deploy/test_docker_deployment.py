"""The container deployment for real: the base and the image built here (deploy/build-image.sh),
deploy/docker-compose.yaml brought up, backfills launched through the webserver's GraphQL, and
every run in a container of its own started by the daemon's DockerRunLauncher."""

import time

import pytest

from taxi_pipeline_tests.support.docker_deployment import compose_deployment
from taxi_pipeline_tests.support.docker_engine import docker, start_images

pytestmark = pytest.mark.docker

# Real bundled months, one of each service the mirror carries, with their exact row counts.
EXPECTED_ROWS = {
    ("green", "2020-04"): 35_612,
    ("yellow", "2021-01"): 22_792,
    ("fhv", "2019-01"): 18,
}
PARTITIONS = [f"{color}|{month}-01" for color, month in EXPECTED_ROWS]
SLICE_ROWS = "SELECT color, to_char(source_month, 'YYYY-MM'), count(*) FROM trips GROUP BY 1, 2"
LAUNCHED_IN = "Launching run in a new container "


@pytest.fixture(scope="module")
def deployment(request, tmp_path_factory):
    """The deployment on images of this checkout, on a Docker engine the session may have started
    (both begun when the session's tests were collected)."""
    images = start_images(request.config).result()
    print(f"{images.project}: {images.seconds:.0f} s to build or find")
    with compose_deployment(images.project, images.postgres, tmp_path_factory.mktemp("docker") / "compose.log") as up:
        yield up


def slice_rows(deployment) -> dict[tuple[str, str], int]:
    return {(color, month): int(n) for color, month, n in deployment.psql("taxi", SLICE_ROWS)}


def tags_of(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def test_a_backfill_runs_each_partition_in_a_container_of_its_own(deployment):
    webserver = deployment.webserver
    assert webserver.graphql("{ version }")["version"] == "1.13.27"

    launched = webserver.launch_backfill(PARTITIONS, "docker backfill")
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    runs = webserver.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=3, timeout=600)

    assert [r["status"] for r in runs] == ["SUCCESS"] * 3
    assert sorted(tags_of(r)["dagster/partition"] for r in runs) == sorted(PARTITIONS)
    containers = {r["runId"]: tags_of(r)["docker/container_id"] for r in runs}
    assert len(set(containers.values())) == 3
    for run_id, container in containers.items():
        messages = [e["message"] for e in webserver.run_events(run_id)]
        assert any(f"{LAUNCHED_IN}{container} with image taxi-pipeline:" in m for m in messages)
        assert [m for m in messages if "Exception" in m or "Permission denied" in m] == []
    assert deployment.run_containers_left() == []  # each removed when its run ended
    assert slice_rows(deployment) == EXPECTED_ROWS
    # The runs are in the Postgres container's run storage, which the webserver reads.
    stored = dict(deployment.psql("dagster", "SELECT run_id, status FROM runs"))
    assert {run_id: stored[run_id] for run_id in containers} == dict.fromkeys(containers, "SUCCESS")


def test_a_killed_run_container_is_failed_by_run_monitoring_and_its_partition_retried(deployment):
    webserver = deployment.webserver
    # One run, not a backfill: Dagster 1.13.27 ends a job backfill as soon as its runs are finished,
    # and the retry daemon does not retry a run of an ended backfill; whichever daemon looks first
    # after the failure wins (docs/decisions.md, "A killed run of a backfill").
    launched = webserver.launch_run("green|2020-04-01")
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    while True:  # kill the container once its run is under way
        [run] = [r for r in webserver.runs() if r["runId"] == run_id]
        if run["status"] == "STARTED":
            break
        assert run["status"] in ("QUEUED", "NOT_STARTED", "STARTING") and time.monotonic() < deadline, run
        time.sleep(0.2)
    killed = tags_of(run)["docker/container_id"]
    docker("kill", killed)

    retries = webserver.wait_for_runs(("dagster/parent_run_id", run["runId"]), count=1, timeout=300)

    [failed] = [r for r in webserver.runs() if r["runId"] == run["runId"]]
    assert failed["status"] == "FAILURE"
    failure = [e["message"] for e in webserver.run_events(run["runId"]) if e["__typename"] == "RunFailureEvent"]
    # The daemon finds the container gone (NOT_FOUND, naming its id) or still being removed (FAILED,
    # "Container status is removing"), as its poll falls.
    assert len(failure) == 1 and "Detected run worker status" in failure[0], failure
    assert f"Marking run {run['runId']} as failed" in failure[0] and (killed in failure[0] or "removing" in failure[0])
    assert [r["status"] for r in retries] == ["SUCCESS"]
    assert tags_of(retries[0])["dagster/partition"] == "green|2020-04-01"
    assert tags_of(retries[0])["docker/container_id"] != killed
    assert deployment.run_containers_left() == []
    assert slice_rows(deployment)[("green", "2020-04")] == 35_612  # the month replaced, not loaded twice
