"""Deployment files, read: what they promise beyond what taxi_pipeline_tests/deploy/test_docker_deployment.py runs (the
image and docker-compose.yaml, for real) and what no cluster here can run (the Helm values)."""

import json
import re
import shutil
from pathlib import Path

import dagster as dg
import yaml
from taxi_pipeline_deploy import pools
from taxi_pipeline_deploy.pools import asset_pools

from taxi_pipeline.definitions import defs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_single_machine_dagster_yaml_loads_as_an_instance(tmp_path, monkeypatch):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))

    with dg.DagsterInstance.get() as instance:
        concurrency = instance.get_concurrency_config()  # what the daemon's run queue reads
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        assert concurrency.run_queue_config.max_concurrent_runs == 2
        assert concurrency.pool_config.default_pool_limit == 1
        assert not instance.telemetry_enabled
        # Recovery after a crash (test_crash_recovery.py): dead run workers detected and
        # failed, their pool slots freed, their runs retried a bounded number of times.
        assert type(instance.run_launcher).__name__ == "LocalRunLauncher"
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_poll_interval_seconds == 10
        assert instance.run_monitoring_start_timeout_seconds == 60
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 10
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure


def test_every_partitioned_asset_runs_one_partition_per_run_and_loads_share_the_warehouse_pool():
    loaded = defs()
    partitioned = [a for a in loaded.assets if a.partitions_def is not None]
    assert len(partitioned) == 4
    for assets_def in partitioned:
        assert assets_def.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    loads = [a for a in loaded.assets if a.key in (dg.AssetKey("warehouse_trips"), dg.AssetKey("taxi_zones"))]
    assert [a.op.pool for a in loads] == ["warehouse", "warehouse"]


# The biggest peak RSS of a whole one-partition run measured (benchmarks/README.md: a 20 M-row
# fhvhv month through all trip assets, 823-836 MiB).
BIGGEST_MEASURED_RUN_MIB = 836


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(Mi|Gi)", quantity).groups()
    return float(number) * (1024 if unit == "Gi" else 1)


def test_k8s_values_run_each_month_in_a_pod_of_the_image_that_fits_the_biggest_measured_month():
    values = yaml.safe_load((DEPLOY / "k8s-values.yaml").read_text())

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "taxi_pipeline.definitions"]
    assert deployment["image"]["repository"].endswith("/taxi-pipeline")
    assert {"name": "TAXI_PIPELINE_TARGET", "value": "gcp"} in deployment["env"]
    resources = values["runLauncher"]["config"]["k8sRunLauncher"]["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= BIGGEST_MEASURED_RUN_MIB
    assert mebibytes(resources["limits"]["memory"]) >= 2 * BIGGEST_MEASURED_RUN_MIB
    daemon = values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] and daemon["runMonitoring"]["maxResumeRunAttempts"] == 0
    assert daemon["runRetries"] == {"enabled": True, "maxRetries": 2, "retryOnAssetOrOpFailure": False}


def test_the_container_instance_recovers_and_queues_as_the_single_machine_one_does():
    one_machine = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    containers = yaml.safe_load((DEPLOY / "docker" / "dagster.yaml").read_text())

    for section in ("run_coordinator", "concurrency", "run_monitoring", "run_retries", "telemetry"):
        assert containers[section] == one_machine[section], section
    assert containers["run_launcher"]["class"] == "DockerRunLauncher"
    assert containers["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_compose_passes_every_setting_by_name_and_publishes_only_on_the_loopback():
    services = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())["services"]

    context = json.loads(services["code"]["environment"]["DAGSTER_CONTAINER_CONTEXT"])["docker"]
    settings = services["daemon"]["environment"]  # where the run launcher reads the values
    assert set(context["env_vars"]) <= set(settings)
    assert {name for name in settings if name.startswith("TAXI_")} - set(context["env_vars"]) == set()
    # The secrets come from the shell's variables of the same names, required, with no default.
    for name in ("DAGSTER_POSTGRES_PASSWORD", "TAXI_POSTGRES_URL"):
        assert settings[name].startswith(f"${{{name}:?")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${DAGSTER_POSTGRES_PASSWORD:?")
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)


def test_dockerfile_builds_offline_on_a_base_of_choice_and_serves_the_code_location():
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in dockerfile and "FROM ${BASE_IMAGE}" in dockerfile
    assert dockerfile.count("--no-index") == 2  # the wheels deploy/build-image.sh downloaded
    assert "COPY --from=packages /opt/venv /opt/venv" in dockerfile  # the wheels stay in the build stage
    assert 'CMD ["dagster", "code-server", "start"' in dockerfile and "taxi_pipeline.definitions" in dockerfile


def test_the_pools_are_created_before_any_run_claims_one(tmp_path, monkeypatch):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))

    assert asset_pools(defs()) == {"warehouse"}
    pools.main()
    pools.main()  # a restarted daemon finds the row there and leaves it

    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.get_concurrency_keys() == {"warehouse"}
        assert instance.event_log_storage.get_concurrency_info("warehouse").slot_count == 1
