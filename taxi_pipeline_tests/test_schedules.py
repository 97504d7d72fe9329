from datetime import datetime, timezone

import dagster as dg

from taxi_pipeline.schedules import MONTHLY_CRON, monthly_trips_schedule


def run_requests_at(when: datetime) -> list[dg.RunRequest]:
    return list(monthly_trips_schedule(dg.build_schedule_context(scheduled_execution_time=when)))


def test_runs_at_five_utc_on_the_first():
    assert MONTHLY_CRON == "0 5 1 * *"
    assert monthly_trips_schedule.cron_schedule == "0 5 1 * *"
    assert monthly_trips_schedule.execution_timezone == "UTC"


def test_requests_the_month_that_just_closed_for_every_color():
    requests = run_requests_at(datetime(2021, 2, 1, 5, tzinfo=timezone.utc))

    assert [r.partition_key for r in requests] == ["yellow|2021-01-01", "green|2021-01-01", "fhv|2021-01-01"]
    assert [r.run_key for r in requests] == [r.partition_key for r in requests]


def test_january_tick_requests_december_of_the_year_before():
    requests = run_requests_at(datetime(2021, 1, 1, 5, tzinfo=timezone.utc))

    assert {r.partition_key for r in requests} == {"yellow|2020-12-01", "green|2020-12-01", "fhv|2020-12-01"}


def test_definitions_load_without_deprecation_warnings():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "import taxi_pipeline.definitions"],
        capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
