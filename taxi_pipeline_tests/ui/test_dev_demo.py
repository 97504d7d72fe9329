"""`make dev-demo` (a real `dagster dev`: webserver and daemon, on the course's offline mirror) driven
as a user drives it, one step after another on one instance: `make demo` beside it, a GraphQL
backfill of three months of two colors (as the UI's dialog sends it) with `dagster job backfill` of
two loaded months beside it, then the UI looked at in headless Chromium. Every run succeeds; the real months land
exactly their rows as `course`, the generated ones the rows of their files as `course (generated)`."""

import gzip
import os
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from taxi_pipeline_tests.support.dagster_server import instance_of, start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import BIN, PROJECT_DIR, TRIP_CHECK_NAMES
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
from taxi_pipeline_tests.support.warehouse_rows import loaded_slices, warehouse_rows

pytestmark = pytest.mark.ui

ASSETS = ["raw_trips", "cleaned_trips", "lake_trips_parquet", "warehouse_trips"]
DEMO = ["fhv|2019-01-01", "fhv|2020-01-01", "green|2020-04-01", "yellow|2021-01-01"]
# Three months of two colors; yellow 2021-01 is a real month the demo loaded, the other five generated.
RANGE = [f"{color}|{month}" for color in ("green", "yellow") for month in ("2020-12-01", "2021-01-01", "2021-02-01")]
# Two months the demo loaded, backfilled again from the command line beside the range (yellow 2021-01
# is in both: two runs of one month, as overlapping backfills make them). Both publish passenger
# counts, so the latest cleaned_trips, whichever run ends last, shows them in the UI.
RELOADED = ["yellow|2021-01-01", "green|2020-04-01"]
RUNS = "{ runsOrError { ... on Runs { results { jobName status tags { key value } } } } }"

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


def make(*args: str) -> list[str]:
    # The venv is made by `make test` before the suite: never rebuilt from inside a test.
    return ["make", "--no-print-directory", "-C", str(PROJECT_DIR), "-o", ".venv/.installed", *args]


@pytest.fixture(scope="module")
def dev_demo(tmp_path_factory):
    """`make dev-demo` with its instance, data and mirror in tmp (the Makefile's DEMO_HOME, DEMO_DATA
    and COURSE_MIRROR), and the environment its code location runs with (the Makefile's DEMO_ENV)."""
    base = tmp_path_factory.mktemp("dev-demo")
    where = [f"DEMO_HOME={base / 'home'}", f"DEMO_DATA={base / 'data'}", f"COURSE_MIRROR={base / 'mirror'}"]
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("TAXI_", "DAGSTER_"))}
    env = clean | {
        "DAGSTER_HOME": str(base / "home"),
        "TAXI_SOURCE_URL": f"file://{base / 'mirror'}",
        "TAXI_LAKE_DIR": str(base / "data" / "lake"),
        "TAXI_DUCKDB_PATH": str(base / "data" / "warehouse.duckdb"),
    }
    server = start_dagster_dev(
        clean, base / "dev-demo.log", command=lambda port: make("dev-demo", f"UI_PORT={port}", *where)
    )
    try:
        yield server, env, where
    finally:
        stop_dagster_dev(server)


def file_rows(key: str, mirror) -> int:
    """The trips in a month's file of the mirror: its lines but the header."""
    color, month = key.split("|")
    return len(gzip.decompress(release_file(color, month[:7], mirror).read_bytes()).splitlines()) - 1


def expected_slices(env) -> dict[tuple[str, str], tuple[int, str]]:
    """(color, month) -> (rows, source) of every slice the demo and the range load."""
    mirror = Path(env["TAXI_SOURCE_URL"].removeprefix("file://"))
    real = {key: (SAMPLE_ROWS[key], "course") for key in DEMO}
    generated = {key: (file_rows(key, mirror), "course (generated)") for key in RANGE if key not in real}
    return {(key.split("|")[0], key.split("|")[1][:7]): value for key, value in (real | generated).items()}


def check_evaluations(env, run_ids) -> dict[str, bool]:
    """Check name -> passed in every one of the runs, read from the instance."""
    import dagster as dg

    results: dict[str, bool] = {}
    with instance_of(env) as instance:
        for run_id in run_ids:
            for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                results[evaluation.check_name] = results.get(evaluation.check_name, True) and evaluation.passed
    return results


def latest_report(env) -> dict | None:
    """The latest trips_per_month materialization's `slices`, {(color, month): (rows, source)},
    and its `total_rows`."""
    import dagster as dg

    with instance_of(env) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("trips_per_month"))
    if event is None:
        return None
    metadata = event.asset_materialization.metadata
    slices = {
        (r.data["color"], r.data["month"]): (r.data["rows"], r.data["source"]) for r in metadata["slices"].value.records
    }
    return {"slices": slices, "total_rows": metadata["total_rows"].value}


