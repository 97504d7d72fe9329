"""A real `dagster dev` (webserver + daemon) driven the three ways a user drives backfills:
GraphQL, the `dagster job backfill` CLI, and the UI looked at in headless Chromium."""

import re
import subprocess
import time
from contextlib import contextmanager

import pytest

from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import BIN, PROJECT_DIR, TRIP_CHECK_NAMES, deployed_env
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
    env = deployed_env(base, release_url)
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


@contextmanager
def browser_page():
    """A page of headless Chromium, 1600x1000, waiting up to a minute for what it looks for."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            browser.close()


def picture(page, name: str, full_page: bool = False) -> str:
    """A screenshot of the page in `artifacts/ui/<name>` once it has settled (a second), and its text."""
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
    return page.inner_text("body")


def test_the_ui_shows_the_assets_and_their_materialized_partitions(deployment):
    server, _ = deployment
    with browser_page() as page:
        page.goto(f"{server.url}/asset-groups", wait_until="domcontentloaded")
        page.get_by_text(ASSETS[0], exact=True).first.wait_for(state="visible")
        dismiss_welcome_dialog(page)
        for name in ASSETS:
            page.get_by_text(name, exact=True).first.wait_for(state="visible")
        picture(page, "asset_graph.png")  # let the graph finish its layout before the picture

        page.goto(f"{server.url}/assets/warehouse_trips?view=partitions", wait_until="domcontentloaded")
        page.get_by_text("Materialized", exact=False).first.wait_for(state="visible")
        for color in ("green", "yellow", "fhv"):
            page.get_by_text(color, exact=True).first.wait_for(state="visible")
        partitions_text = picture(page, "warehouse_trips_partitions.png", full_page=True)

        # The latest materialization of cleaned_trips: its metadata, the preview as a table.
        page.goto(f"{server.url}/assets/cleaned_trips?view=events", wait_until="domcontentloaded")
        preview = page.get_by_text("preview", exact=True).first
        preview.wait_for(state="visible")
        preview.scroll_into_view_if_needed()
        metadata_text = picture(page, "cleaned_trips_preview.png")

    # green 2020-04, yellow 2021-01, fhv 2019-01 and fhv 2020-01, from the two backfills above
    assert "Materialized (4)" in partitions_text
    assert "missing_passenger_count_before" in metadata_text and "preview" in metadata_text
    assert (ARTIFACTS / "asset_graph.png").stat().st_size > 10_000


def latest_report_total(env) -> int | None:
    """`total_rows` of the latest trips_per_month materialization in the deployment's instance."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef  # opens another process's DAGSTER_HOME

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("trips_per_month"))
        return None if event is None else event.asset_materialization.metadata["total_rows"].value


def test_the_ui_reflects_the_runs_the_job_partitions_the_warehouse_table_and_the_chart(deployment):
    server, env = deployment
    # The report follows the backfills above through its automation sensor, running by default.
    deadline = time.monotonic() + 180
    while latest_report_total(env) != 58_438 and time.monotonic() < deadline:
        time.sleep(2)
    assert latest_report_total(env) == 58_438  # green 2020-04, yellow 2021-01, fhv 2019-01 and 2020-01

    with browser_page() as page:
        page.goto(f"{server.url}/overview/activity/timeline", wait_until="domcontentloaded")
        dismiss_welcome_dialog(page)
        page.get_by_text("trips_job", exact=True).first.wait_for(state="visible")
        timeline_text = picture(page, "overview_timeline.png")

        page.goto(f"{server.url}/locations/taxi_pipeline/jobs/trips_job/partitions", wait_until="domcontentloaded")
        page.get_by_role("button", name="Show per-asset status").click()
        page.get_by_text("lake_trips_parquet", exact=True).first.wait_for(state="visible")
        page.get_by_text("Backfill history", exact=True).first.wait_for(state="visible")
        page.wait_for_timeout(2000)  # the backfill table loads after the heading
        job_text = picture(page, "trips_job_partitions.png", full_page=True)

        page.goto(f"{server.url}/assets/warehouse_trips", wait_until="domcontentloaded")
        page.get_by_text("trip_distance", exact=True).first.wait_for(state="visible")
        columns_text = picture(page, "warehouse_trips_columns.png")

        page.goto(f"{server.url}/assets/warehouse_trips?view=events", wait_until="domcontentloaded")
        preview = page.get_by_text("preview", exact=True).first
        preview.wait_for(state="visible")
        preview.scroll_into_view_if_needed()
        events_text = picture(page, "warehouse_trips_preview.png")

        # Each trip asset's row: materialized, missing, failed, materializing, of all partitions.
        page.goto(f"{server.url}/assets", wait_until="domcontentloaded")
        page.get_by_text("93 partitions").first.wait_for(state="visible")
        catalog_text = picture(page, "catalog.png")

        # The chart in place on the asset's page, no click: the PNG the webserver serves by its path.
        page.goto(f"{server.url}/assets/trips_per_month", wait_until="domcontentloaded")
        chart = page.locator("img[src^='/logs/'][src$='/compute_logs/trips_per_month_chart/png']").first
        chart.wait_for(state="visible")
        page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=chart.element_handle())
        chart_text = picture(page, "trips_per_month_chart.png")
        chart_size = chart.evaluate("image => [image.naturalWidth, image.naturalHeight]")
        chart.scroll_into_view_if_needed()
        # Whole in the value column: its far corner is the image itself, not clipped or covered.
        chart_whole = chart.evaluate(
            "image => { const r = image.getBoundingClientRect();"
            " return document.elementFromPoint(r.right - 2, r.bottom - 2) === image; }"
        )

    assert "trips_job" in timeline_text and "No runs or scheduled ticks" not in timeline_text
    # The job's view: each asset's row of months, and the backfills that ran them.
    for asset in ASSETS:
        assert asset in job_text
    assert "No backfills for trips_job" not in job_text
    # warehouse_trips: its table's columns with DuckDB's types, its full name and the slice's rows.
    assert "Columns" in columns_text and "DOUBLE" in columns_text and "TIMESTAMP" in columns_text
    assert "dagster/table_name" in events_text and "warehouse.main.trips" in events_text
    assert "preview" in events_text and "slice_rows" in events_text
    assert catalog_text.count("\n4\n89\n0\n0\n93 partitions") == len(ASSETS)
    assert chart_size == [560, 380] and chart_whole
    assert "chart_png" in chart_text  # the 900x450 PNG itself, in the event
