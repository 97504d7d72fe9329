"""A real `dagster dev` (webserver + daemon) driven the three ways a user drives backfills:
GraphQL, the `dagster job backfill` CLI, and the UI looked at in headless Chromium."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import BIN, PROJECT_DIR, TRIP_CHECK_NAMES, cli_env
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = pytest.mark.ui

ARTIFACTS = PROJECT_DIR / "artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # headless on a machine without a network beyond the loopback
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ASSETS = ["raw_trips", "cleaned_trips", "lake_trips_parquet", "warehouse_trips"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, release_url):
    """`dagster dev` with the project's deploy/dagster.yaml, a lake and DuckDB of its own, and the
    bundled release served over HTTP."""
    base = tmp_path_factory.mktemp("deployment")
    env = cli_env(base, release_url)
    shutil.copy(PROJECT_DIR / "deploy" / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    server = start_dagster_dev(env, base / "dagster-dev.log")
    try:
        yield server, env
    finally:
        stop_dagster_dev(server)


CHECKS = TRIP_CHECK_NAMES


def check_evaluations(env, run_ids) -> dict[str, bool]:
    """Check name -> passed in every one of the runs, read from the deployment's instance."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef  # opens another process's DAGSTER_HOME

    results: dict[str, bool] = {}
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        for run_id in run_ids:
            for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                results[evaluation.check_name] = results.get(evaluation.check_name, True) and evaluation.passed
    return results


def test_backfill_launched_through_graphql_runs_one_partition_per_run(deployment):
    server, env = deployment
    partitions = ["green|2020-04-01", "fhv|2019-01-01", "fhv|2020-01-01"]

    launched = server.launch_backfill(partitions, "graphql test backfill")
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    runs = server.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=3)

    assert [r["status"] for r in runs] == ["SUCCESS"] * 3
    tags = [{t["key"]: t["value"] for t in r["tags"]} for r in runs]
    assert sorted(t["dagster/partition"] for t in tags) == sorted(partitions)
    checks = check_evaluations(env, [r["runId"] for r in runs])
    assert sorted(checks) == sorted(CHECKS) and all(checks.values()), checks
    assert warehouse_rows(env["TAXI_DUCKDB_PATH"]) == {
        ("green", "2020-04"): 35_612,
        ("fhv", "2019-01"): 18,
        ("fhv", "2020-01"): 16,
    }


def test_backfill_from_the_cli_is_run_by_the_daemon(deployment):
    server, env = deployment

    done = subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "trips_job",
            "--partitions",
            "yellow|2021-01-01,green|2020-04-01",
            "--noprompt",
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [backfill_id] = re.findall(r"Launched backfill job `(\w+)`", done.stdout)
    runs = server.wait_for_runs(("dagster/backfill", backfill_id), count=2)

    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]
    checks = check_evaluations(env, [r["runId"] for r in runs])
    assert sorted(checks) == sorted(CHECKS) and all(checks.values()), checks
    rows = warehouse_rows(env["TAXI_DUCKDB_PATH"])
    assert rows[("yellow", "2021-01")] == 22_792
    assert rows[("green", "2020-04")] == 35_612  # re-run of a loaded month: replaced, not doubled


def dismiss_welcome_dialog(page) -> None:
    """A fresh instance greets with a "Join the Dagster community" dialog; skip it."""
    page.wait_for_timeout(1500)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()


def test_the_ui_shows_the_assets_and_their_materialized_partitions(deployment):
    from playwright.sync_api import sync_playwright

    server, _ = deployment
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        page.goto(f"{server.url}/asset-groups", wait_until="domcontentloaded")
        page.get_by_text(ASSETS[0], exact=True).first.wait_for(state="visible")
        dismiss_welcome_dialog(page)
        for name in ASSETS:
            page.get_by_text(name, exact=True).first.wait_for(state="visible")
        page.wait_for_timeout(1000)  # let the graph finish its layout before the picture
        page.screenshot(path=str(ARTIFACTS / "asset_graph.png"))

        page.goto(f"{server.url}/assets/warehouse_trips?view=partitions", wait_until="domcontentloaded")
        page.get_by_text("Materialized", exact=False).first.wait_for(state="visible")
        for color in ("green", "yellow", "fhv"):
            page.get_by_text(color, exact=True).first.wait_for(state="visible")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "warehouse_trips_partitions.png"), full_page=True)
        partitions_text = page.inner_text("body")

        # The latest materialization of cleaned_trips: its metadata, the preview as a table.
        page.goto(f"{server.url}/assets/cleaned_trips?view=events", wait_until="domcontentloaded")
        preview = page.get_by_text("preview", exact=True).first
        preview.wait_for(state="visible")
        preview.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "cleaned_trips_preview.png"))
        metadata_text = page.inner_text("body")
        browser.close()

    # green 2020-04, yellow 2021-01, fhv 2019-01 and fhv 2020-01, from the two backfills above
    assert "Materialized (4)" in partitions_text
    assert "missing_passenger_count_before" in metadata_text and "preview" in metadata_text
    assert (ARTIFACTS / "asset_graph.png").stat().st_size > 10_000