def wait_for_report(env, slices: dict) -> dict | None:
    """The latest report once it covers exactly `slices` (its automation sensor follows the loads)."""
    deadline = time.monotonic() + 180
    while (report := latest_report(env)) is None or report["slices"] != slices:
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    return report


def test_make_demo_beside_make_dev_demo_runs_on_the_uis_daemon_and_both_succeed(dev_demo):
    server, env, where = dev_demo
    demo = subprocess.run(make("demo", *where), env=env, capture_output=True, text=True, timeout=900)
    runs = server.graphql(RUNS)["runsOrError"]["results"]

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "the UI's daemon (make dev-demo) runs the demo's runs" in demo.stdout
    assert "of its own" not in demo.stdout
    assert demo.stdout.rstrip().splitlines()[-5:] == [
        "fhv      2019-01            18",
        "fhv      2020-01            16",
        "green    2020-04        35,612",
        "yellow   2021-01        22,792",
        "total                   58,438",
    ]
    # The UI's instance holds every run of the demo, and none failed.
    assert {run["status"] for run in runs} == {"SUCCESS"}, runs
    partitions = {
        run["jobName"]: sorted(
            t["value"]
            for r in runs
            if r["jobName"] == run["jobName"]
            for t in r["tags"]
            if t["key"] == "dagster/partition"
        )
        for run in runs
    }
    assert partitions["zones_job"] == []
    assert partitions["trips_job"] == DEMO
    assert "__ASSET_JOB" in partitions  # the report, run by the UI's automation sensor


def test_backfills_from_the_ui_and_the_cli_run_on_the_daemon_flagging_the_generated_months(dev_demo):
    """Submitted together, so that one pick-up of the backfill daemon (every 30 s) starts both."""
    server, env, _ = dev_demo

    launched = server.launch_backfill(RANGE, "offline range")
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    done = subprocess.run(
        [str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j", "trips_job", "--noprompt"]
        + ["--partitions", ",".join(RELOADED)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [backfill_id] = re.findall(r"Launched backfill job `(\w+)`", done.stdout)
    runs = server.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=len(RANGE))
    cli_runs = server.wait_for_runs(("dagster/backfill", backfill_id), count=len(RELOADED))

    assert [r["status"] for r in runs + cli_runs] == ["SUCCESS"] * (len(RANGE) + len(RELOADED))
    tags = [{t["key"]: t["value"] for t in r["tags"]} for r in runs + cli_runs]
    assert sorted(t["dagster/partition"] for t in tags) == sorted(RANGE + RELOADED)  # one partition per run
    for backfill in (runs, cli_runs):
        checks = check_evaluations(env, [r["runId"] for r in backfill])
        assert sorted(checks) == sorted(TRIP_CHECK_NAMES) and all(checks.values()), checks
    expected = expected_slices(env)
    assert expected[("yellow", "2021-01")] == (22_792, "course")
    assert all(200 <= rows <= 500 for (rows, source) in expected.values() if source == "course (generated)")
    # The CLI's months were loaded by the demo: replaced, not doubled.
    assert warehouse_rows(env["TAXI_DUCKDB_PATH"]) == {slice_: rows for slice_, (rows, _) in expected.items()}
    assert loaded_slices(env["TAXI_DUCKDB_PATH"]) == expected
    # The report follows the loads by its automation sensor, and shows each slice's source.
    assert wait_for_report(env, expected)["slices"] == expected


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


def test_the_ui_shows_the_assets_and_their_materialized_partitions(dev_demo):
    server, env, _ = dev_demo
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

    # The demo's four months and the range's six, yellow 2021-01 in both.
    assert f"Materialized ({len(expected_slices(env))})" in partitions_text
    assert "missing_passenger_count_before" in metadata_text and "preview" in metadata_text
    assert (ARTIFACTS / "asset_graph.png").stat().st_size > 10_000


def test_the_ui_reflects_the_runs_the_job_partitions_the_warehouse_table_and_the_chart(dev_demo):
    server, env, _ = dev_demo
    expected = expected_slices(env)
    report = wait_for_report(env, expected)
    assert report["total_rows"] == sum(rows for rows, _ in expected.values())

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
    loaded = len(expected)
    assert catalog_text.count(f"\n{loaded}\n{93 - loaded}\n0\n0\n93 partitions") == len(ASSETS)
    assert chart_size == [560, 380] and chart_whole
    assert "chart_png" in chart_text  # the 900x450 PNG itself, in the event
