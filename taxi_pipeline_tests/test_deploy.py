"""Deployment files: what can be validated on this machine (no container engine, no cluster)."""

import shutil
from pathlib import Path

import dagster as dg
import yaml

from taxi_pipeline.definitions import defs

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


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
        # Recovery after a crash (faults/test_crash_recovery.py): dead run workers detected and
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


def test_k8s_values_name_the_run_launcher_and_the_code_location():
    values = yaml.safe_load((DEPLOY / "k8s-values.yaml").read_text())

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "taxi_pipeline.definitions"]
    assert {"name": "TAXI_PIPELINE_TARGET", "value": "gcp"} in deployment["env"]


def test_dockerfile_serves_the_code_location():
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    assert 'CMD ["dagster", "code-server", "start"' in dockerfile and "taxi_pipeline.definitions" in dockerfile
