"""Nothing happens at import: no module of taxi_pipeline reads the environment until Dagster loads
the definitions, and neither importing every module nor loading the definitions changes
process-wide state (the excepthook, atexit handlers, warning filters, logger filters)."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

# Values no check would let through, so a module that read and checked one at import would fail.
POISONED = {
    "TAXI_PIPELINE_TARGET": "poisoned",
    "TAXI_WAREHOUSE": "poisoned",
    "TAXI_SOURCE_URL": "poisoned://",
    "TAXI_SOURCE_RETRY_DELAY": "poisoned",
    "TAXI_LAKE_DIR": "/proc/poisoned",
    "TAXI_DUCKDB_PATH": "/proc/poisoned.duckdb",
    "TAXI_POSTGRES_URL": "poisoned",
    "TAXI_WEBHOOK_URL": "poisoned",
    "GCS_BUCKET": "poisoned",
    "GCP_PROJECT": "poisoned",
    "BQ_DATASET": "poisoned",
    "GCP_CREDENTIALS_B64": "poisoned",
}


def test_importing_every_module_reads_no_setting_and_nothing_changes_process_state(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "taxi_pipeline_tests.support.children.import_probe", str(tmp_path / "lake")],
        env={**os.environ, **POISONED},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert len(report["modules"]) > 30 and "taxi_pipeline.definitions" in report["modules"]
    assert report["environment_read"] == []
    assert report["excepthook_replaced"] is False
    assert report["warning_filters_added"] == []
    assert report["atexit_handlers_added"] == 0
    assert report["logging_added"] == {}


def test_the_settings_are_read_when_dagster_loads_the_definitions(monkeypatch):
    from taxi_pipeline.definitions import defs
    from taxi_pipeline.settings import SettingError

    monkeypatch.setenv("TAXI_SOURCE_RETRY_DELAY", "poisoned")
    with pytest.raises(SettingError, match="TAXI_SOURCE_RETRY_DELAY='poisoned'"):
        defs()

    monkeypatch.setenv("TAXI_SOURCE_RETRY_DELAY", "7")
    assert defs().resources["source"].retry_delay_seconds == 7.0
    assert isinstance(defs(), dg.Definitions)


def test_loading_the_definitions_imports_no_matplotlib():
    # Only the report asset's run and `report --chart` draw; every process that loads the code
    # location (webserver, daemon, each run) would otherwise pay about a second for it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAXI_")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, dagster as dg, taxi_pipeline.definitions as d; "
            "dg.Definitions.validate_loadable(d.defs()); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'taxi_pipeline'))))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout)
    assert "taxi_pipeline.defs.report.assets" in loaded  # the report asset itself is loaded
    assert [m for m in loaded if m.startswith("matplotlib") or m == "taxi_pipeline.defs.report.chart"] == []
